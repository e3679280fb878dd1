// Messages: any C++ value type that msgpack can encode, declared once with OTTER_MESSAGE.
//
//   struct ping { int seq; MSGPACK_DEFINE(seq); };
//   OTTER_MESSAGE(ping);   // at the namespace scope of `ping`
//
// The declaration gives the type a wire name ("ping"), so that a message can cross nodes and
// be dispatched by name there. Locally a message is the C++ value itself, moved into the
// receiver's mailbox: nothing is serialised.
//
// Built-in messages the runtime delivers to handle_info: `exit_msg` (a trapped exit signal)
// and `down` (a monitor fired).
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <msgpack.hpp>

#include "otter/exit_reason.hpp"
#include "otter/pid.hpp"

#define OTTER_MESSAGE(T)                                                               \
  [[maybe_unused]] inline constexpr std::string_view otter_message_name(T*) noexcept { \
    return #T;                                                                         \
  }                                                                                    \
  static_assert(true)

namespace otter {

// The wire name of a message type: from OTTER_MESSAGE (found by argument-dependent lookup)
// or a specialisation of message_traits for types the user cannot annotate.
template <class T>
struct message_traits {
  static constexpr std::string_view name = otter_message_name(static_cast<T*>(nullptr));
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
OTTER_MESSAGE(exit_msg);

// A monitor fired: the process `who` monitored under `ref` exited with `reason`
// (`noproc` if it did not exist, `noconnection` if its node went away).
struct down {
  monitor_ref ref = 0;
  pid who;
  exit_reason reason;
  MSGPACK_DEFINE(ref, who, reason);
};
OTTER_MESSAGE(down);

// The empty reply of calls that only acknowledge.
struct ok_reply {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(ok_reply);

}  // namespace otter
