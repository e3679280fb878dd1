// The transport's lookups: peers by node id and by routing id, connections by endpoint and by
// id, and what the node and the tests read (stats, blocked names, a peer's link state).
#include "transport.hpp"

namespace otter {

net_stats transport::stats() const {
  net_stats s;
  s.frames_in = frames_in_.load();
  s.frames_out = frames_out_.load();
  s.envelopes_in = env_in_.load();
  s.envelopes_out = env_out_.load();
  s.bytes_in = bytes_in_.load();
  s.bytes_out = bytes_out_.load();
  s.rejected = rejected_.load() + io_->refused_connections();
  s.shed = shed_.load();
  return s;
}

net_metrics transport::metrics() const {
  net_metrics m;
  m.suspicions = suspicions_.load(std::memory_order_relaxed);
  m.health = members_.health();
  std::lock_guard<std::mutex> l(traffic_mutex_);
  for (const auto& [name, t] : traffic_) {
    if (t->hidden.load(std::memory_order_relaxed)) continue;
    m.peers.push_back({name, t->bytes_in.load(std::memory_order_relaxed),
                       t->bytes_out.load(std::memory_order_relaxed)});
  }
  return m;
}

void transport::set_blocked(std::string_view node_name, bool on) {
  {
    std::lock_guard<std::mutex> l(blocked_mutex_);
    if (on) {
      blocked_.insert(std::string(node_name));
    } else {
      blocked_.erase(std::string(node_name));
    }
    any_blocked_.store(!blocked_.empty(), std::memory_order_release);
  }
  detail::wake_io(rt_);
}

bool transport::blocked(const std::string& name) {
  if (!any_blocked_.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> l(blocked_mutex_);
  return !blocked_.empty() && blocked_.count(name) > 0;
}

net_detail::link_state transport::link_state_of(const std::string& node_name) const {
  auto it = peers_.find(node_id_of(node_name));
  return it == peers_.end() ? net_detail::link_state::idle : it->second->state;
}

transport::clock::time_point transport::up_since(const std::string& node_name) const {
  auto it = peers_.find(node_id_of(node_name));
  if (it == peers_.end() || it->second->state != net_detail::link_state::up) {
    return clock::time_point::max();
  }
  return it->second->up_since;
}

bool transport::connected_to(const std::string& node_name) const {
  auto it = peers_.find(node_id_of(node_name));
  return it != peers_.end() && !it->second->endpoint.empty() &&
         connections_.count(it->second->endpoint) > 0;
}

std::size_t transport::open_with(const std::string& node_name) const {
  auto it = peers_.find(node_id_of(node_name));
  return it == peers_.end() ? 0 : it->second->book.size();
}

// ---- tables ----

transport::peer& transport::peer_for(const std::string& name) {
  const std::uint64_t id = node_id_of(name);
  auto& slot = peers_[id];
  if (!slot) {
    slot = std::make_unique<peer>();
    slot->name = name;
    slot->id = id;
    slot->last_heard = slot->state_since = now();
    slot->our_session = ++sessions_;
    slot->traffic = std::make_shared<net_detail::peer_traffic>();
    std::lock_guard<std::mutex> l(traffic_mutex_);
    traffic_.emplace_back(name, slot->traffic);
  }
  return *slot;
}

transport::peer* transport::find_peer(std::uint64_t id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second.get();
}

transport::peer* transport::peer_by_routing(const std::string& routing_id) {
  auto it = inbound_.find(routing_id);
  return it == inbound_.end() ? nullptr : find_peer(it->second);
}

transport::connection& transport::connect_to(const io_token& t, const std::string& endpoint,
                                             std::uint64_t peer_id) {
  auto it = connections_.find(endpoint);
  if (it != connections_.end()) {
    if (it->second.peer_id == 0) it->second.peer_id = peer_id;
    it->second.closing = false;
    return it->second;
  }
  connection c;
  c.endpoint = endpoint;
  c.peer_id = peer_id;
  c.id = io_->connect(t, endpoint);
  c.last_useful = now();
  connection_ids_[c.id] = endpoint;
  members_.tick_by(c.last_useful + opts_.heartbeat_interval);  // its hello, again if unanswered
  return connections_.emplace(endpoint, std::move(c)).first->second;
}

transport::connection* transport::connection_of(const peer& p) {
  if (!p.endpoint.empty()) {
    auto it = connections_.find(p.endpoint);
    if (it != connections_.end()) return &it->second;
  }
  for (auto& [ep, c] : connections_) {
    if (c.peer_id == p.id) return &c;
  }
  return nullptr;
}

transport::connection* transport::connection_by_id(net_detail::conn_id c) {
  auto it = connection_ids_.find(c);
  if (it == connection_ids_.end()) return nullptr;
  auto conn = connections_.find(it->second);
  return conn == connections_.end() ? nullptr : &conn->second;
}

}  // namespace otter
