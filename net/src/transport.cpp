#include "transport.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <thread>

#include "otter/log.hpp"

namespace otter {

using detail::envelope;
using detail::sig;
using namespace std::chrono_literals;

namespace {

std::atomic<int> monitor_counter{0};
// True while this thread serves the transport (it is the one that drains the queue).
thread_local bool tl_serving = false;
struct serving_scope {
  serving_scope() { tl_serving = true; }
  ~serving_scope() { tl_serving = false; }
};

void set_key(zmq::socket_t& s, int option, const std::array<std::uint8_t, 32>& key) {
  if (zmq_setsockopt(s.handle(), option, key.data(), key.size()) != 0) {
    throw std::runtime_error(std::string("cannot set CURVE key: ") + zmq_strerror(zmq_errno()));
  }
}

std::string peer_address(zmq::message_t& m) {
  try {
    const char* a = m.gets("Peer-Address");
    return a != nullptr ? a : "?";
  } catch (...) {
    return "?";
  }
}

}  // namespace

transport::transport(runtime& rt, const node_options& opts, cluster_keys keys)
    : rt_(rt), opts_(opts), keys_(keys), secure_(!opts.insecure), ctx_(1) {
  routing_id_ = rt.node_name() + "#" + std::to_string(rt.creation());
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  outq_.try_block();
}

transport::~transport() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void transport::make_router() {
  if (secure_) {
    zap_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::rep);
    zap_->set(zmq::sockopt::linger, 0);
    zap_->bind("inproc://zeromq.zap.01");
  }
  router_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
  auto& r = *router_;
  r.set(zmq::sockopt::linger, 0);
  r.set(zmq::sockopt::router_mandatory, 1);
  r.set(zmq::sockopt::router_handover, 1);
  r.set(zmq::sockopt::maxmsgsize, net_defaults::max_message_bytes);
  r.set(zmq::sockopt::sndhwm, net_defaults::high_water_mark);
  r.set(zmq::sockopt::rcvhwm, net_defaults::high_water_mark);
  if (secure_) {
    r.set(zmq::sockopt::curve_server, 1);
    set_key(r, ZMQ_CURVE_SECRETKEY, keys_.server_secret);
    r.set(zmq::sockopt::zap_domain, "otter");
  }
  const std::string mon = "inproc://otter-monitor-" + std::to_string(monitor_counter++);
  if (zmq_socket_monitor(r.handle(), mon.c_str(),
                         ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
    monitor_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pair);
    monitor_->connect(mon);
  }
  r.bind(opts_.listen);
  endpoint_ = r.get(zmq::sockopt::last_endpoint);
}

void transport::start() {
  if (!opts_.hidden) make_router();
  for (const auto& seed : opts_.seeds) {
    if (seed == endpoint_) continue;
    dealer_conn& d = connect_to(seed);
    d.seed = true;
    send_hello(d);
  }
  next_tick_ = clock::now() + opts_.heartbeat_interval;
  items_dirty_ = true;
}

void transport::stop() {
  if (stopped_.exchange(true)) return;
  // Goodbye: peers drop us at once instead of waiting for the failure timeout.
  msgpack::sbuffer bye;
  wire::encode_bye(bye);
  for (auto& [id, p] : peers_) {
    if (p->up && !blocked(p->name)) {
      flush(*p);
      send_frame(*p, std::string(bye.data(), bye.size()));
    }
  }
  // Let ZeroMQ's I/O thread put the goodbyes on the wire before the sockets close.
  for (auto& [ep, d] : dealers_) d.socket->set(zmq::sockopt::linger, 200);
  if (router_) router_->set(zmq::sockopt::linger, 200);
  for (auto& [id, p] : peers_) p->held.clear();
  dealers_.clear();
  monitor_.reset();
  router_.reset();
  zap_.reset();
  while (detail::envelope* e = outq_.take_all()) {
    while (e != nullptr) {
      detail::envelope* next = e->next;
      delete e;
      e = next;
    }
  }
  ctx_.shutdown();
  ctx_.close();
}

wire::hello transport::make_hello() const {
  wire::hello h;
  h.name = rt_.node_name();
  h.creation = rt_.creation();
  h.hidden = opts_.hidden;
  h.endpoint = endpoint_;
  h.proof = keyed_proof(keys_, wire::proof_input(h));
  return h;
}

std::vector<wire::member> transport::member_list() const {
  std::vector<wire::member> out;
  for (const auto& [id, p] : peers_) {
    if (p->up && !p->hidden) out.push_back({p->name, p->endpoint, p->creation});
  }
  return out;
}

