// The transport's orchestration: start and stop, the runtime's two seams (remote_router,
// io_driver), frames in, process envelopes delivered or answered for. The parts it drives are
// in handshake.cpp, links.cpp, sending.cpp, tables.cpp and their own files (transport.hpp
// lists them).
#include "transport.hpp"

#include <stdexcept>
#include <thread>

#include "endpoint.hpp"
#include "otter/log.hpp"

namespace otter {

using detail::envelope;
using detail::sig;
using net_detail::link_event;
using namespace std::chrono_literals;

transport::transport(runtime& rt, const node_options& opts, cluster_keys keys,
                     std::unique_ptr<net_detail::link_io> io)
    : rt_(rt),
      opts_(opts),
      keys_(keys),
      io_(std::move(io)),
      members_(rt, opts.heartbeat_interval, opts.failure_timeout) {
  if (opts_.hidden) return;
  advertised_ = io_->endpoint();
  if (opts_.advertise.empty()) return;
  // Port 0 (or *): the port bound.
  const auto a = net_detail::parse_tcp(opts_.advertise);
  const auto bound = net_detail::parse_tcp(io_->endpoint());
  advertised_ = a && bound && (a->port == "0" || a->port == "*")
                    ? net_detail::tcp_endpoint(a->host, bound->port)
                    : opts_.advertise;
}

bool transport::is_self(const std::string& endpoint) const {
  if (opts_.hidden) return false;
  if (endpoint == advertised_ || endpoint == io_->endpoint()) return true;
  const auto bound = net_detail::parse_tcp(io_->endpoint());
  return bound && net_detail::is_wildcard_host(bound->host) &&
         net_detail::is_own_address(endpoint, bound->port);
}

transport::~transport() {
  stop();
}

void transport::start() {
  const io_token t;
  {
    std::lock_guard<std::mutex> l(seeds_mutex_);
    for (const auto& seed : opts_.seeds) {
      if (!is_self(seed) && !net_detail::parse_dns_seed(seed))
        seeds_.push_back(seed_status{seed, seed_answer::none, {}, {}, 0});
    }
  }
  // dns: seeds come resolved, through set_seeds (seed_watch).
  for (const auto& seed : opts_.seeds) {
    if (is_self(seed) || net_detail::parse_dns_seed(seed)) continue;
    connection& c = connect_to(t, seed);
    c.seed = true;
    send_hello(t, c);
  }
  members_.ticked(now());
  publish(t);
}

void transport::stop(bool goodbye) {
  if (stopped_.exchange(true)) return;
  const io_token t;
  // What was sent before the stop goes first (a cast, an exit signal sent just before the
  // process ends), then the goodbye: peers drop us at once instead of waiting for the
  // failure timeout. Frames a socket refused at its high-water mark are retried, and what the
  // sockets hold given time to reach the wire, within net_defaults::shutdown_drain in all.
  const auto until = clock::now() + net_defaults::shutdown_drain;
  if (goodbye) {
    for (;;) {
      drain_outbound(t);
      if (!outq_.wants_service() || clock::now() >= until) break;
      // No notification when a socket takes frames again: look every few ms (inbound frames
      // are read meanwhile, so that a peer waiting on us is not stalled either).
      try {
        io_->poll(t, *this, 5ms);
      } catch (const std::exception& e) {
        detail::log().warn("transport error while draining at shutdown: {}", e.what());
        break;
      }
    }
    if (outq_.wants_service()) {
      // Queued for the I/O thread, and refused by peers' sockets (counted per peer).
      std::size_t left = outq_.bytes();
      for (const auto& [id, p] : peers_) left += p->out.queued_bytes();
      detail::log().warn("shutdown: {} bytes for other nodes not sent within {} ms; dropped", left,
                         net_defaults::shutdown_drain.count());
    }
  }
  msgpack::sbuffer bye;
  wire::encode_bye(bye);
  for (auto& [id, p] : peers_) {
    if (goodbye && p->state == net_detail::link_state::up && !blocked(p->name)) {
      flush(t, *p);
      (void)send_frame(t, *p, std::string_view(bye.data(), bye.size()));
    }
  }
  for (auto& [id, p] : peers_) p->out.clear(outq_);
  // The sockets' own queues (and the goodbyes) get what is left of the bound, at least 200 ms.
  io_->shut(t, std::max(std::chrono::milliseconds(200),
                        std::chrono::ceil<std::chrono::milliseconds>(until - clock::now())));
  outq_.discard();
  members_.clear(t);
  members_.set_joined(t, true);
}

// ---- remote_router (any thread) ----

bool transport::route(const pid& to, detail::envelope_ptr e) {
  if (stopped_) return false;
  // Sent from outside any process (the runtime answering for the dead, a full mailbox, an
  // outside thread): the node speaks, so that the receiver sees a sender of this node.
  if (e->from.is_nil()) e->from = pid{rt_.node_id(), 0, rt_.creation()};
  auto item = std::make_unique<out_item>(e->kind);
  item->to = to;
  item->from = e->from;
  item->ref = e->ref;
  if (!wire::encode_envelope(item->bytes, to, *e)) return false;
  if (too_big(*item)) return true;  // answered
  return enqueue(std::move(item));
}

bool transport::too_big(const out_item& item) {
  if (item.bytes.size() <= static_cast<std::size_t>(net_defaults::max_message_bytes)) return false;
  // The receiver's ZeroMQ would drop the whole connection (ZMQ_MAXMSGSIZE), and everything in
  // flight on it: refused here, with an answer a caller can read.
  rejected_.fetch_add(1, std::memory_order_relaxed);
  detail::log().warn("refused to send a {} of {} bytes to {}: over the {} byte frame limit",
                     detail::to_string(item.kind), item.bytes.size(), to_string(item.to),
                     net_defaults::max_message_bytes);
  error why{errc::badarg,
            "message of " + std::to_string(item.bytes.size()) +
                " bytes exceeds the frame limit of " +
                std::to_string(net_defaults::max_message_bytes) + " bytes",
            exit_reason("message_too_large")};
  if (item.kind == sig::reply) {
    // A reply too large to send: the caller gets this error instead of waiting for its timeout.
    auto e = std::make_unique<detail::error_envelope>(std::move(why));
    e->from = item.from;
    e->ref = item.ref;
    (void)detail::deliver(rt_, item.to, std::move(e));
  } else {
    detail::answer_for(rt_, item.kind, item.from, item.to, item.ref, why);
  }
  return true;
}

bool transport::route_name(std::uint64_t node, std::string_view name, detail::envelope_ptr e) {
  if (stopped_) return false;
  if (e->from.is_nil()) e->from = pid{rt_.node_id(), 0, rt_.creation()};
  auto item = std::make_unique<out_item>(e->kind);
  item->to = pid{node, 0, 0};
  item->by_name = true;
  item->from = e->from;
  item->ref = e->ref;
  if (!wire::encode_envelope(item->bytes, name, *e)) return false;
  if (too_big(*item)) return true;  // answered
  return enqueue(std::move(item));
}

// ---- io_driver (the I/O owner) ----

bool transport::wants_service() const noexcept {
  return outq_.wants_service() || connects_pending_.load(std::memory_order_relaxed);
}

void transport::wake() {
  io_->wake();
}

void transport::wait(std::chrono::milliseconds max) {
  // No shortcut on a non-empty queue: whoever queues wakes us (the eventfd is sticky), so the
  // poller does not spin on a queue another worker is still filling.
  if (stopped_) return;
  const io_token t;
  const net_detail::serving_scope serving;
  // Rounded up: a deadline less than 1 ms away must not make a poll of 0 ms, again and again.
  auto until_tick = std::chrono::ceil<std::chrono::milliseconds>(next_deadline() - now());
  if (until_tick < 0ms) until_tick = 0ms;
  // Items left after a bounded drain: their senders were not told to wake us, so look again
  // soon (a worker still filling the queue flushes it itself).
  if (outq_.has_items()) max = std::min(max, 1ms);
  try {
    io_->poll(t, *this, std::min(max, until_tick));
  } catch (const std::exception& e) {
    detail::log().error("transport error while polling: {}", e.what());
  }
}

void transport::service() {
  if (stopped_) return;
  const io_token t;
  const net_detail::serving_scope serving;
  try {
    connect_requested(t);
    io_->poll(t, *this, 0ms);
    retry_hellos(t);
    drain_outbound(t);
    if (members_.tick_due(now())) tick(t);
    if (view_dirty_) publish(t);
  } catch (const std::exception& e) {
    // A ZeroMQ error (no more sockets, a bad endpoint from a peer) must not end the node.
    detail::log().error("transport error: {}", e.what());
  }
}

// ---- frames in ----

void transport::on_inbound(const io_token& t, const std::string& routing_id,
                           const std::string& address, std::string_view frame) {
  if (banned_.count(routing_id) > 0) return;
  if (peer* p = peer_by_routing(routing_id);
      p != nullptr && p->hidden && p->state == net_detail::link_state::up && over_budget(*p)) {
    // A client that does not read what we send: its frames are dropped without being decoded
    // (mostly calls whose replies could not go out), which costs this thread next to nothing,
    // until it reads again; it is not silent meanwhile. Each frame counts once as shed. (A
    // member's are decoded: its signals must not be lost while the link is up.)
    p->last_heard = now();
    frames_in_.fetch_add(1, std::memory_order_relaxed);
    bytes_in_.fetch_add(frame.size(), std::memory_order_relaxed);
    note_shed(*p);
    return;
  }
  handle_frame(t, frame, address, &routing_id, nullptr);
}

void transport::on_outbound(const io_token& t, net_detail::conn_id c, std::string_view frame) {
  connection* via = connection_by_id(c);
  if (via == nullptr) return;  // closed meanwhile
  handle_frame(t, frame, via->endpoint, nullptr, via);
}

void transport::handle_frame(const io_token& t, std::string_view frame, const std::string& address,
                             const std::string* routing_id, connection* via) {
  frames_in_.fetch_add(1, std::memory_order_relaxed);
  bytes_in_.fetch_add(frame.size(), std::memory_order_relaxed);
  peer* from = routing_id != nullptr ? peer_by_routing(*routing_id)
               : via->peer_id != 0   ? find_peer(via->peer_id)
                                     : nullptr;
  bool ignore_rest = false;  // a goodbye, a protocol violation, a connection we do not take
  bool counted = false;      // this frame, in from->frames_received (peer.hpp)
  // Read once per frame (a frame may hold hundreds of envelopes).
  std::optional<clock::time_point> heard_at;
  auto decoded = wire::for_each_envelope(frame.data(), frame.size(), {}, [&](wire::decoded& d) {
    if (ignore_rest) return;
    env_in_.fetch_add(1, std::memory_order_relaxed);
    switch (d.k) {
      case wire::kind::hello:
        if (routing_id == nullptr) return;  // hellos go to a listening endpoint
        on_hello(t, d, *routing_id, address);
        from = peer_by_routing(*routing_id);
        return;
      case wire::kind::welcome:
        if (via == nullptr) return;
        on_welcome(t, d, *via);
        from = via->peer_id != 0 ? find_peer(via->peer_id) : nullptr;
        return;
      case wire::kind::refuse: on_refuse(t, d, address, via); return;
      default: break;
    }
    if (from != nullptr && routing_id != nullptr && !net_detail::in_done(from->state)) {
      // A peer we declared down, still talking on its old connection (a partition healing):
      // ignored until it says hello again, which it does once it finds us silent. Refusing
      // would make it declare us down in turn while we come back up: the two would knock
      // each other down for ever.
      ignore_rest = true;
      return;
    }
    if (from == nullptr) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      detail::log().warn("dropped {} from {} before its handshake", wire::to_string(d.k), address);
      if (routing_id != nullptr) {
        refuse(t, *routing_id, wire::refuse_code::handshake_required, "send hello first");
      }
      ignore_rest = true;
      return;
    }
    if (blocked(from->name)) {
      ignore_rest = true;
      return;
    }
    if (!heard_at) heard_at = now();
    from->last_heard = *heard_at;
    if (!counted && routing_id != nullptr && !from->hidden && !opts_.hidden) {
      ++from->frames_received;
      counted = true;
    }
    switch (d.k) {
      case wire::kind::heartbeat: on_heartbeat(t, *from, d, counted); break;
      case wire::kind::members:
        learn_members(t, d.members);
        if (!d.members_partial) gossip_back(t, *from, d.members);
        break;
      case wire::kind::gone: learn_gone(t, *from, d.gone); break;
      case wire::kind::bye:
        link_event(t, *from, link_event::left, "shutdown");
        ignore_rest = true;
        break;
      default:
        handle_process(t, *from, d);
        if (from->state == net_detail::link_state::down) ignore_rest = true;  // disconnected
        break;
    }
  });
  if (from != nullptr) from->traffic->bytes_in.fetch_add(frame.size(), std::memory_order_relaxed);
  if (!decoded) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    detail::log().warn("dropped a malformed frame from {} ({}): {}",
                       from ? from->name : std::string("an unidentified peer"), address,
                       decoded.err().message);
    if (from != nullptr) {
      if (!from->routing_id.empty()) banned_.insert(from->routing_id);
      detail::log().warn("disconnecting {}: protocol violation (malformed frame)", from->name);
      link_event(t, *from, link_event::violated, "protocol violation (malformed frame)");
    } else if (routing_id != nullptr) {
      banned_.insert(*routing_id);
    }
  }
}

