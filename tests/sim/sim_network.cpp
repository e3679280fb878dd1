#include "sim_network.hpp"

#include <algorithm>

namespace otter::sim {

using namespace std::chrono_literals;
using net_detail::send_status;

sim_network::sim_network(std::uint64_t seed) : rng_(seed ^ 0x6e6574776f726bull) {}

int sim_network::add_slot(std::string endpoint) {
  slots_.push_back(slot{std::move(endpoint), nullptr, 0, {}});
  return static_cast<int>(slots_.size()) - 1;
}

int sim_network::slot_of(const std::string& endpoint) const {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].endpoint == endpoint) return static_cast<int>(i);
  }
  return -1;
}

std::unique_ptr<net_detail::link_io> sim_network::attach(int s, const std::string& routing_id) {
  if (slots_[s].io != nullptr) kill(s);
  ++slots_[s].incarnation;
  heads_stale_ = true;
  auto io = std::make_unique<sim_io>(*this, s, routing_id);
  slots_[s].io = io.get();
  slots_[s].routes.clear();
  return io;
}

void sim_network::kill(int s) {
  heads_stale_ = true;
  slot& sl = slots_[s];
  if (sl.io != nullptr) {
    sl.io->conns_.clear();
    sl.io->arrivals_.clear();
    sl.io->detach();
  }
  sl.io = nullptr;
  sl.routes.clear();
  for (auto it = pipes_.begin(); it != pipes_.end();) {
    pipe& p = it->second;
    if (p.from == s) {  // its own connections die with it
      dropped_ += p.forward.size() + p.back.size();
      forget(it->second);
      it = pipes_.erase(it);
      continue;
    }
    if (p.to == s) {  // others' connections to it lose what was in flight
      dropped_ += p.forward.size() + p.back.size();
      p.forward.clear();
      p.back.clear();
    }
    ++it;
  }
}

void sim_network::gone(int s) {
  heads_stale_ = true;
  slot& sl = slots_[s];
  sl.io = nullptr;
  sl.routes.clear();
  for (auto it = pipes_.begin(); it != pipes_.end();) {
    pipe& p = it->second;
    if (p.from == s) {
      dropped_ += p.back.size();
      p.back.clear();
      p.open = false;
      if (p.forward.empty()) {
        forget(it->second);
        it = pipes_.erase(it);
        continue;
      }
    } else if (p.to == s) {
      dropped_ += p.forward.size() + p.back.size();
      p.forward.clear();
      p.back.clear();
    }
    ++it;
  }
}

pipe* sim_network::open_pipe(int from, conn_id local, const std::string& routing_id, int to) {
  pipe p;
  p.id = next_pipe_++;
  p.from = from;
  p.to = to;
  p.from_incarnation = slots_[from].incarnation;
  p.local = local;
  p.routing_id = routing_id;
  between_[{from, to}].insert(p.id);
  return &pipes_.emplace(p.id, std::move(p)).first->second;
}

void sim_network::close_pipe(pipe& p) {
  dropped_ += p.forward.size() + p.back.size();
  erase_pipe(pipes_.find(p.id));
}

void sim_network::erase_pipe(std::map<std::uint64_t, pipe>::iterator it) {
  unindex(it->second);
  forget(it->second);
  pipes_.erase(it);
}

void sim_network::forget(const pipe& p) {
  auto it = between_.find({p.from, p.to});
  if (it == between_.end()) return;
  it->second.erase(p.id);
  if (it->second.empty()) between_.erase(it);
}

void sim_network::push(pipe& p, bool forward, std::string bytes) {
  unindex(p);
  auto& q = forward ? p.forward : p.back;
  const auto at = forward ? arrival(p.from, p.to, q) : arrival(p.to, p.from, q);
  q.push_back({std::move(bytes), at});
  ++sent_;
  index(p);
}

void sim_network::unindex(const pipe& p) {
  if (heads_stale_) return;
  if (!p.forward.empty()) {
    heads_.erase({p.forward.front().at, p.id, true});
    ready_.erase({p.id, false});
  }
  if (!p.back.empty()) {
    heads_.erase({p.back.front().at, p.id, false});
    ready_.erase({p.id, true});
  }
}

void sim_network::index(const pipe& p) {
  if (heads_stale_) return;
  if (!p.forward.empty() && sendable(p, true)) {
    heads_.insert({p.forward.front().at, p.id, true});
    if (p.forward.front().at <= now_) ready_.insert({p.id, false});
  }
  if (!p.back.empty() && sendable(p, false)) {
    heads_.insert({p.back.front().at, p.id, false});
    if (p.back.front().at <= now_) ready_.insert({p.id, true});
  }
}