transport::dealer_conn& transport::connect_to(const std::string& endpoint) {
  auto it = dealers_.find(endpoint);
  if (it != dealers_.end()) return it->second;
  dealer_conn d;
  d.endpoint = endpoint;
  d.socket = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  auto& s = *d.socket;
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::immediate, 1);  // no queueing to a peer that is not connected
  s.set(zmq::sockopt::routing_id, routing_id_);
  s.set(zmq::sockopt::maxmsgsize, net_defaults::max_message_bytes);
  s.set(zmq::sockopt::sndhwm, net_defaults::high_water_mark);
  s.set(zmq::sockopt::rcvhwm, net_defaults::high_water_mark);
  s.set(zmq::sockopt::reconnect_ivl, 100);
  s.set(zmq::sockopt::reconnect_ivl_max, 1000);
  if (secure_) {
    set_key(s, ZMQ_CURVE_SERVERKEY, keys_.server_public);
    set_key(s, ZMQ_CURVE_PUBLICKEY, keys_.client_public);
    set_key(s, ZMQ_CURVE_SECRETKEY, keys_.client_secret);
  }
  s.connect(endpoint);
  d.last_useful = clock::now();
  items_dirty_ = true;
  return dealers_.emplace(endpoint, std::move(d)).first->second;
}

void transport::send_hello(dealer_conn& d) {
  const auto now = clock::now();
  if (now < d.refused_until) return;
  d.last_hello = now;
  msgpack::sbuffer buf;
  wire::encode_hello(buf, make_hello());
  (void)d.socket->send(zmq::buffer(buf.data(), buf.size()), zmq::send_flags::dontwait);
}

// ---------------------------------------------------------------------------------------------
// Routing (any thread)

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
  return enqueue(std::move(item));
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
  return enqueue(std::move(item));
}

bool transport::enqueue(std::unique_ptr<out_item> item) {
  const std::size_t size = item->bytes.size();
  // Back-pressure: a sender that outruns the network waits; nothing is dropped. Not the
  // thread serving the sockets: it is the one that drains the queue.
  while (!tl_serving &&
         out_bytes_.load(std::memory_order_relaxed) > net_defaults::max_outbound_bytes) {
    if (stopped_) return false;
    if (!detail::try_service_io(rt_)) std::this_thread::sleep_for(50us);
  }
  out_bytes_.fetch_add(size, std::memory_order_relaxed);
  detail::network_send(rt_, outq_.push(item.release()) == detail::inbox::push_result::queued_wake);
  return true;
}

bool transport::wants_service() const noexcept {
  return outq_.has_items() || backlogged_.load(std::memory_order_relaxed);
}

void transport::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

// ---------------------------------------------------------------------------------------------
// The I/O side (the worker holding the I/O token)

void transport::wait(std::chrono::milliseconds max) {
  // No shortcut on a non-empty queue: whoever queues wakes us (the eventfd is sticky), so the
  // poller does not spin on a queue another worker is still filling.
  if (stopped_) return;
  serving_scope serving;
  const auto now = clock::now();
  auto until_tick = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick_ - now);
  if (until_tick < 0ms) until_tick = 0ms;
  // Items left after a bounded drain: their senders were not told to wake us, so look again
  // soon (a worker still filling the queue flushes it itself).
  if (outq_.has_items()) max = std::min(max, 1ms);
  try {
    poll_sockets(std::min(max, until_tick));
  } catch (const std::exception& e) {
    otter::detail::log().error("transport error while polling: {}", e.what());
  }
}

void transport::service() {
  if (stopped_) return;
  serving_scope serving;
  try {
    connect_requested();
    reset_dealers();
    poll_sockets(0ms);
    drain_outbound();
    if (clock::now() >= next_tick_) tick();
  } catch (const std::exception& e) {
    // A ZeroMQ error (no more sockets, a bad endpoint from a peer) must not end the node.
    otter::detail::log().error("transport error: {}", e.what());
  }
}

void transport::poll_sockets(std::chrono::milliseconds timeout) {
  if (items_dirty_) {
    items_.clear();
    items_.push_back({nullptr, wake_fd_, ZMQ_POLLIN, 0});
    if (router_) items_.push_back({router_->handle(), 0, ZMQ_POLLIN, 0});
    if (zap_) items_.push_back({zap_->handle(), 0, ZMQ_POLLIN, 0});
    if (monitor_) items_.push_back({monitor_->handle(), 0, ZMQ_POLLIN, 0});
    for (auto& [ep, d] : dealers_) items_.push_back({d.socket->handle(), 0, ZMQ_POLLIN, 0});
    items_dirty_ = false;
  }
  try {
    if (zmq::poll(items_, timeout) <= 0) return;
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) otter::detail::log().warn("poll failed: {}", e.what());
    return;
  }
  std::size_t i = 0;
  if (items_[i++].revents & ZMQ_POLLIN) {
    std::uint64_t v;
    [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
  }
  const bool router_ready = router_ && (items_[i++].revents & ZMQ_POLLIN);
  const bool zap_ready = zap_ && (items_[i++].revents & ZMQ_POLLIN);
  const bool monitor_ready = monitor_ && (items_[i++].revents & ZMQ_POLLIN);
  std::vector<dealer_conn*> ready;
  for (auto& [ep, d] : dealers_) {
    if (i < items_.size() && (items_[i++].revents & ZMQ_POLLIN)) ready.push_back(&d);
  }
  if (zap_ready) read_zap();
  if (monitor_ready) read_monitor();
  if (router_ready) read_router();
  for (dealer_conn* d : ready) read_dealer(*d);
}

