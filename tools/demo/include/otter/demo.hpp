// The demo servers `otter-node --demo` runs: ordinary GenServers written with the public API,
// meant to be read as examples. Each takes untyped requests (otter::dynamic), so a JSON tool
// (`otterctl call counter@n1 '["incr"]'`) or the Python client in docs/examples can use them.
//
//   otter::scoped_process me(rt);
//   auto sup = otter::demo::start(me, "n1");   // under rt's root supervisor
//
// Started by demo::start under a one_for_one supervisor `demo`, itself a child of the node's
// root supervisor, each registered globally through its child spec's global_name (so it is
// re-registered whenever its supervisor restarts it):
// - echo@NODE:    replies with the request itself.
// - counter@NODE: ["incr"] and ["incr", n] add 1 or n and reply the new value; ["get"] replies
//                 the value. Casts of ["incr"] / ["incr", n] add without a reply. It joins
//                 the process group `counters` (pg), and its state() is its value
//                 (`otterctl state counter@NODE`, `otterctl groups`).
// - kv@NODE:      a key-value store; the instances of every demo node also compete for the
//                 global name `kv` (one holds it, the others are standbys that take it over
//                 when the holder or its node dies). ["put",k,v] -> "ok", ["get",k] -> v or
//                 nil, ["delete",k] -> "ok", ["keys"] -> [k, ...]. Keys are strings, values any
//                 msgpack (JSON) value. Casts of put and delete change the map without a reply.
//                 THE DATA IS NOT REPLICATED: each instance keeps its own map in memory, so a
//                 standby that takes `kv` over starts empty, and what the old holder stored is
//                 lost with it.
// Any other request is answered with the error badarg, naming what was expected; the server
// keeps running (a throwing handler would crash it, and its supervisor would restart it empty).
// A cast it cannot apply (a read, or malformed) is dropped with a warning in the node's log.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <otter/detail/log_limiter.hpp>
#include <otter/otter.hpp>

namespace otter::demo {

namespace demo_defaults {
// The global name the kv servers compete for.
inline constexpr const char* kv_name = "kv";
// How long a kv standby waits before trying `kv` again when the registry still lists a holder
// it has seen die (the registry drops a dead node's names within the failure-detection bound),
// or when a registration failed for another reason (timeout, shutting_down).
inline constexpr std::chrono::milliseconds kv_retry_interval{200};
// The process group (pg, default scope) every node's counter joins: `otterctl groups`.
inline constexpr const char* counters_group = "counters";
}  // namespace demo_defaults

// What a counter continues its init with: joining demo_defaults::counters_group.
struct join_counters {};

// The global names of node `node_name`'s demo servers: echo@, counter@ and kv@node_name.
std::vector<std::string> global_names(const std::string& node_name);

// The `demo` supervisor's child spec, with echo, counter and kv as its children.
child_spec supervisor_spec(const std::string& node_name);

// Starts the demo supervisor under rt's root supervisor (`me` is a process of that runtime).
// Returns the demo supervisor's Pid, or the error of the child that failed to start. The
// global names are registered asynchronously (see child_spec::global_name).
result<pid> start(scoped_process& me, const std::string& node_name);

// echo@NODE: replies with what it got.
class echo : public gen_server<echo> {
 public:
  using calls = msgs<dynamic>;
  dynamic handle_call(const dynamic& request, from&) { return request; }
};

// counter@NODE: an integer, 0 at start. The replies are dynamic integers; an increment that
// would overflow is refused with badarg and leaves the value as it was.
class counter : public gen_server<counter> {
 public:
  using calls = msgs<dynamic>;
  using casts = msgs<dynamic>;
  explicit counter(std::string name) : name_(std::move(name)) {}
  void init() { continue_with(join_counters{}); }
  task<void> handle_continue(const join_counters&);
  noreply_t handle_call(const dynamic& request, from& caller);
  void handle_cast(const dynamic& request);
  // Its value, for otter::get_state / replace_state and `otterctl state counter@NAME`.
  std::int64_t state() const { return value_; }
  void set_state(std::int64_t v) { value_ = v; }

 private:
  result<dynamic> handle(const dynamic& request);
  std::string name_;  // for error messages
  std::int64_t value_ = 0;
  otter::detail::log_limiter dropped_log_;  // casts it could not apply: a line a second
};

// Sent by a kv server to itself: (try to) take the global name `kv`. init cannot await a
// registration, so it sends this; the DOWN of the holder it watches sends it again.
struct kv_claim {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(kv_claim, "kv_claim");

// kv@NODE, and `kv` on one node of the cluster. Its role:
// - holder: registered as `kv` (conflict_policy::notify, so losing the name after a partition
//   heals does not kill it).
// - standby: monitors the holder; on its DOWN (it exited, or its node went down:
//   noconnection) tries to register `kv` again, and of competing standbys exactly one wins
//   (the registry's guarantee) while the others watch the new holder. A holder told
//   name_conflict (it lost after a partition healed) becomes a standby of the winner.
// Either way it answers requests sent to it (through `kv` or kv@NODE) from its own map.
class kv : public gen_server<kv> {
 public:
  using calls = msgs<dynamic>;
  using casts = msgs<dynamic>;
  using infos = msgs<kv_claim, name_conflict>;
  explicit kv(std::string name, std::string global_name = demo_defaults::kv_name)
      : name_(std::move(name)), global_name_(std::move(global_name)) {}

  void init();
  noreply_t handle_call(const dynamic& request, from& caller);
  void handle_cast(const dynamic& request);
  task<void> handle_info(const kv_claim&);
  void handle_info(const name_conflict& c);
  void handle_info(const down& d);
  // Its map, for otter::get_state and `otterctl state kv@NAME` (read-only: no set_state).
  const std::map<std::string, dynamic>& state() const { return data_; }

 private:
  result<dynamic> handle(const dynamic& request);
  void watch(const pid& holder);

  std::string name_;         // kv@NODE, for logs and error messages
  std::string global_name_;  // the contested name: `kv`
  std::map<std::string, dynamic> data_;
  otter::detail::log_limiter dropped_log_;  // casts it could not apply: a line a second
  bool holder_ = false;
  pid watched_;  // the holder this standby monitors (nil: none)
  monitor_ref watch_ = 0;
  pid last_dead_;  // the last holder seen to die: the registry may still list it briefly
};

}  // namespace otter::demo