void sim_network::reindex() const {
  if (!heads_stale_) return;
  heads_.clear();
  ready_.clear();
  heads_stale_ = false;
  for (const auto& [id, p] : pipes_) const_cast<sim_network*>(this)->index(p);
}

void sim_network::set_now(sim_clock::time_point t) {
  const auto before = now_;
  now_ = t;
  if (heads_stale_ || t <= before) {
    if (t < before) heads_stale_ = true;  // (the clock never goes back; if it did: rebuild)
    return;
  }
  // The heads that fall due between the two: (before, t].
  for (auto it = heads_.upper_bound({before, ~std::uint64_t{0}, true});
       it != heads_.end() && std::get<0>(*it) <= t; ++it) {
    ready_.insert({std::get<1>(*it), !std::get<2>(*it)});
  }
}

sim_clock::time_point sim_network::arrival(int from, int to, const std::deque<frame>& q) {
  // Loopback-like latency, 50 us to 1 ms, plus the direction's extra delay; never before the
  // frame ahead of it.
  std::uniform_int_distribution<int> us(50, 1000);
  auto at = now_ + std::chrono::microseconds(us(rng_));
  if (auto d = delays_.find({from, to}); d != delays_.end()) at += d->second;
  if (loss_percent_ > 0) {
    std::uniform_real_distribution<double> percent(0, 100);
    for (auto rto = std::chrono::milliseconds(200); percent(rng_) < loss_percent_; rto *= 2) {
      at += rto;
    }
  }
  if (!q.empty()) at = std::max(at, q.back().at);
  return at;
}

void sim_network::cut(int from, int to) {
  heads_stale_ = true;
  cuts_.insert({from, to});
}

void sim_network::heal(int from, int to, bool drop_held) {
  if (cuts_.erase({from, to}) == 0) return;
  heads_stale_ = true;
  // The pipes between the two (either way), in pipe order.
  std::set<std::uint64_t> ids;
  for (const auto& key : {std::pair{from, to}, std::pair{to, from}}) {
    if (auto b = between_.find(key); b != between_.end())
      ids.insert(b->second.begin(), b->second.end());
  }
  for (const std::uint64_t id : ids) {
    pipe& p = pipes_.at(id);
    std::deque<frame>* q = p.from == from && p.to == to   ? &p.forward
                           : p.from == to && p.to == from ? &p.back
                                                          : nullptr;
    if (q == nullptr || q->empty()) continue;
    if (drop_held) {
      dropped_ += q->size();
      q->clear();
    } else {
      std::deque<frame> held;
      held.swap(*q);
      for (auto& f : held) {
        f.at = arrival(from, to, *q);
        q->push_back(std::move(f));
      }
    }
  }
}

void sim_network::delay(int from, int to, std::chrono::milliseconds extra) {
  if (extra.count() == 0) {
    delays_.erase({from, to});
  } else {
    delays_[{from, to}] = extra;
  }
}

bool sim_network::sendable(const pipe& p, bool forward) const {
  const int src = forward ? p.from : p.to;
  const int dst = forward ? p.to : p.from;
  if (is_cut(src, dst)) return false;
  if (slots_[dst].io == nullptr) return false;
  return forward || slots_[dst].incarnation == p.from_incarnation;
}

std::vector<due_frame> sim_network::due() const {
  reindex();
  // In pipe order, each pipe's forward direction first: the order the world picks from.
  std::vector<due_frame> out;
  out.reserve(ready_.size());
  for (const auto& [id, back] : ready_) out.push_back({&const_cast<pipe&>(pipes_.at(id)), !back});
  return out;
}

std::size_t sim_network::due_count() const {
  reindex();
  return ready_.size();
}

due_frame sim_network::due_at(std::size_t k) const {
  reindex();
  const auto& [id, back] = *ready_.find_by_order(k);
  return {&const_cast<pipe&>(pipes_.at(id)), !back};
}

sim_clock::time_point sim_network::next_delivery() const {
  reindex();
  return heads_.empty() ? sim_clock::time_point::max() : std::get<0>(*heads_.begin());
}

void sim_network::deliver(const due_frame& d) {
  pipe& p = *d.p;
  std::deque<frame>& q = d.forward ? p.forward : p.back;
  unindex(p);
  frame f = std::move(q.front());
  q.pop_front();
  index(p);
  ++delivered_;
  if (d.forward) {
    slot& dst = slots_[p.to];
    dst.routes[p.routing_id] = p.id;  // ROUTER_HANDOVER: the latest connection of that id
    dst.io->arrivals_.push_back({true, p.routing_id, 0, std::move(f.bytes)});
  } else {
    slots_[p.from].io->arrivals_.push_back({false, {}, p.local, std::move(f.bytes)});
  }
  // A connection its owner closed goes once what it sent has arrived.
  if (!p.open && p.forward.empty()) erase_pipe(pipes_.find(p.id));
}

