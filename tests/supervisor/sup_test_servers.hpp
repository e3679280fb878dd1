// Children and helpers shared by the supervisor tests.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <otter/core.hpp>
#include <otter/dynamic_supervisor.hpp>
#include <otter/supervisor.hpp>

// A named namespace: g++ 12 warns (-Wsubobject-linkage) about coroutine frames of templates
// instantiated with types from an anonymous namespace.
namespace sup_test {

using namespace std::chrono_literals;

// What children did, in order, from every thread.
class event_log {
 public:
  void add(std::string e) {
    std::lock_guard<std::mutex> l(mutex_);
    events_.push_back(std::move(e));
  }
  std::vector<std::string> snapshot() const {
    std::lock_guard<std::mutex> l(mutex_);
    return events_;
  }
  // The events that start with `prefix`, in order.
  std::vector<std::string> with_prefix(const std::string& prefix) const {
    std::vector<std::string> out;
    for (auto& e : snapshot()) {
      if (e.rfind(prefix, 0) == 0) out.push_back(e);
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;  // protects events_
  std::vector<std::string> events_;
};

// How a child behaves; shared between the test and every incarnation of the child.
struct behaviour_control {
  std::atomic<int> starts{0};
  std::atomic<int> fail_after{-1};           // starts beyond this many fail (-1: never)
  std::atomic<bool> ignore_shutdown{false};  // trap exits and ignore the parent's shutdown
  std::atomic<bool> trap{true};  // trap exits, so terminate runs on shutdown (and is logged)
};

struct ping {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(ping);
struct pong {
  std::string id;
  MSGPACK_DEFINE(id);
};
OTTER_MESSAGE(pong);
struct crash {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(crash);
struct stop_with {
  std::string reason;
  MSGPACK_DEFINE(reason);
};
OTTER_MESSAGE(stop_with);

// A worker that logs "start <id>" and "stop <id>", answers ping, crashes on `crash`, stops
// with a given reason on `stop_with`.
class child_srv : public otter::gen_server<child_srv> {
 public:
  using calls = otter::msgs<ping>;
  using casts = otter::msgs<crash, stop_with>;

  child_srv(std::string id, std::shared_ptr<event_log> log,
            std::shared_ptr<behaviour_control> control)
      : id_(std::move(id)), log_(std::move(log)), control_(std::move(control)) {}

  otter::result<void> init() {
    const int n = ++control_->starts;
    if (control_->fail_after >= 0 && n > control_->fail_after) {
      return otter::error{otter::errc::init_failed, id_ + " refuses to start",
                          otter::exit_reason("refused_" + id_)};
    }
    if (control_->trap || control_->ignore_shutdown) otter::trap_exit(true);
    log_->add("start " + id_);
    return otter::ok();
  }
  void terminate(const otter::exit_reason& r) { log_->add("stop " + id_ + " " + r.str()); }

  pong handle_call(const ping&, otter::from&) { return pong{id_}; }
  void handle_cast(const crash&) { throw std::runtime_error("crashed_" + id_); }
  void handle_cast(const stop_with& s) { stop(otter::exit_reason(s.reason)); }
  void handle_info(const otter::exit_msg& x) {
    if (x.from == parent() && !control_->ignore_shutdown) stop(x.reason);
  }

 private:
  std::string id_;
  std::shared_ptr<event_log> log_;
  std::shared_ptr<behaviour_control> control_;
};

// A test's children: one control per id, one shared log.
struct fixture {
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  std::vector<std::pair<std::string, std::shared_ptr<behaviour_control>>> controls;

  std::shared_ptr<behaviour_control> control(const std::string& id) {
    for (auto& [k, c] : controls) {
      if (k == id) return c;
    }
    controls.emplace_back(id, std::make_shared<behaviour_control>());
    return controls.back().second;
  }
  otter::child_spec spec(const std::string& id,
                         otter::restart_type restart = otter::restart_type::permanent) {
    auto s = otter::worker<child_srv>(id, id, log, control(id));
    s.restart = restart;
    return s;
  }
};

// Polls `cond` until it holds or `limit` passes: for states no message announces.
template <class Cond>
bool eventually(Cond&& cond, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return cond();
}

inline otter::runtime_options two_workers() {
  otter::runtime_options o;
  o.workers = 2;
  return o;
}

// which_children as a map-like lookup.
inline std::optional<otter::child_info> child_of(otter::scoped_process& me, const otter::pid& sup,
                                                 const std::string& id) {
  auto r = me.await(otter::supervisor::which_children(sup, 10s));
  if (!r) return std::nullopt;
  for (auto& c : *r) {
    if (c.id == id) return c;
  }
  return std::nullopt;
}

inline otter::pid pid_of(otter::scoped_process& me, const otter::pid& sup, const std::string& id) {
  auto c = child_of(me, sup, id);
  return c ? c->child : otter::pid{};
}

// Waits for the DOWN of monitor `ref`; returns the exit reason ("" if none came in time).
// Monitor before causing the exit: a monitor set on an exiting process may fire before the
// process's links have been told.
inline std::string wait_down(otter::scoped_process& me, otter::monitor_ref ref,
                             std::chrono::milliseconds limit = 20s) {
  // DOWNs received while waiting for another, kept for their own wait_down (one test thread).
  thread_local std::map<otter::monitor_ref, std::string> early;
  if (auto it = early.find(ref); it != early.end()) {
    std::string reason = it->second;
    early.erase(it);
    return reason;
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return "";
    auto d = me.receive<otter::down>(left);
    if (!d) return "";
    if (d->ref == ref) return d->reason.str();
    early.emplace(d->ref, d->reason.str());
  }
}

// Monitors `p` and waits for its exit.
inline std::string await_exit(otter::scoped_process& me, const otter::pid& p,
                              std::chrono::milliseconds limit = 20s) {
  return wait_down(me, me.monitor(p), limit);
}

}  // namespace sup_test