void transport::handle_process(const io_token& t, peer& p, wire::decoded& d) {
  envelope& e = *d.env;
  // A peer speaks only for its own processes, of the incarnation that said hello (tools may
  // send anonymously).
  const bool anonymous = e.from.is_nil() && (e.kind == sig::info || e.kind == sig::cast);
  if (!anonymous && (e.from.node != p.id || e.from.creation != p.creation)) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    detail::log().warn(
        "dropped {} from {}: its sender {} is not a process of that node's incarnation {}",
        wire::to_string(d.k), p.name, to_string(e.from), p.creation);
    if (!p.routing_id.empty()) banned_.insert(p.routing_id);
    detail::log().warn("disconnecting {}: protocol violation (forged sender)", p.name);
    link_event(t, p, link_event::violated, "protocol violation (forged sender)");
    return;
  }
  if (e.kind == sig::call && over_budget(p)) {
    note_shed(p);  // its reply could not go out: the caller does not read what we send
    return;
  }
  pid target = d.to;
  bool resolved = true;
  if (!d.to_name.empty()) {
    auto r = rt_.resolve(d.to_name);
    resolved = r.has_value();
    if (r) target = *r;
  }
  const pid from = e.from;
  const std::uint64_t ref = e.ref;
  const sig kind = e.kind;
  // A monitor or a link is open only once it reached its target; anything else (a reply) is
  // recorded whatever happens to it.
  const bool opens = kind == sig::monitor || kind == sig::link;
  if (!opens) p.book.received(kind, target, from, ref);
  const bool local = resolved && target.node == rt_.node_id();
  if (local && detail::deliver(rt_, target, std::move(d.env))) {
    if (opens) p.book.received(kind, target, from, ref);
    return;
  }
  // The target is gone (or never was): answer as a dead local process would, speaking for it
  // (its node, so the caller's node accepts the answer).
  const std::string what =
      d.to_name.empty() ? to_string(target) : "a process registered as '" + d.to_name + "'";
  const pid speaker = local ? target : pid{rt_.node_id(), 0, rt_.creation()};
  std::string message =
      !d.to_name.empty() && !resolved
          ? "no process registered as '" + d.to_name + "' on " + rt_.node_name()
      : resolved && !local
          // A global name held on another node: this node does not relay (the reply could
          // not reach a client connected to this node only); the client asks the holder.
          ? "'" + d.to_name + "' is registered to " + to_string(target) +
                " on another node: send it there (global_list says which)"
          : "no process " + what + " on " + rt_.node_name();
  detail::answer_for(rt_, kind, from, speaker, ref,
                     error{errc::noproc, std::move(message), exit_reason::noproc()});
}

