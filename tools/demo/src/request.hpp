// Parsing the demo servers' untyped requests: a msgpack array whose first element is a command
// string (["incr", 5]). Internal to otter_demo.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

#include <otter/otter.hpp>

namespace otter::demo::detail {

// A request split into its command and arguments; it points into the dynamic it came from.
struct request {
  std::string_view command;
  const msgpack::object* args = nullptr;  // the elements after the command
  std::size_t arg_count = 0;
};

inline std::string to_text(const msgpack::object& o) {
  std::ostringstream out;
  out << o;
  return out.str();
}

// The request, or nullopt when it is not an array starting with a string.
inline std::optional<request> split(const dynamic& d) {
  const msgpack::object& o = d.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size == 0) return std::nullopt;
  const msgpack::object& head = o.via.array.ptr[0];
  if (head.type != msgpack::type::STR) return std::nullopt;
  return request{std::string_view(head.via.str.ptr, head.via.str.size), o.via.array.ptr + 1,
                 o.via.array.size - 1};
}

inline std::optional<std::string> string_of(const msgpack::object& o) {
  if (o.type != msgpack::type::STR) return std::nullopt;
  return std::string(o.via.str.ptr, o.via.str.size);
}

// badarg naming the server, what it expects and what it got.
inline error bad_request(const std::string& server, std::string_view expected, const dynamic& got) {
  return error{errc::badarg,
               server + " expects " + std::string(expected) + ", got " + to_text(got.get())};
}

// Answers the call with the value or the error (a server's way of failing one call without
// crashing).
inline void answer(from& caller, result<dynamic> r) {
  if (r) {
    caller.reply(std::move(*r));
  } else {
    caller.reply_error(r.err());
  }
}

// For a rate-limited log line (otter::detail::log_limiter): the lines not written since.
inline std::string more_since(std::uint64_t more) {
  return more == 0 ? std::string()
                   : " (and " + std::to_string(more) + " more since the last such line)";
}

}  // namespace otter::demo::detail