void transport::read_zap() {
  for (;;) {
    std::vector<zmq::message_t> req;
    if (!zmq::recv_multipart(*zap_, std::back_inserter(req), zmq::recv_flags::dontwait)) return;
    if (req.size() < 6) continue;
    const std::string request_id = req[1].to_string();
    const std::string address = req[3].to_string();
    const std::string mechanism = req[5].to_string();
    bool ok = mechanism == "CURVE" && req.size() >= 7 && req[6].size() == 32 &&
              std::memcmp(req[6].data(), keys_.client_public.data(), 32) == 0;
    if (!ok) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      log_refusal(address, "it does not hold the cluster secret (mechanism " + mechanism + ")");
    }
    std::array<zmq::const_buffer, 6> rep = {
        zmq::str_buffer("1.0"),
        zmq::buffer(request_id),
        ok ? zmq::str_buffer("200") : zmq::str_buffer("400"),
        ok ? zmq::str_buffer("OK") : zmq::str_buffer("not a member of this cluster"),
        zmq::str_buffer(""),
        zmq::str_buffer("")};
    (void)zmq::send_multipart(*zap_, rep, zmq::send_flags::dontwait);
  }
}

void transport::read_monitor() {
  for (;;) {
    std::vector<zmq::message_t> ev;
    if (!zmq::recv_multipart(*monitor_, std::back_inserter(ev), zmq::recv_flags::dontwait)) return;
    if (ev.size() < 2 || ev[0].size() < 6) continue;
    std::uint16_t event;
    std::memcpy(&event, ev[0].data(), sizeof event);
    rejected_.fetch_add(1, std::memory_order_relaxed);
    log_refusal(ev[1].to_string(),
                std::string("handshake failed (") +
                    (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "authentication" : "protocol") +
                    "): a peer without the cluster secret, or with encryption configured "
                    "differently");
  }
}

void transport::read_router() {
  for (int n = 0; n < 64; ++n) {  // bounded: heartbeats and other peers get their turn
    zmq::message_t id, body;
    if (!router_->recv(id, zmq::recv_flags::dontwait)) return;
    if (!id.more()) continue;
    (void)router_->recv(body, zmq::recv_flags::none);
    while (body.more()) {  // a well-formed peer sends one frame; drop the rest
      zmq::message_t extra;
      (void)router_->recv(extra, zmq::recv_flags::none);
      body.move(extra);
    }
    const std::string rid = id.to_string();
    if (banned_.count(rid) > 0) continue;
    handle_frame(static_cast<const char*>(body.data()), body.size(), peer_address(body), &rid,
                 nullptr);
  }
}

void transport::read_dealer(dealer_conn& d) {
  for (int n = 0; n < 64; ++n) {  // bounded: heartbeats and other peers get their turn
    zmq::message_t body;
    if (!d.socket->recv(body, zmq::recv_flags::dontwait)) return;
    handle_frame(static_cast<const char*>(body.data()), body.size(), d.endpoint, nullptr, &d);
  }
}

void transport::handle_frame(const char* data, std::size_t size, const std::string& address,
                             const std::string* routing_id, dealer_conn* via) {
  frames_in_.fetch_add(1, std::memory_order_relaxed);
  bytes_in_.fetch_add(size, std::memory_order_relaxed);
  peer* from_peer = nullptr;
  if (routing_id != nullptr) {
    auto it = conns_.find(*routing_id);
    if (it != conns_.end()) from_peer = find_peer(it->second);
  } else if (via->peer_id != 0) {
    from_peer = find_peer(via->peer_id);
  }
  bool stop = false;  // the rest of the frame is ignored (a goodbye, a protocol violation)
  auto result = wire::for_each_envelope(data, size, {}, [&](wire::decoded& d) {
    if (stop) return;
    env_in_.fetch_add(1, std::memory_order_relaxed);
    if (d.k == wire::kind::hello) {
      if (routing_id == nullptr) return;  // hellos go to a ROUTER
      handle_hello(d, *routing_id, address);
      auto it = conns_.find(*routing_id);
      from_peer = it != conns_.end() ? find_peer(it->second) : nullptr;
      return;
    }
    if (d.k == wire::kind::welcome) {
      if (via != nullptr) handle_welcome(d, *via);
      from_peer = via != nullptr && via->peer_id != 0 ? find_peer(via->peer_id) : nullptr;
      return;
    }
    if (d.k == wire::kind::refuse) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      otter::detail::log().error("{} refused us: {}", address, d.refuse_reason);
      if (via == nullptr) return;
      if (d.refuse_reason.rfind("handshake required", 0) == 0) {
        // It does not know us (it restarted): we are down for each other; shake hands again.
        if (peer* p = via->peer_id != 0 ? find_peer(via->peer_id) : nullptr) {
          declare_down(*p, "noconnection");
        }
        via->last_hello = {};
      } else {
        via->refused_until = clock::now() + 5s;
      }
      return;
    }
    if (from_peer != nullptr && routing_id != nullptr && !from_peer->inbound_ok) {
      // A peer we declared down, still talking on its old connection (a partition healing):
      // ignored until it shakes hands again, which it does once it finds us silent. Refusing
      // would make it declare us down in turn while we come back up: the two would knock each
      // other down for ever.
      stop = true;
      return;
    }
    if (from_peer == nullptr) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      otter::detail::log().warn("dropped {} from {} before its handshake", wire::to_string(d.k),
                                address);
      if (routing_id != nullptr) {
        msgpack::sbuffer buf;
        wire::encode_refuse(buf, "handshake required: send hello first");
        std::array<zmq::const_buffer, 2> msg = {zmq::buffer(*routing_id),
                                                zmq::buffer(buf.data(), buf.size())};
        try {
          (void)zmq::send_multipart(*router_, msg, zmq::send_flags::dontwait);
        } catch (const zmq::error_t&) {
        }
      }
      stop = true;
      return;
    }
    if (blocked(from_peer->name)) {
      stop = true;
      return;
    }
    from_peer->last_heard = clock::now();
    switch (d.k) {
      case wire::kind::heartbeat: break;
      case wire::kind::members: learn_members(d.members); break;
      case wire::kind::bye:
        declare_down(*from_peer, "shutdown");
        stop = true;
        break;
      default:
        handle_inbound_process(*from_peer, d);
        if (!from_peer->up && !from_peer->inbound_ok) stop = true;  // disconnected
        break;
    }
  });
  if (!result) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    otter::detail::log().warn("dropped a malformed frame from {} ({}): {}",
                              from_peer ? from_peer->name : std::string("an unidentified peer"),
                              address, result.err().message);
    if (from_peer != nullptr) {
      disconnect(*from_peer, "protocol violation (malformed frame)");
    } else if (routing_id != nullptr) {
      banned_.insert(*routing_id);
    }
  }
}

