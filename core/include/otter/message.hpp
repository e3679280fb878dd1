// Messages: any C++ value type that msgpack can encode, declared once with OTTER_MESSAGE.
//
//   namespace shop {
//   struct ping { int seq; MSGPACK_DEFINE(seq); };
//   OTTER_MESSAGE(ping);   // at the namespace scope of `ping`: its wire name is "shop::ping"
//   }
//
// The declaration gives the type a wire name, so that a message can cross nodes and be
// dispatched by name there. The wire name is the type's namespace-qualified name (anonymous
// namespaces left out, the same with g++ and clang), so shop::get and admin::get never collide
// on the wire. OTTER_MESSAGE_AS(T, "name") chooses the name instead (for a peer in another
// language, or to keep a name when the type moves). Locally a message is the C++ value itself,
// moved into the receiver's mailbox: nothing is serialised.
//
// A request may declare the type of its reply, which makes both ends checked at compile time:
//   struct get { using reply_type = value; MSGPACK_DEFINE(); };  OTTER_MESSAGE(get);
//   auto v = co_await otter::call(to, get{});     // result<value>: no need to name it
//   otter::call<other>(to, get{});                // does not compile: get's reply is `value`
// and a server's handle_call(const get&, from&) must return value (or task<value>, or
// otter::noreply and reply later).
//
// Built-in messages the runtime delivers to handle_info: `exit_msg` (a trapped exit signal)
// and `down` (a monitor fired).
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <msgpack.hpp>

#include "otter/exit_reason.hpp"
#include "otter/pid.hpp"

namespace otter::detail {

// The namespace-qualified name of T as the compiler spells it, anonymous namespaces removed.
template <class T>
constexpr std::string_view raw_type_name() noexcept {
#if defined(__clang__)
  constexpr std::string_view f = __PRETTY_FUNCTION__;  // "... raw_type_name() [T = a::get]"
  constexpr std::string_view open = "[T = ";
  constexpr auto begin = f.find(open) + open.size();
  return f.substr(begin, f.rfind(']') - begin);
#elif defined(__GNUC__)
  constexpr std::string_view f = __PRETTY_FUNCTION__;  // "... [with T = a::get; std::...]"
  constexpr std::string_view open = "[with T = ";
  constexpr auto begin = f.find(open) + open.size();
  constexpr auto end = f.find_first_of(";]", begin);
  return f.substr(begin, end - begin);
#else
#error "otter needs g++ or clang to name message types; use OTTER_MESSAGE_AS"
#endif
}

template <std::size_t N>
struct fixed_name {
  std::array<char, N + 1> text{};
  std::size_t size = 0;
};

template <std::size_t N>
constexpr fixed_name<N> without_anonymous_namespaces(std::string_view raw) noexcept {
  constexpr std::string_view gcc = "{anonymous}::";
  constexpr std::string_view clang = "(anonymous namespace)::";
  fixed_name<N> out;
  for (std::size_t i = 0; i < raw.size();) {
    if (raw.substr(i, gcc.size()) == gcc) {
      i += gcc.size();
    } else if (raw.substr(i, clang.size()) == clang) {
      i += clang.size();
    } else {
      out.text[out.size++] = raw[i++];
    }
  }
  return out;
}

template <class T>
struct qualified_name {
  static constexpr std::string_view raw = raw_type_name<T>();
  static constexpr fixed_name<raw.size()> fixed = without_anonymous_namespaces<raw.size()>(raw);
  static constexpr std::string_view value{fixed.text.data(), fixed.size};
};

template <class T>
constexpr std::string_view type_name() noexcept {
  return qualified_name<T>::value;
}

}  // namespace otter::detail

// Gives T its wire name: its namespace-qualified name. At the namespace scope of T.
#define OTTER_MESSAGE(T)                                                               \
  [[maybe_unused]] inline constexpr std::string_view otter_message_name(T*) noexcept { \
    return ::otter::detail::type_name<T>();                                            \
  }                                                                                    \
  static_assert(true)

// Gives T the wire name `wire_name` (a string literal). At the namespace scope of T.
#define OTTER_MESSAGE_AS(T, wire_name)                                                 \
  [[maybe_unused]] inline constexpr std::string_view otter_message_name(T*) noexcept { \
    return wire_name;                                                                  \
  }                                                                                    \
  static_assert(true)

namespace otter {

// The wire name of a message type: from OTTER_MESSAGE (found by argument-dependent lookup)
// or a specialisation of message_traits for types the user cannot annotate.
template <class T>
concept declared_message = requires {
  otter_message_name(static_cast<T*>(nullptr));
};

template <class T>
struct message_traits {
  static_assert(declared_message<T>,
                "this type is used as a message but has no wire name: add OTTER_MESSAGE(T) (or "
                "OTTER_MESSAGE_AS) at the namespace scope of the type named in this error");
  static constexpr std::string_view name = [] {
    if constexpr (declared_message<T>) {
      return otter_message_name(static_cast<T*>(nullptr));
    } else {
      return std::string_view{};
    }
  }();
};
template <>
struct message_traits<std::string> {
  static constexpr std::string_view name = "string";
};
template <>
struct message_traits<std::int64_t> {
  static constexpr std::string_view name = "int";
};
template <>
struct message_traits<bool> {
  static constexpr std::string_view name = "bool";
};
template <>
struct message_traits<double> {
  static constexpr std::string_view name = "float";
};

template <class T>
concept message = std::is_object_v<T> && std::is_move_constructible_v<T> && requires {
  message_traits<T>::name;
};

// A request type that names the type of its reply (see above).
template <class T>
concept declares_reply = requires {
  typename T::reply_type;
};

// A type's run-time descriptor: one static instance per type, compared by address.
struct message_type {
  std::string_view name;
  // Appends the msgpack form of the value at `value` (a T) to `out`.
  void (*pack)(const void* value, msgpack::sbuffer& out);
};

namespace detail {
template <class T>
void pack_value(const void* value, msgpack::sbuffer& out) {
  msgpack::pack(out, *static_cast<const T*>(value));
}
}  // namespace detail

template <message T>
const message_type& type_of() noexcept {
  static const message_type t{message_traits<T>::name, &detail::pack_value<T>};
  return t;
}

using monitor_ref = std::uint64_t;

// A trapped exit signal: `from` exited (or called otter::exit) with `reason`.
struct exit_msg {
  pid from;
  exit_reason reason;
  MSGPACK_DEFINE(from, reason);
};
OTTER_MESSAGE_AS(exit_msg, "exit_msg");

// A monitor fired: the process `who` monitored under `ref` exited with `reason`
// (`noproc` if it did not exist, `noconnection` if its node went away).
struct down {
  monitor_ref ref = 0;
  pid who;
  exit_reason reason;
  MSGPACK_DEFINE(ref, who, reason);
};
OTTER_MESSAGE_AS(down, "down");

// The empty reply of calls that only acknowledge.
struct ok_reply {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(ok_reply, "ok_reply");

}  // namespace otter
