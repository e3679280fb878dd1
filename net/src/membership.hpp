// Internal: who is in the cluster, as this node sees it, and how it tells whoever asks.
// - The failure detector's clock and bound (the detector itself, who is watched and how, is
//   transport's: detector.cpp): a tick each heartbeat_interval; a watched peer heard from
//   (any envelope) in less than failure_timeout is alive, else it is declared down.
// - The view other threads read (node::nodes(), peers()), republished by the I/O owner when a
//   peer comes up or goes down, and whether this node has joined: it knows of no member it is
//   still shaking hands with (every member it learnt of is up, or was given up on, or was
//   reported gone by a member that declared it down). A node alone has joined.
// - Events: nodeup / nodedown to subscribed processes, and hooks for the layers above.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "io_token.hpp"
#include "otter/node.hpp"

namespace otter::net_detail {

class membership {
 public:
  using clock = std::chrono::steady_clock;
  using hook = std::function<void(const std::string& node, bool up)>;

  membership(runtime& rt, std::chrono::milliseconds heartbeat_interval,
             std::chrono::milliseconds failure_timeout);

  // ---- any thread ----
  std::vector<node_info> view(bool include_hidden) const;
  bool visible(std::uint64_t id) const;  // in the view, not hidden
  bool joined() const noexcept { return joined_.load(std::memory_order_acquire); }
  void monitor_nodes(const pid& subscriber, bool on);
  void on_peer_event(hook fn);

  // ---- the I/O owner ----
  // The view, one peer at a time (O(log N) a change, whatever the size of the cluster):
  // `id` came up (up_ms counts from `since`), went down; every peer gone (a stop).
  void up(const io_token& t, std::uint64_t id, node_info info, clock::time_point since);
  void down(const io_token& t, std::uint64_t id);
  void clear(const io_token& t);
  void set_joined(const io_token&, bool joined) noexcept {
    joined_.store(joined, std::memory_order_release);
  }
  // Tells subscribers and hooks that `node` came up or went down.
  void announce(const io_token& t, const std::string& node, bool up, const std::string& reason);

  // Failure detection: is a tick due, and when is the next one. A tick is planned for when
  // something is due (the detector's plan: a heartbeat round, a watched peer's silence bound,
  // a probe's verdict, a hello to send again), not every heartbeat_interval: an idle node
  // wakes about twice a second for it. ticked() plans the next one a heartbeat_interval
  // later until plan() says when.
  bool tick_due(clock::time_point now) const noexcept { return now >= next_tick_; }
  clock::time_point next_tick() const noexcept { return next_tick_; }
  void ticked(clock::time_point now) noexcept;
  void plan(clock::time_point at) noexcept { next_tick_ = at; }
  // A tick no later than `at` (a probe's verdict, a link that changed).
  void tick_by(clock::time_point at) noexcept { next_tick_ = std::min(next_tick_, at); }
  bool silent(clock::time_point last_heard, clock::time_point now) const noexcept {
    return now - last_heard > failure_timeout();
  }
  std::chrono::milliseconds heartbeat_interval() const noexcept { return heartbeat_interval_; }
  // The bounds as this node applies them now: the configured ones while it is healthy, longer
  // while it runs late (health, below).
  std::chrono::milliseconds failure_timeout() const noexcept {
    return failure_timeout_ * (1 + health());
  }
  std::chrono::milliseconds probe_timeout() const noexcept {
    return heartbeat_interval_ * (1 + health());
  }
  // Local health, as Lifeguard's (HashiCorp memberlist) local health multiplier: 0 is healthy,
  // and the failure timeout and a probe's wait are multiplied by 1 + health. A node adds one
  // (up to max_health) for each sign that silence no longer means death here: a peer it
  // declared down came back as the same incarnation (it was alive: a false down, or a
  // partition that healed), or its own tick ran more than half a heartbeat interval later than
  // planned; each calm_ticks heartbeat intervals (2 s by default) without such a sign, ticks
  // on time, take one off. Without it, 100 nodes starting
  // at once on two cores never settled: each false down (a probe unanswered within 200 ms on
  // a saturated machine, after a report that reached every member) cost a new handshake and
  // a registry resynchronisation, which kept the machine saturated.
  static constexpr int max_health = 8;
  static constexpr int calm_ticks = 10;
  // Any thread (metrics); written by the I/O owner only.
  int health() const noexcept { return health_.load(std::memory_order_relaxed); }
  void hurt() noexcept {
    health_.store(std::min(health() + 1, max_health), std::memory_order_relaxed);
    calm_since_ = last_tick_;
  }

 private:
  runtime& rt_;
  const std::chrono::milliseconds heartbeat_interval_;
  const std::chrono::milliseconds failure_timeout_;
  clock::time_point next_tick_{};
  std::atomic<int> health_{0};
  clock::time_point last_tick_{}, calm_since_{};  // calm since: health_ last changed

  mutable std::mutex view_mutex_;  // protects view_
  struct view_entry {
    node_info info;
    clock::time_point up_since;
  };
  std::map<std::uint64_t, view_entry> view_;  // by node id
  std::atomic<bool> joined_{false};
  std::mutex subs_mutex_;  // protects subscribers_, hooks_
  std::set<pid> subscribers_;
  std::vector<hook> hooks_;
};

}  // namespace otter::net_detail