void transport::disconnect(peer& p, const std::string& why) {
  otter::detail::log().warn("disconnecting {}: {}", p.name, why);
  // Its connection to our ROUTER is ignored from now on (a restarted peer has another id).
  if (!p.routing_id.empty()) banned_.insert(p.routing_id);
  declare_down(p, why);
}

void transport::handle_hello(wire::decoded& d, const std::string& routing_id,
                             const std::string& address) {
  auto refuse = [&](const std::string& reason) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    otter::detail::log().warn("refused {} ('{}'): {}", address, d.hi.name, reason);
    msgpack::sbuffer buf;
    wire::encode_refuse(buf, reason);
    std::array<zmq::const_buffer, 2> msg = {zmq::buffer(routing_id),
                                            zmq::buffer(buf.data(), buf.size())};
    try {
      (void)zmq::send_multipart(*router_, msg, zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
    }
  };
  if (d.hi.version != wire::protocol_version) {
    refuse("protocol version " + std::to_string(d.hi.version) + " is not supported (this node " +
           "speaks version " + std::to_string(wire::protocol_version) + ")");
    return;
  }
  if (!proof_matches(keys_, wire::proof_input(d.hi), d.hi.proof)) {
    refuse("authentication failed: the hello was not made with this cluster's secret");
    return;
  }
  if (d.hi.name.empty() || d.hi.name == rt_.node_name()) {
    refuse("node name '" + d.hi.name + "' is empty or this node's own");
    return;
  }
  if (blocked(d.hi.name)) return;
  peer& p = peer_for(d.hi.name);
  if (p.creation != 0 && p.creation != d.hi.creation) {
    if (d.hi.creation < p.creation && p.up) {
      refuse("an incarnation of '" + d.hi.name + "' newer than " + std::to_string(d.hi.creation) +
             " is connected");
      return;
    }
    declare_down(p, "noconnection");  // it restarted: the old incarnation is gone
    p.outbound_ok = false;
  } else if (p.up && clock::now() - p.up_since > 5 * opts_.heartbeat_interval) {
    // A hello from a peer that has long been up: it declared us down (we were silent to it
    // for its failure timeout, while we still heard it) and starts over. What we sent it
    // meanwhile is lost: we are down for each other too, and both sides see nodedown and
    // nodeup (the registry resynchronises on those). Hellos repeated during a handshake come
    // within a few heartbeats of it.
    declare_down(p, "noconnection");
  }
  if (!p.routing_id.empty() && p.routing_id != routing_id) conns_.erase(p.routing_id);
  p.creation = d.hi.creation;
  p.hidden = d.hi.hidden;
  // The address it advertises, unless we already reach it by another (handle_welcome).
  if (!d.hi.hidden && (p.endpoint.empty() || !p.outbound_ok)) p.endpoint = d.hi.endpoint;
  p.routing_id = routing_id;
  p.inbound_ok = true;
  p.last_heard = clock::now();
  conns_[routing_id] = p.id;
  banned_.erase(routing_id);

  wire::welcome w;
  w.name = rt_.node_name();
  w.creation = rt_.creation();
  w.endpoint = endpoint_;
  w.members = member_list();
  msgpack::sbuffer buf;
  wire::encode_welcome(buf, w);
  std::array<zmq::const_buffer, 2> msg = {zmq::buffer(routing_id),
                                          zmq::buffer(buf.data(), buf.size())};
  try {
    (void)zmq::send_multipart(*router_, msg, zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
  }
  if (!p.hidden && !opts_.hidden && !p.endpoint.empty()) {
    dealer_conn& dc = connect_to(p.endpoint);
    if (!p.outbound_ok && clock::now() - dc.last_hello > 50ms) send_hello(dc);
  }
  maybe_up(p);
}

void transport::handle_welcome(wire::decoded& d, dealer_conn& via) {
  if (d.wel.version != wire::protocol_version || d.wel.name.empty() ||
      d.wel.name == rt_.node_name()) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    otter::detail::log().error("{} answered with an unusable welcome (version {}, name '{}')",
                               via.endpoint, d.wel.version, d.wel.name);
    return;
  }
  peer& p = peer_for(d.wel.name);
  if (blocked(p.name)) return;
  if (p.creation != 0 && p.creation != d.wel.creation) {
    declare_down(p, "noconnection");
    p.inbound_ok = false;
  }
  p.creation = d.wel.creation;
  p.endpoint = d.wel.endpoint.empty() ? via.endpoint : d.wel.endpoint;
  via.peer_id = p.id;
  p.outbound_ok = true;
  p.last_heard = clock::now();
  // The seed may be known by another address than the one it advertises: reach it by both.
  if (p.endpoint != via.endpoint && dealers_.count(p.endpoint) == 0) p.endpoint = via.endpoint;
  if (!opts_.hidden) learn_members(d.wel.members);
  maybe_up(p);
}

