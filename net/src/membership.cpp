#include "membership.hpp"

namespace otter::net_detail {

membership::membership(runtime& rt, std::chrono::milliseconds heartbeat_interval,
                       std::chrono::milliseconds failure_timeout)
    : rt_(rt), heartbeat_interval_(heartbeat_interval), failure_timeout_(failure_timeout) {}

void membership::ticked(clock::time_point now) noexcept {
  const bool late = next_tick_ != clock::time_point{} && now - next_tick_ > heartbeat_interval_ / 2;
  last_tick_ = now;
  if (late) {
    hurt();
  } else if (health() > 0 && now - calm_since_ >= calm_ticks * heartbeat_interval_) {
    health_.store(health() - 1, std::memory_order_relaxed);
    calm_since_ = now;
  }
  next_tick_ = now + heartbeat_interval_;
}

std::vector<node_info> membership::view(bool include_hidden) const {
  std::vector<node_info> out;
  std::lock_guard<std::mutex> l(view_mutex_);
  const auto at = detail::now(rt_);  // after the lock: no entry is newer than `at`
  out.reserve(view_.size());
  for (const auto& [id, e] : view_) {
    if (!include_hidden && e.info.hidden) continue;
    out.push_back(e.info);
    out.back().up_ms = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(at - e.up_since).count());
  }
  return out;
}

bool membership::visible(std::uint64_t id) const {
  std::lock_guard<std::mutex> l(view_mutex_);
  const auto it = view_.find(id);
  return it != view_.end() && !it->second.info.hidden;
}

void membership::up(const io_token&, std::uint64_t id, node_info info, clock::time_point since) {
  std::lock_guard<std::mutex> l(view_mutex_);
  view_[id] = view_entry{std::move(info), since};
}

void membership::down(const io_token&, std::uint64_t id) {
  std::lock_guard<std::mutex> l(view_mutex_);
  view_.erase(id);
}

void membership::clear(const io_token&) {
  std::lock_guard<std::mutex> l(view_mutex_);
  view_.clear();
}

void membership::monitor_nodes(const pid& subscriber, bool on) {
  std::lock_guard<std::mutex> l(subs_mutex_);
  if (on) {
    subscribers_.insert(subscriber);
  } else {
    subscribers_.erase(subscriber);
  }
}

void membership::on_peer_event(hook fn) {
  std::lock_guard<std::mutex> l(subs_mutex_);
  hooks_.push_back(std::move(fn));
}

void membership::announce(const io_token&, const std::string& node, bool up,
                          const std::string& reason) {
  std::vector<pid> subs;
  std::vector<hook> hooks;
  {
    std::lock_guard<std::mutex> l(subs_mutex_);
    subs.assign(subscribers_.begin(), subscribers_.end());
    hooks = hooks_;
  }
  for (const pid& s : subs) {
    if (up) {
      (void)rt_.send(s, nodeup{node});
    } else {
      (void)rt_.send(s, nodedown{node, reason});
    }
  }
  for (auto& h : hooks) h(node, up);
}

}  // namespace otter::net_detail
