// The one way otter returns expected failures: `result<T>` holds a value or an `error`
// (an `errc` code, a message naming the thing that failed, and for `exited` the target's exit
// reason). Exceptions are kept for programming errors and for user code: a handler that
// throws ends its process, as a crash does in Erlang.
#pragma once

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "otter/exit_reason.hpp"
#include "otter/pid.hpp"

namespace otter {

enum class errc : std::uint8_t {
  timeout = 1,         // no reply within the call's timeout
  noproc,              // the target does not exist (never did, or has exited)
  nodedown,            // the target's node went down or is unreachable
  exited,              // the target exited while handling the call; see error::reason
  calling_self,        // a process called itself
  badarg,              // the request or reply did not have the expected type
  already_registered,  // the name is taken; see error::holder
  not_registered,      // no such name
  init_failed,         // a server's init returned an error or threw
  no_process_context,  // an operation that needs a calling process was used outside one
  shutting_down,       // the runtime is stopping
  mailbox_full,        // the target's mailbox limit was reached
  // Supervisor operations (OTP's supervisor error atoms):
  not_found,        // no child with that id (or Pid); no such request (request.hpp), pg member
  already_started,  // a child with that id is running; the message names its Pid
  already_present,  // a child spec with that id exists but is not running
  running,          // the child must be terminated first (restart_child, delete_child)
  restarting,       // the child is between a failed restart and the next attempt
  max_children,     // the dynamic supervisor has as many children as it may
};
// The highest code (decoders accept 1..errc_last).
inline constexpr errc errc_last = errc::max_children;

std::string_view to_string(errc code) noexcept;

struct error {
  error() = default;
  error(errc c, std::string msg, exit_reason r = exit_reason::normal())
      : code(c), message(std::move(msg)), reason(std::move(r)) {}

  errc code{};
  std::string message;
  exit_reason reason;  // meaningful for `exited` and `init_failed`
  pid holder;          // meaningful for `already_registered`: who holds the name

  friend std::ostream& operator<<(std::ostream& os, const error& e) {
    return os << to_string(e.code) << ": " << e.message;
  }
};

namespace detail {
struct ok_tag {};
}  // namespace detail

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  result(error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const error& err() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  errc code() const noexcept { return ok() ? errc{} : std::get<1>(v_).code; }

 private:
  std::variant<T, error> v_;
};

// Not [[nodiscard]]: sends are fire-and-forget, as in Erlang; the result is for those who care.
template <>
class result<void> {
 public:
  result() = default;
  result(error e) : e_(std::move(e)) {}  // NOLINT

  bool ok() const noexcept { return !e_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const error& err() const& {
    assert(!ok());
    return *e_;
  }
  errc code() const noexcept { return e_ ? e_->code : errc{}; }

 private:
  std::optional<error> e_;
};

inline result<void> ok() {
  return {};
}

}  // namespace otter