void transport::learn_members(const std::vector<wire::member>& members) {
  if (opts_.hidden) return;
  for (const auto& m : members) {
    if (m.name == rt_.node_name() || m.endpoint.empty() || blocked(m.name)) continue;
    peer* known = find_peer(node_id_of(m.name));
    if (known != nullptr && (known->up || known->outbound_ok)) continue;
    dealer_conn& dc = connect_to(m.endpoint);
    if (clock::now() - dc.last_hello > opts_.heartbeat_interval / 2) send_hello(dc);
  }
}

void transport::handle_inbound_process(peer& p, wire::decoded& d) {
  envelope& e = *d.env;
  // A peer speaks only for its own processes (tools may send anonymously).
  if (e.from.node != p.id && !(e.from.is_nil() && (e.kind == sig::info || e.kind == sig::cast))) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    otter::detail::log().warn("dropped {} from {}: its sender {} is not a process of that node",
                              wire::to_string(d.k), p.name, to_string(e.from));
    disconnect(p, "protocol violation (forged sender)");
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
  switch (kind) {
    case sig::reply:
    case sig::reply_error: p.pending_calls.erase({target, ref}); break;
    case sig::link: p.links.insert({target, from}); break;
    case sig::unlink:
    case sig::link_exit: p.links.erase({target, from}); break;
    case sig::monitor: p.in_monitors[ref] = {target, from}; break;
    case sig::demonitor: p.in_monitors.erase(ref); break;
    case sig::down: p.out_monitors.erase(ref); break;
    default: break;
  }
  const bool local = resolved && target.node == rt_.node_id();
  const bool delivered = local && detail::deliver(rt_, target, std::move(d.env));
  if (delivered) return;
  // The target is gone (or never was): answer as a dead local process would.
  const std::string what =
      d.to_name.empty() ? to_string(target) : "a process registered as '" + d.to_name + "'";
  // Answers speak for the dead target (its node, so the caller's node accepts them).
  const pid speaker = local ? target : pid{rt_.node_id(), 0, rt_.creation()};
  switch (kind) {
    case sig::call:
    case sig::stop_request: {
      std::string message =
          !d.to_name.empty() && !resolved
              ? "no process registered as '" + d.to_name + "' on " + rt_.node_name()
          : resolved && !local
              // A global name held on another node: this node does not relay (the reply could
              // not reach a client connected to this node only); the client asks the holder.
              ? "'" + d.to_name + "' is registered to " + to_string(target) +
                    " on another node: send it there (global_list says which)"
              : "no process " + what + " on " + rt_.node_name();
      auto err = std::make_unique<detail::error_envelope>(
          error{errc::noproc, std::move(message), exit_reason::noproc()});
      err->from = speaker;
      err->ref = ref;
      detail::deliver(rt_, from, std::move(err));
      break;
    }
    case sig::monitor: {
      p.in_monitors.erase(ref);
      detail::deliver(rt_, from,
                      detail::make_signal(sig::down, speaker, ref, exit_reason::noproc()));
      break;
    }
    case sig::link: {
      p.links.erase({target, from});
      detail::deliver(rt_, from,
                      detail::make_signal(sig::link_exit, speaker, 0, exit_reason::noproc()));
      break;
    }
    default: break;  // messages to the dead are dropped, as in Erlang
  }
}

