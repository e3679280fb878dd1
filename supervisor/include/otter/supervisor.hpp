// supervisor: OTP's supervisor behaviour. A supervisor is a process that starts children from
// child specs, links to them, traps exits, and restarts them when they exit.
//
//   auto sup = otter::supervisor::start_link(
//       {.strategy = otter::restart_strategy::one_for_all},
//       {otter::worker<cache>("cache"), otter::worker<api>("api", port)});
//
// Guarantees (OTP's; every deliberate difference is in docs/SUPERVISION.md):
// - Children start in order, each start returning before the next begins. If one fails, the
//   children already started are sent `shutdown` (`kill` when brutal_kill, and `kill` after
//   their timeout) in reverse order and the start fails with the child's error.
// - Strategies: one_for_one restarts the child that exited; one_for_all terminates the others
//   (reverse order) and restarts all in order; rest_for_one does so for the children started
//   after it. A temporary child terminated by such a restart is not restarted.
// - Restart types (child_spec.hpp) decide whether an exited child is restarted. More than
//   max_restarts restarts within max_seconds: the supervisor terminates all children and
//   exits `shutdown`; its own supervisor then applies its strategy.
// - A restart that fails is retried through a message to itself, so the supervisor keeps
//   answering (which_children shows the child `restarting`) and can be stopped (OTP-9549).
// - Stopping a child: `shutdown` exit signal, then `kill` after its shutdown timeout (or
//   `kill` at once for brutal_kill). Stopping a supervisor (supervisor::stop, its parent's
//   `shutdown`, or too many restarts) stops its children this way in reverse start order,
//   one at a time. Nothing waits on a worker thread: waits are messages and timers.
// - Operations are serialised: a call that arrives while children are being stopped is
//   handled after that, as in OTP where the supervisor is busy in a receive.
//
// Every operation is a call with a plain message (below), so it works on a supervisor on
// another node too, except start_child, whose start function cannot travel. Each is an
// awaitable, as otter::call is: `co_await supervisor::which_children(sup)` inside a handler,
// `me.await(supervisor::which_children(sup))` from a thread owning an otter::scoped_process.
// Their default timeout is infinity, as OTP's: stopping a child may take its whole shutdown
// timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "otter/call.hpp"
#include "otter/child_spec.hpp"
#include "otter/message.hpp"
#include "otter/runtime.hpp"
#include "otter/supervisor_defaults.hpp"

namespace otter {

enum class restart_strategy : std::uint8_t { one_for_one, one_for_all, rest_for_one };

}  // namespace otter

MSGPACK_ADD_ENUM(otter::restart_strategy);

namespace otter {

std::string_view to_string(restart_strategy s) noexcept;

struct supervisor_flags {
  restart_strategy strategy = restart_strategy::one_for_one;
  int max_restarts = supervisor_defaults::max_restarts;
  std::chrono::seconds max_seconds = supervisor_defaults::max_seconds;
};

// ---- The protocol: requests and replies of supervisors (and dynamic supervisors) ----
struct start_child_request {
  child_spec spec;
  MSGPACK_DEFINE(spec);
};
OTTER_MESSAGE_AS(start_child_request, "start_child_request");
struct child_started {
  pid child;  // nil when the start function returned `ignore`
  MSGPACK_DEFINE(child);
};
OTTER_MESSAGE_AS(child_started, "child_started");
struct terminate_child_request {
  std::string id;
  MSGPACK_DEFINE(id);
};
OTTER_MESSAGE_AS(terminate_child_request, "terminate_child_request");
// A dynamic supervisor's children are named by Pid.
struct terminate_child_pid_request {
  pid child;
  MSGPACK_DEFINE(child);
};
OTTER_MESSAGE_AS(terminate_child_pid_request, "terminate_child_pid_request");
struct restart_child_request {
  std::string id;
  MSGPACK_DEFINE(id);
};
OTTER_MESSAGE_AS(restart_child_request, "restart_child_request");
struct delete_child_request {
  std::string id;
  MSGPACK_DEFINE(id);
};
OTTER_MESSAGE_AS(delete_child_request, "delete_child_request");
struct which_children_request {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(which_children_request, "which_children_request");
struct which_children_reply {
  std::vector<child_info> children;  // in start order
  MSGPACK_DEFINE(children);
};
OTTER_MESSAGE_AS(which_children_reply, "which_children_reply");
struct count_children_request {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(count_children_request, "count_children_request");
// Stops the children (reverse order, each within its shutdown policy), replies, then exits
// with `reason`.
struct stop_supervisor_request {
  exit_reason reason;
  MSGPACK_DEFINE(reason);
};
OTTER_MESSAGE_AS(stop_supervisor_request, "stop_supervisor_request");

namespace detail {

inline pid unwrap_reply(child_started&& r) noexcept {
  return r.child;
}
inline std::vector<child_info> unwrap_reply(which_children_reply&& r) noexcept {
  return std::move(r.children);
}
inline child_counts unwrap_reply(child_counts&& r) noexcept {
  return r;
}
inline void unwrap_reply(ok_reply&&) noexcept {}

template <class Reply>
using unwrapped_t = decltype(unwrap_reply(std::declval<Reply>()));

// otter::call with the reply unwrapped: co_await gives result<pid>, result<void>, ...
template <class Reply>
class [[nodiscard]] supervisor_call {
 public:
  using value_type = unwrapped_t<Reply>;
  supervisor_call(call_awaiter<Reply> inner) : inner_(std::move(inner)) {}  // NOLINT

