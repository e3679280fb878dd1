// child_spec: how a supervisor starts, restarts and stops one child (OTP's child
// specification), and what which_children / count_children report about children.
//
//   otter::child_spec s = otter::worker<counter>("counter", 0);   // a gen_server child
//   s.restart = otter::restart_type::transient;
//   s.shutdown = otter::shutdown_policy::timeout(2s);
//
// The start function runs inside the supervisor's process (its handler or its init), so
// `otter::start_link<T>(...)` links the child to the supervisor, as OTP requires. It returns
// the child's Pid, an error (the start failed), or the nil Pid for OTP's `ignore` (nothing was
// started; a static supervisor keeps the spec, a dynamic one forgets it). A local child that
// is not linked to its supervisor gets linked by it.
//
// Only the data fields cross nodes (MSGPACK_DEFINE): the start function is a C++ closure.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "otter/api.hpp"
#include "otter/error.hpp"
#include "otter/message.hpp"
#include "otter/pid.hpp"
#include "otter/supervisor_defaults.hpp"

namespace otter {

// When a child that exited is restarted (OTP's restart types).
enum class restart_type : std::uint8_t {
  permanent,  // always
  transient,  // unless it exited normal, shutdown or shutdown:<detail>
  temporary,  // never; its spec is forgotten when it exits
};

enum class child_type : std::uint8_t { worker, supervisor };

// What which_children says about a child.
enum class child_status : std::uint8_t {
  running,     // has a Pid
  restarting,  // a restart failed; the supervisor retries (the Pid is nil)
  undefined,   // not running: terminated, exited without restart, or started with `ignore`
};

}  // namespace otter

MSGPACK_ADD_ENUM(otter::restart_type);
MSGPACK_ADD_ENUM(otter::child_type);
MSGPACK_ADD_ENUM(otter::child_status);

namespace otter {

std::string_view to_string(restart_type t) noexcept;
std::string_view to_string(child_type t) noexcept;
std::string_view to_string(child_status s) noexcept;

// How a supervisor stops a child: OTP's brutal_kill, a timeout, or infinity.
class shutdown_policy {
 public:
  // `kill` at once (untrappable).
  static shutdown_policy brutal_kill() noexcept { return shutdown_policy(-1); }
  // `shutdown`, then `kill` if the child has not exited after `t`.
  static shutdown_policy timeout(std::chrono::milliseconds t) noexcept {
    return shutdown_policy(t.count() < 0 ? 0 : t.count());
  }
  // `shutdown`, then wait as long as it takes (OTP's default for supervisor children).
  static shutdown_policy infinity() noexcept { return shutdown_policy(-2); }

  shutdown_policy() = default;  // infinity
  bool is_brutal_kill() const noexcept { return ms_ == -1; }
  bool is_infinity() const noexcept { return ms_ == -2; }
  // The timeout (meaningful when neither brutal_kill nor infinity).
  std::chrono::milliseconds time() const noexcept { return std::chrono::milliseconds(ms_); }
  std::string to_string() const;

  friend bool operator==(const shutdown_policy&, const shutdown_policy&) = default;
  MSGPACK_DEFINE(ms_);

 private:
  explicit shutdown_policy(std::int64_t ms) noexcept : ms_(ms) {}
  std::int64_t ms_ = -2;  // >= 0: timeout in ms; -1: brutal_kill; -2: infinity
};

struct child_spec {
  std::string id;  // unique among a static supervisor's children; ignored by a dynamic one
  std::function<result<pid>()> start;
  restart_type restart = restart_type::permanent;
  // Unset: supervisor_defaults::worker_shutdown for a worker, infinity for a supervisor.
  std::optional<shutdown_policy> shutdown;
  child_type type = child_type::worker;
  // Registered to the child on every (re)start: in the global registry when the runtime runs
  // one (otter::start_node), else node-locally. See docs/SUPERVISION.md for how a refused
  // name ends the child.
  std::string global_name;

  shutdown_policy effective_shutdown() const noexcept {
    if (shutdown) return *shutdown;
    return type == child_type::supervisor
               ? shutdown_policy::infinity()
               : shutdown_policy::timeout(supervisor_defaults::worker_shutdown);
  }

  MSGPACK_DEFINE(id, restart, shutdown, type, global_name);
};

// A worker child running gen_server S, constructed from copies of `args` on every start.
template <class S, class... Args>
child_spec worker(std::string id, Args... args) {
  child_spec s;
  s.id = std::move(id);
  s.start = [... args = std::move(args)]() -> result<pid> { return otter::start_link<S>(args...); };
  return s;
}

// One row of which_children. The Pid is nil unless the child is running.
struct child_info {
  std::string id;
  pid child;
  child_type type = child_type::worker;
  restart_type restart = restart_type::permanent;
  child_status status = child_status::undefined;
  MSGPACK_DEFINE(id, child, type, restart, status);
};
OTTER_MESSAGE_AS(child_info, "child_info");

// count_children: `specs` children in all, `active` of them running, and by type.
struct child_counts {
  std::int64_t specs = 0;
  std::int64_t active = 0;
  std::int64_t supervisors = 0;
  std::int64_t workers = 0;
  MSGPACK_DEFINE(specs, active, supervisors, workers);
};
OTTER_MESSAGE_AS(child_counts, "child_counts");

}  // namespace otter