void transport::drain_outbound() {
  for (int rounds = 0; rounds < 4; ++rounds) {
    detail::envelope* list = outq_.take_all();
    while (list != nullptr) {
      detail::envelope* next = list->next;
      list->next = nullptr;
      take_outbound(std::unique_ptr<out_item>(static_cast<out_item*>(list)));
      list = next;
    }
    for (auto& [id, p] : peers_) {
      if (!p->batch.empty()) flush(*p);
    }
    if (outq_.try_block()) break;
  }
  bool any_backlog = false;
  for (auto& [id, p] : peers_) {
    if (!p->backlog.empty()) {
      while (!p->backlog.empty() && send_frame(*p, p->backlog.front())) {
        out_bytes_.fetch_sub(std::min(out_bytes_.load(), p->backlog.front().size()));
        p->backlog.pop_front();
      }
      any_backlog = any_backlog || !p->backlog.empty();
    }
  }
  backlogged_.store(any_backlog, std::memory_order_relaxed);
}

void transport::take_outbound(std::unique_ptr<out_item> item) {
  peer* p = find_peer(item->to.node);
  if (p == nullptr || blocked(p->name)) {
    out_bytes_.fetch_sub(item->bytes.size(), std::memory_order_relaxed);
    fail_item(*item, false);
    return;
  }
  if (!item->by_name && p->creation != 0 && item->to.creation != p->creation) {
    out_bytes_.fetch_sub(item->bytes.size(), std::memory_order_relaxed);
    fail_item(*item, true);  // a Pid of an earlier incarnation: dead
    return;
  }
  if (!p->up) {
    if (p->endpoint.empty() && p->hidden) {
      out_bytes_.fetch_sub(item->bytes.size(), std::memory_order_relaxed);
      fail_item(*item, false);
      return;
    }
    p->held.push_back(std::move(item));  // sent when the handshake completes
    return;
  }
  send_to_peer(*p, std::move(item));
}

void transport::send_to_peer(peer& p, std::unique_ptr<out_item> item) {
  switch (item->kind) {
    case sig::call:
    case sig::stop_request: p.pending_calls.insert({item->from, item->ref}); break;
    case sig::monitor: p.out_monitors[item->ref] = {item->from, item->to}; break;
    case sig::demonitor: p.out_monitors.erase(item->ref); break;
    case sig::link: p.links.insert({item->from, item->to}); break;
    case sig::unlink:
    case sig::link_exit: p.links.erase({item->from, item->to}); break;
    case sig::down: p.in_monitors.erase(item->ref); break;
    default: break;
  }
  env_out_.fetch_add(1, std::memory_order_relaxed);
  out_bytes_.fetch_sub(item->bytes.size(), std::memory_order_relaxed);
  p.batch.append(item->bytes.data(), item->bytes.size());
  if (p.batch.size() >= net_defaults::batch_bytes) flush(p);
}

void transport::fail_item(const out_item& item, bool dead_incarnation) {
  const exit_reason why = dead_incarnation ? exit_reason::noproc() : exit_reason::noconnection();
  switch (item.kind) {
    case sig::call:
    case sig::stop_request:
      from(&rt_, item.from, item.ref)
          .reply_error(dead_incarnation
                           ? error{errc::noproc,
                                   "process " + to_string(item.to) +
                                       " belongs to an earlier incarnation of its node",
                                   why}
                           : error{errc::nodedown,
                                   "node of " + to_string(item.to) + " is down or unknown", why});
      break;
    case sig::monitor: {
      detail::deliver(rt_, item.from, detail::make_signal(sig::down, item.to, item.ref, why));
      break;
    }
    case sig::link: {
      detail::deliver(rt_, item.from, detail::make_signal(sig::link_exit, item.to, 0, why));
      break;
    }
    default: break;
  }
}

void transport::flush(peer& p) {
  if (p.batch.empty()) return;
  std::string frame;
  frame.swap(p.batch);
  if (!p.backlog.empty() || !send_frame(p, frame)) {
    out_bytes_.fetch_add(frame.size(), std::memory_order_relaxed);
    p.backlog.push_back(std::move(frame));
    backlogged_.store(true, std::memory_order_relaxed);
  }
}

bool transport::send_frame(peer& p, const std::string& bytes) {
  try {
    std::optional<std::size_t> sent;
    // Our connection to it if we have one (a hidden peer we reach through our ROUTER).
    dealer_conn* d = p.hidden && !opts_.hidden ? nullptr : dealer_for(p);
    if (d != nullptr) {
      sent = d->socket->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    } else if (opts_.hidden || !router_ || p.routing_id.empty()) {
      return true;  // no way to it: dropped with the peer
    } else {
      std::array<zmq::const_buffer, 2> msg = {zmq::buffer(p.routing_id), zmq::buffer(bytes)};
      sent = zmq::send_multipart(*router_, msg, zmq::send_flags::dontwait);
    }
    if (!sent) return false;  // high-water mark: keep it and retry
  } catch (const zmq::error_t& e) {
    if (e.num() == EAGAIN) return false;
    // EHOSTUNREACH: the peer's connection is gone; the failure detector will say so.
    return true;
  }
  frames_out_.fetch_add(1, std::memory_order_relaxed);
  bytes_out_.fetch_add(bytes.size(), std::memory_order_relaxed);
  return true;
}

void transport::send_control(peer& p, const msgpack::sbuffer& bytes) {
  flush(p);
  send_frame(p, std::string(bytes.data(), bytes.size()));
}