  bool await_ready() { return inner_.await_ready(); }
  bool await_suspend(std::coroutine_handle<> h) { return inner_.await_suspend(h); }
  result<value_type> await_resume() { return unwrap(inner_.await_resume()); }

  static result<value_type> unwrap(result<Reply> r) {
    if (!r) return r.err();
    if constexpr (std::is_void_v<value_type>) {
      return ok();
    } else {
      return unwrap_reply(std::move(*r));
    }
  }

 private:
  call_awaiter<Reply> inner_;
};

template <class Reply, class Request>
supervisor_call<Reply> sup_call(const dest& sup, Request&& req, std::chrono::milliseconds timeout) {
  return supervisor_call<Reply>(otter::call<Reply>(sup, std::forward<Request>(req), timeout));
}

}  // namespace detail

namespace supervisor {

using std::chrono::milliseconds;
inline constexpr milliseconds default_timeout = supervisor_defaults::call_timeout;

// Starts a supervisor linked to the calling process (which must be a process). Returns once
// every child has started, or the error of the first that failed. `name`: registered locally.
result<pid> start_link(supervisor_flags flags, std::vector<child_spec> children,
                       std::string name = {});
// Starts an unlinked supervisor from any thread.
result<pid> start(runtime& rt, supervisor_flags flags, std::vector<child_spec> children,
                  std::string name = {});
// A child spec for a nested supervisor (type supervisor, shutdown infinity).
child_spec child(std::string id, supervisor_flags flags, std::vector<child_spec> children);

// Adds and starts a child (errors: already_started, already_present, the start's error).
inline detail::supervisor_call<child_started> start_child(const dest& sup, child_spec spec,
                                                          milliseconds timeout = default_timeout) {
  return detail::sup_call<child_started>(sup, start_child_request{std::move(spec)}, timeout);
}

// Stops a running child; its spec stays (a temporary child's is forgotten). not_found.
inline detail::supervisor_call<ok_reply> terminate_child(const dest& sup, std::string id,
                                                         milliseconds timeout = default_timeout) {
  return detail::sup_call<ok_reply>(sup, terminate_child_request{std::move(id)}, timeout);
}

// Starts a child whose spec is kept but which is not running (errors: running, restarting,
// not_found, the start's error). Returns its new Pid.
inline detail::supervisor_call<child_started> restart_child(
    const dest& sup, std::string id, milliseconds timeout = default_timeout) {
  return detail::sup_call<child_started>(sup, restart_child_request{std::move(id)}, timeout);
}

// Forgets the spec of a child that is not running (errors: running, restarting, not_found).
inline detail::supervisor_call<ok_reply> delete_child(const dest& sup, std::string id,
                                                      milliseconds timeout = default_timeout) {
  return detail::sup_call<ok_reply>(sup, delete_child_request{std::move(id)}, timeout);
}

// Every child in start order (also for dynamic supervisors, whose ids are empty).
inline detail::supervisor_call<which_children_reply> which_children(
    const dest& sup, milliseconds timeout = default_timeout) {
  return detail::sup_call<which_children_reply>(sup, which_children_request{}, timeout);
}

inline detail::supervisor_call<child_counts> count_children(
    const dest& sup, milliseconds timeout = default_timeout) {
  return detail::sup_call<child_counts>(sup, count_children_request{}, timeout);
}

// Stops the supervisor's children in reverse order (each within its shutdown policy), then
// the supervisor with `reason`; returns when the children are gone. (otter::stop on a
// supervisor cannot wait for them: see docs/SUPERVISION.md.)
inline detail::supervisor_call<ok_reply> stop(const dest& sup,
                                              exit_reason reason = exit_reason::normal(),
                                              milliseconds timeout = default_timeout) {
  return detail::sup_call<ok_reply>(sup, stop_supervisor_request{std::move(reason)}, timeout);
}

}  // namespace supervisor

// The root supervisor of `rt` (one_for_one, default intensity, registered locally as
// supervisor_defaults::root_name): started on first use, from any thread; concurrent first
// uses get the same one. Applications attach their subtrees with supervisor::start_child.
result<pid> root_supervisor(runtime& rt);

// Stops the whole tree under `rt`'s root supervisor in order (each supervisor stops its
// children in reverse start order) and returns when the root has exited. Blocks: call it from
// a thread that is not running a handler (main, a signal-handling thread). After `timeout`
// the root is killed (its children get `killed` through their links) and the result is
// `timeout`. No root yet: nothing to do. A later root_supervisor() starts a new root.
result<void> shutdown_root_supervisor(runtime& rt,
                                      std::chrono::milliseconds timeout = std::chrono::minutes(1));

}  // namespace otter
