#include "membership.hpp"

namespace otter::net_detail {

membership::membership(runtime& rt, std::chrono::milliseconds heartbeat_interval,
                       std::chrono::milliseconds failure_timeout)
    : rt_(rt), heartbeat_interval_(heartbeat_interval), failure_timeout_(failure_timeout) {}

std::vector<node_info> membership::view(bool include_hidden) const {
  std::vector<node_info> out;
  std::lock_guard<std::mutex> l(view_mutex_);
  for (const auto& n : view_) {
    if (include_hidden || !n.hidden) out.push_back(n);
  }
  return out;
}

void membership::publish(const io_token&, std::vector<node_info> up, bool still_joining) {
  {
    std::lock_guard<std::mutex> l(view_mutex_);
    view_ = std::move(up);
  }
  joined_.store(!still_joining, std::memory_order_release);
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