void transport::tick() {
  const auto now = clock::now();
  next_tick_ = now + opts_.heartbeat_interval;
  msgpack::sbuffer hb;
  wire::encode_heartbeat(hb);
  std::vector<peer*> silent;
  for (auto& [id, p] : peers_) {
    if (!p->up) continue;
    if (now - p->last_heard > opts_.failure_timeout) {
      silent.push_back(p.get());
      continue;
    }
    if (!blocked(p->name)) send_control(*p, hb);
  }
  for (peer* p : silent) {
    otter::detail::log().warn(
        "node {} is down: nothing heard for {} ms", p->name,
        std::chrono::duration_cast<std::chrono::milliseconds>(now - p->last_heard).count());
    declare_down(*p, "noconnection");
  }
  // Keep knocking where we are not (or no longer) welcome; close connections nobody has
  // answered on for a while (a peer that restarted elsewhere, a member that left), except
  // the seeds.
  constexpr auto forget_after = 30s;
  for (auto it = dealers_.begin(); it != dealers_.end();) {
    dealer_conn& d = it->second;
    peer* p = d.peer_id != 0 ? find_peer(d.peer_id) : nullptr;
    const bool in_use = p != nullptr && p->up && dealer_for(*p) == &d;
    if (in_use) d.last_useful = now;
    if (!in_use && !d.seed && now - d.last_useful > forget_after) {
      otter::detail::log().info("closing the unused connection to {}", d.endpoint);
      it = dealers_.erase(it);
      items_dirty_ = true;
      continue;
    }
    ++it;
    if (p != nullptr && (p->outbound_ok || blocked(p->name))) continue;
    if (now - d.last_hello >= opts_.heartbeat_interval) send_hello(d);
  }
  // Peers still handshaking for longer than the failure bound: give up on what they hold.
  for (auto& [id, p] : peers_) {
    if (!p->up && !p->held.empty() && now - p->last_heard > opts_.failure_timeout) {
      for (auto& item : p->held) {
        out_bytes_.fetch_sub(item->bytes.size(), std::memory_order_relaxed);
        fail_item(*item, false);
      }
      p->held.clear();
    }
  }
  std::erase_if(peers_, [&](const auto& kv) {
    const peer& p = *kv.second;
    if (!p.hidden || p.up) return false;
    if (auto c = conns_.find(p.routing_id); c != conns_.end() && c->second == p.id) conns_.erase(c);
    return true;
  });
}

transport::peer& transport::peer_for(const std::string& name) {
  const std::uint64_t id = node_id_of(name);
  auto& slot = peers_[id];
  if (!slot) {
    slot = std::make_unique<peer>();
    slot->name = name;
    slot->id = id;
    slot->last_heard = clock::now();
  }
  return *slot;
}

transport::peer* transport::find_peer(std::uint64_t id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second.get();
}

transport::dealer_conn* transport::dealer_for(const peer& p) {
  if (p.endpoint.empty()) {
    for (auto& [ep, d] : dealers_)
      if (d.peer_id == p.id) return &d;
    return nullptr;
  }
  auto it = dealers_.find(p.endpoint);
  if (it != dealers_.end()) return &it->second;
  for (auto& [ep, d] : dealers_)
    if (d.peer_id == p.id) return &d;
  return nullptr;
}

void transport::maybe_up(peer& p) {
  if (p.up) return;
  const bool in = p.inbound_ok || opts_.hidden;
  const bool out = p.outbound_ok || p.hidden;
  if (!in || !out) return;
  p.up = true;
  p.up_since = clock::now();
  p.last_heard = p.up_since;
  otter::detail::log().info("{} node {} is up ({}, creation {})", p.hidden ? "hidden" : "member",
                            p.name, p.endpoint.empty() ? "no endpoint" : p.endpoint, p.creation);
  auto held = std::move(p.held);
  p.held.clear();
  for (auto& item : held) take_outbound(std::move(item));
  flush(p);
  if (!p.hidden && !opts_.hidden) {
    // Tell everyone about everyone: the mesh closes whichever seed each node used.
    msgpack::sbuffer buf;
    wire::encode_members(buf, member_list());
    for (auto& [id, other] : peers_) {
      if (other->up && !other->hidden) send_control(*other, buf);
    }
  }
  publish_view();
  if (!p.hidden) notify_subscribers(p.name, true, "");
}