void transport::connect(const std::string& endpoint) {
  {
    std::lock_guard<std::mutex> l(connects_mutex_);
    connects_.push_back(endpoint);
  }
  connects_pending_.store(true, std::memory_order_relaxed);
  detail::wake_io(rt_);
}

void transport::set_seeds(std::vector<std::string> endpoints) {
  std::erase_if(endpoints, [&](const std::string& e) { return is_self(e); });
  {
    // seeds() says at once (otter-node waits for the seeds there are).
    std::lock_guard<std::mutex> l(seeds_mutex_);
    std::erase_if(seeds_, [&](const seed_status& s) {
      return std::find(endpoints.begin(), endpoints.end(), s.endpoint) == endpoints.end();
    });
    for (const auto& ep : endpoints) {
      const bool known = std::any_of(seeds_.begin(), seeds_.end(),
                                     [&](const seed_status& s) { return s.endpoint == ep; });
      if (!known) seeds_.push_back(seed_status{ep, seed_answer::none, {}, {}, 0});
    }
  }
  {
    std::lock_guard<std::mutex> l(connects_mutex_);
    new_seeds_ = std::move(endpoints);
  }
  connects_pending_.store(true, std::memory_order_relaxed);
  detail::wake_io(rt_);
}

void transport::apply_seeds(const io_token& t, const std::vector<std::string>& endpoints) {
  const std::set<std::string> wanted(endpoints.begin(), endpoints.end());
  other_seeds_ = wanted.empty() ? 0 : wanted.size() - 1;
  for (auto& [ep, c] : connections_) {
    if (c.seed && wanted.count(ep) == 0) c.seed = false;  // closed once unused (tick)
  }
  for (const auto& ep : wanted) {
    connection& c = connect_to(t, ep);
    if (c.seed) continue;
    c.seed = true;
    const peer* p = c.peer_id != 0 ? find_peer(c.peer_id) : nullptr;
    if (p == nullptr || !net_detail::out_done(p->state)) send_hello(t, c);
  }
}

void transport::connect_requested(const io_token& t) {
  if (!connects_pending_.exchange(false, std::memory_order_relaxed)) return;
  std::vector<std::string> eps;
  std::optional<std::vector<std::string>> seeds;
  {
    std::lock_guard<std::mutex> l(connects_mutex_);
    eps.swap(connects_);
    seeds.swap(new_seeds_);
  }
  if (seeds) apply_seeds(t, *seeds);
  for (const auto& ep : eps) {
    if (is_self(ep)) continue;
    connection& c = connect_to(t, ep);
    c.seed = true;  // asked for: kept while unused
    send_hello(t, c);
  }
}

}  // namespace otter
