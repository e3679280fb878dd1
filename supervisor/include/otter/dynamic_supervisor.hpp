// dynamic_supervisor: Elixir's DynamicSupervisor (OTP's simple_one_for_one): starts with no
// children; children are added with start_child and named by Pid. Each child has its own
// spec (its id is ignored); the strategy is one_for_one.
//
//   auto sup = otter::dynamic_supervisor::start_link();
//   auto conn = co_await otter::dynamic_supervisor::start_child(*sup, otter::worker<conn>("", s));
//
// Guarantees:
// - Children are found by Pid in a hash map: an exit, a restart and terminate_child cost the
//   same with 10 children or 100,000.
// - A child that is not restarted (temporary; transient exiting normal or shutdown) or that
//   terminate_child stopped is forgotten.
// - Stopping the supervisor stops every child at once, not in order (as OTP and Elixir do for
//   dynamic children): each is sent `shutdown` (or `kill`), is killed if still alive after its
//   timeout, and the supervisor exits when all have.
// - Restart intensity and retried restarts as for supervisor (supervisor.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "otter/child_spec.hpp"
#include "otter/supervisor.hpp"

namespace otter {

struct dynamic_supervisor_options {
  int max_restarts = supervisor_defaults::max_restarts;
  std::chrono::seconds max_seconds = supervisor_defaults::max_seconds;
  std::size_t max_children = 0;  // 0: unlimited; more fail with max_children
};

namespace dynamic_supervisor {

using std::chrono::milliseconds;
inline constexpr milliseconds default_timeout = supervisor_defaults::call_timeout;

// Linked to the calling process (which must be a process); `name` is registered locally.
result<pid> start_link(dynamic_supervisor_options options = {}, std::string name = {});
// Unlinked, from any thread.
result<pid> start(runtime& rt, dynamic_supervisor_options options = {}, std::string name = {});
// A child spec for a nested dynamic supervisor (type supervisor, shutdown infinity).
child_spec child(std::string id, dynamic_supervisor_options options = {});

// Starts a child from `spec` (errors: max_children, the start's error); nil Pid for `ignore`.
inline detail::supervisor_call<child_started> start_child(const dest& sup, child_spec spec,
                                                          milliseconds timeout = default_timeout) {
  return detail::sup_call<child_started>(sup, start_child_request{std::move(spec)}, timeout);
}

// Stops the child `child` and forgets it (error: not_found).
inline detail::supervisor_call<ok_reply> terminate_child(const dest& sup, const pid& child,
                                                         milliseconds timeout = default_timeout) {
  return detail::sup_call<ok_reply>(sup, terminate_child_pid_request{child}, timeout);
}

using supervisor::count_children;
using supervisor::stop;
using supervisor::which_children;

}  // namespace dynamic_supervisor

}  // namespace otter