void transport::declare_down(peer& p, const std::string& reason) {
  const bool was_up = p.up;
  p.up = false;
  p.inbound_ok = false;
  p.outbound_ok = false;
  // Its connection to us stays known (see handle_frame); ours to it starts afresh, so that
  // nothing queued for the peer we gave up on arrives after the new handshake.
  if (dealer_conn* d = dealer_for(p)) resets_.push_back(d->endpoint);
  p.batch.clear();
  for (auto& f : p.backlog) out_bytes_.fetch_sub(std::min(out_bytes_.load(), f.size()));
  p.backlog.clear();
  for (auto& item : p.held) {
    out_bytes_.fetch_sub(item->bytes.size(), std::memory_order_relaxed);
    fail_item(*item, false);
  }
  p.held.clear();
  for (const auto& [caller, ref] : p.pending_calls) {
    from(&rt_, caller, ref)
        .reply_error(error{errc::nodedown, "node " + p.name + " went down (" + reason + ")",
                           exit_reason::noconnection()});
  }
  p.pending_calls.clear();
  for (const auto& [ref, lr] : p.out_monitors) {
    detail::deliver(rt_, lr.first,
                    detail::make_signal(sig::down, lr.second, ref, exit_reason::noconnection()));
  }
  p.out_monitors.clear();
  for (const auto& [local, remote] : p.links) {
    detail::deliver(rt_, local,
                    detail::make_signal(sig::link_exit, remote, 0, exit_reason::noconnection()));
  }
  p.links.clear();
  for (const auto& [ref, lr] : p.in_monitors) {
    detail::deliver(rt_, lr.first, detail::make_signal(sig::demonitor, lr.second, ref));
  }
  p.in_monitors.clear();
  if (was_up) {
    otter::detail::log().info("node {} is down ({})", p.name, reason);
    publish_view();
    if (!p.hidden) notify_subscribers(p.name, false, reason);
  }
}

void transport::publish_view() {
  std::vector<node_info> v;
  const auto now = clock::now();
  for (const auto& [id, p] : peers_) {
    if (!p->up) continue;
    v.push_back({p->name, p->endpoint, p->creation, p->hidden,
                 std::chrono::duration_cast<std::chrono::milliseconds>(now - p->up_since).count()});
  }
  std::lock_guard<std::mutex> l(view_mutex_);
  view_ = std::move(v);
}

std::vector<node_info> transport::peers(bool include_hidden) const {
  std::vector<node_info> out;
  std::lock_guard<std::mutex> l(view_mutex_);
  for (const auto& n : view_) {
    if (include_hidden || !n.hidden) out.push_back(n);
  }
  return out;
}

void transport::notify_subscribers(const std::string& node, bool up, const std::string& reason) {
  std::vector<pid> subs;
  std::vector<std::function<void(const std::string&, bool)>> hooks;
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

void transport::monitor_nodes(const pid& subscriber, bool on) {
  std::lock_guard<std::mutex> l(subs_mutex_);
  if (on) {
    subscribers_.insert(subscriber);
  } else {
    subscribers_.erase(subscriber);
  }
}

void transport::on_peer_event(std::function<void(const std::string&, bool)> fn) {
  std::lock_guard<std::mutex> l(subs_mutex_);
  hooks_.push_back(std::move(fn));
}

net_stats transport::stats() const {
  net_stats s;
  s.frames_in = frames_in_.load();
  s.frames_out = frames_out_.load();
  s.envelopes_in = env_in_.load();
  s.envelopes_out = env_out_.load();
  s.bytes_in = bytes_in_.load();
  s.bytes_out = bytes_out_.load();
  s.rejected = rejected_.load();
  return s;
}

void transport::connect(const std::string& endpoint) {
  {
    std::lock_guard<std::mutex> l(connects_mutex_);
    connects_.push_back(endpoint);
  }
  detail::wake_io(rt_);
}

void transport::reset_dealers() {
  std::vector<std::string> eps;
  eps.swap(resets_);
  for (const auto& ep : eps) {
    auto it = dealers_.find(ep);
    if (it == dealers_.end()) continue;
    const bool seed = it->second.seed;
    dealers_.erase(it);
    dealer_conn& d = connect_to(ep);
    d.seed = seed;
    send_hello(d);
  }
}

void transport::connect_requested() {
  std::vector<std::string> eps;
  {
    std::lock_guard<std::mutex> l(connects_mutex_);
    eps.swap(connects_);
  }
  for (const auto& ep : eps) {
    if (ep == endpoint_) continue;
    dealer_conn& d = connect_to(ep);
    d.seed = true;  // asked for: kept while unused
    send_hello(d);
    items_dirty_ = true;
  }
}

void transport::set_blocked(std::string_view node_name, bool on) {
  {
    std::lock_guard<std::mutex> l(blocked_mutex_);
    if (on) {
      blocked_.insert(std::string(node_name));
    } else {
      blocked_.erase(std::string(node_name));
    }
  }
  detail::wake_io(rt_);
}

bool transport::blocked(const std::string& name) {
  std::lock_guard<std::mutex> l(blocked_mutex_);
  return !blocked_.empty() && blocked_.count(name) > 0;
}

void transport::log_refusal(const std::string& address, const std::string& why) {
  // The port changes with every reconnection: group by host.
  const std::string host = address.substr(0, address.rfind(':'));
  auto& [last, suppressed] = refusal_log_[host];
  const auto now = clock::now();
  if (now - last < 10s) {
    ++suppressed;
    return;
  }
  if (suppressed > 0) {
    otter::detail::log().warn(
        "refused a connection from {}: {} ({} more refusals from {} in the last "
        "10 s)",
        address, why, suppressed, host);
  } else {
    otter::detail::log().warn("refused a connection from {}: {}", address, why);
  }
  last = now;
  suppressed = 0;
  if (refusal_log_.size() > 10000) refusal_log_.clear();
}

}  // namespace otter