bool sim_network::has_arrivals(int s) const {
  return slots_[s].io != nullptr && slots_[s].io->has_arrivals();
}

// ---- sim_io ----

sim_io::sim_io(sim_network& net, int slot, std::string routing_id)
    : net_(&net),
      slot_(slot),
      routing_id_(std::move(routing_id)),
      endpoint_(net.endpoint_of(slot)) {}

sim_io::~sim_io() {
  if (net_ != nullptr && net_->slots_[slot_].io == this) net_->gone(slot_);
}

conn_id sim_io::connect(const net_detail::io_token&, const std::string& endpoint) {
  const conn_id c = next_conn_++;
  if (net_ == nullptr || shut_) return c;
  const int to = net_->slot_of(endpoint);
  conns_[c] = to < 0 ? 0 : net_->open_pipe(slot_, c, routing_id_, to)->id;
  return c;
}

void sim_io::reset(const net_detail::io_token& t, conn_id c) {
  auto it = conns_.find(c);
  if (it == conns_.end() || net_ == nullptr) return;
  int to = -1;
  if (auto p = net_->pipes_.find(it->second); p != net_->pipes_.end()) {
    to = p->second.to;
    net_->close_pipe(p->second);
  }
  (void)t;
  it->second = to < 0 ? 0 : net_->open_pipe(slot_, c, routing_id_, to)->id;
}

void sim_io::close(const net_detail::io_token&, conn_id c) {
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  if (net_ != nullptr) {
    if (auto p = net_->pipes_.find(it->second); p != net_->pipes_.end()) {
      net_->close_pipe(p->second);
    }
  }
  conns_.erase(it);
}

send_status sim_io::send(const net_detail::io_token&, conn_id c, std::string_view bytes) {
  if (net_ == nullptr || shut_) return send_status::unreachable;
  auto it = conns_.find(c);
  if (it == conns_.end()) return send_status::unreachable;
  auto p = net_->pipes_.find(it->second);
  if (p == net_->pipes_.end()) return send_status::would_block;  // nothing listens there
  pipe& pp = p->second;
  if (net_->slots_[pp.to].io == nullptr) return send_status::would_block;  // ZMQ_IMMEDIATE
  net_->push(pp, true, std::string(bytes));
  return send_status::sent;
}

send_status sim_io::reply(const net_detail::io_token&, const std::string& routing_id,
                          std::string_view bytes) {
  if (net_ == nullptr || shut_) return send_status::unreachable;
  auto& routes = net_->slots_[slot_].routes;
  auto r = routes.find(routing_id);
  if (r == routes.end()) return send_status::unreachable;
  auto p = net_->pipes_.find(r->second);
  if (p == net_->pipes_.end()) return send_status::unreachable;
  pipe& pp = p->second;
  const auto& src = net_->slots_[pp.from];
  if (src.io == nullptr || src.incarnation != pp.from_incarnation) {
    return send_status::unreachable;  // ZMQ_ROUTER_MANDATORY: that connection is gone
  }
  net_->push(pp, false, std::string(bytes));
  return send_status::sent;
}

void sim_io::poll(const net_detail::io_token& t, net_detail::link_events& events,
                  std::chrono::milliseconds) {
  woken_ = false;
  while (!arrivals_.empty() && !shut_) {
    arrival a = std::move(arrivals_.front());
    arrivals_.pop_front();
    if (a.inbound) {
      events.on_inbound(t, a.routing_id, "sim:" + a.routing_id, a.bytes);
    } else if (conns_.count(a.conn) > 0) {
      events.on_outbound(t, a.conn, a.bytes);
    }
  }
}

void sim_io::shut(const net_detail::io_token&, std::chrono::milliseconds) {
  if (shut_) return;
  shut_ = true;
  arrivals_.clear();
  if (net_ == nullptr) return;
  // What it already sent is on the wire (linger); its connections take no more.
  for (auto& [c, id] : conns_) {
    if (auto p = net_->pipes_.find(id); p != net_->pipes_.end()) {
      net_->unindex(p->second);
      p->second.open = false;
      net_->dropped_ += p->second.back.size();
      p->second.back.clear();
      if (p->second.forward.empty()) {
        net_->forget(p->second);
        net_->pipes_.erase(p);
      } else {
        net_->index(p->second);
      }
    }
  }
  conns_.clear();
}

}  // namespace otter::sim
