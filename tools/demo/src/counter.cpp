// counter@NODE (see otter/demo.hpp).
#include <spdlog/spdlog.h>

#include "otter/demo.hpp"
#include "request.hpp"

namespace otter::demo {

namespace {
constexpr std::string_view counter_usage = R"(["incr"], ["incr", n] or ["get"])";
}

task<void> counter::handle_continue(const join_counters&) {
  // Without the pg scope (a node started without otter::start_node) it stays out of the group.
  if (auto r = co_await pg::join(demo_defaults::counters_group, self()); !r) {
    spdlog::debug("{}: not in group '{}': {}", name_, demo_defaults::counters_group,
                  r.err().message);
  }
}

noreply_t counter::handle_call(const dynamic& request, from& caller) {
  detail::answer(caller, handle(request));
  return noreply;
}

void counter::handle_cast(const dynamic& request) {
  auto r = detail::split(request);
  if (!r || r->command != "incr") {
    if (std::uint64_t more = 0; dropped_log_.allow(more)) {
      spdlog::warn("{}: dropped a cast it cannot apply (casts take {}): {}{}", name_,
                   R"(["incr"] or ["incr", n])", detail::to_text(request.get()),
                   detail::more_since(more));
    }
    return;
  }
  if (auto done = handle(request); !done) {
    if (std::uint64_t more = 0; dropped_log_.allow(more)) {
      spdlog::warn("{}: dropped a cast: {}{}", name_, done.err().message, detail::more_since(more));
    }
  }
}

result<dynamic> counter::handle(const dynamic& request) {
  auto r = detail::split(request);
  if (!r) return detail::bad_request(name_, counter_usage, request);
  if (r->command == "get" && r->arg_count == 0) return dynamic::of(value_);
  if (r->command == "incr" && r->arg_count <= 1) {
    std::int64_t by = 1;
    if (r->arg_count == 1) {
      const msgpack::object& n = r->args[0];
      if (n.type != msgpack::type::POSITIVE_INTEGER && n.type != msgpack::type::NEGATIVE_INTEGER) {
        return detail::bad_request(name_, counter_usage, request);
      }
      try {
        by = n.as<std::int64_t>();
      } catch (const msgpack::type_error&) {  // a positive integer above INT64_MAX
        return error{errc::badarg, name_ + ": increment out of range: " + detail::to_text(n)};
      }
    }
    std::int64_t next = 0;
    if (__builtin_add_overflow(value_, by, &next)) {
      return error{errc::badarg, name_ + ": incrementing " + std::to_string(value_) + " by " +
                                     std::to_string(by) + " would overflow"};
    }
    value_ = next;
    return dynamic::of(value_);
  }
  return detail::bad_request(name_, counter_usage, request);
}

}  // namespace otter::demo
