#include "zmq_io.hpp"

#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "otter/detail/runtime_ops.hpp"
#include "otter/log.hpp"
#include "otter/node.hpp"

namespace otter::net_detail {

namespace {

std::atomic<int> monitor_counter{0};

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

zmq_io::zmq_io(zmq_options opts) : opts_(std::move(opts)), ctx_(1) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1 failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_key;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  if (!opts_.listen.empty()) bind();
}

zmq::socket_t* zmq_io::socket_of(std::uint64_t key) {
  switch (key) {
    case router_key: return router_.get();
    case zap_key: return zap_.get();
    case monitor_key: return monitor_.get();
    default: break;
  }
  if (key < dealer_key(0)) return nullptr;
  auto it = dealers_.find(conn_of_key(key));
  if (it == dealers_.end()) return nullptr;
  return key == dealer_monitor_key(it->first) ? it->second.monitor.get() : it->second.socket.get();
}

void zmq_io::watch(std::uint64_t key, zmq::socket_t& s) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = key;
  const int fd = s.get(zmq::sockopt::fd);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  }
  check_.insert(key);  // anything already there is read at the next poll
}

void zmq_io::unwatch(zmq::socket_t& s) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.get(zmq::sockopt::fd), nullptr);
}

zmq_io::~zmq_io() {
  dealers_.clear();
  monitor_.reset();
  router_.reset();
  zap_.reset();
  if (!shut_) {
    ctx_.shutdown();
    ctx_.close();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void zmq_io::bind() {
  if (opts_.secure) {
    zap_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::rep);
    zap_->set(zmq::sockopt::linger, 0);
    zap_->bind("inproc://zeromq.zap.01");
  }
  router_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
  auto& r = *router_;
  r.set(zmq::sockopt::linger, 0);
  r.set(zmq::sockopt::router_mandatory, 1);
  r.set(zmq::sockopt::router_handover, 1);
  r.set(zmq::sockopt::maxmsgsize, opts_.max_message_bytes);
  r.set(zmq::sockopt::sndhwm, opts_.high_water_mark);
  r.set(zmq::sockopt::rcvhwm, opts_.high_water_mark);
  // A connection that has not finished ZeroMQ's handshake by then (idle, or not speaking
  // ZMTP) is closed: it holds a descriptor the node may need for its peers.
  r.set(zmq::sockopt::handshake_ivl, static_cast<int>(net_defaults::handshake_timeout.count()));
  if (opts_.secure) {
    r.set(zmq::sockopt::curve_server, 1);
    set_key(r, ZMQ_CURVE_SECRETKEY, opts_.keys.server_secret);
    r.set(zmq::sockopt::zap_domain, "otter");
  }
  const std::string mon = "inproc://otter-monitor-" + std::to_string(monitor_counter++);
  if (zmq_socket_monitor(r.handle(), mon.c_str(),
                         ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                             ZMQ_EVENT_ACCEPT_FAILED) == 0) {
    monitor_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pair);
    monitor_->connect(mon);
  }
  if (opts_.listen.find('[') != std::string::npos) r.set(zmq::sockopt::ipv6, 1);
  r.bind(opts_.listen);
  endpoint_ = r.get(zmq::sockopt::last_endpoint);
  watch(router_key, r);
  if (zap_) watch(zap_key, *zap_);
  if (monitor_) watch(monitor_key, *monitor_);
}

std::unique_ptr<zmq::socket_t> zmq_io::make_dealer(const std::string& endpoint) {
  auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  // Only for IPv6 literals (an AAAA record of a dns: seed): with it on, ZeroMQ resolves a host
  // name to its first IPv6 address (localhost: ::1), which a node bound to IPv4 does not serve.
  if (endpoint.find('[') != std::string::npos) s->set(zmq::sockopt::ipv6, 1);
  s->set(zmq::sockopt::linger, 0);
  s->set(zmq::sockopt::immediate, 1);  // no queueing to a peer that is not connected
  s->set(zmq::sockopt::routing_id, opts_.routing_id);
  s->set(zmq::sockopt::maxmsgsize, opts_.max_message_bytes);
  s->set(zmq::sockopt::sndhwm, opts_.high_water_mark);
  s->set(zmq::sockopt::rcvhwm, opts_.high_water_mark);
  s->set(zmq::sockopt::reconnect_ivl, 100);
  s->set(zmq::sockopt::reconnect_ivl_max, 1000);
  if (opts_.secure) {
    set_key(*s, ZMQ_CURVE_SERVERKEY, opts_.keys.server_public);
    set_key(*s, ZMQ_CURVE_PUBLICKEY, opts_.keys.client_public);
    set_key(*s, ZMQ_CURVE_SECRETKEY, opts_.keys.client_secret);
  }
  return s;
}

void zmq_io::watch_dealer(conn_id c, dealer& d) {
  if (opts_.secure) {
    // The monitor is attached before connect() so that no handshake event is missed.
    const std::string mon = "inproc://otter-monitor-" + std::to_string(monitor_counter++);
    if (zmq_socket_monitor(d.socket->handle(), mon.c_str(),
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
      d.monitor = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pair);
      d.monitor->set(zmq::sockopt::linger, 0);
      d.monitor->connect(mon);
      watch(dealer_monitor_key(c), *d.monitor);
    }
  }
  d.socket->connect(d.endpoint);
  watch(dealer_key(c), *d.socket);
}

void zmq_io::unwatch_dealer(conn_id c, dealer& d) {
  unwatch(*d.socket);
  if (d.monitor) {
    (void)zmq_socket_monitor(d.socket->handle(), nullptr, 0);
    unwatch(*d.monitor);
    d.monitor.reset();
  }
  check_.erase(dealer_key(c));
  check_.erase(dealer_monitor_key(c));
}

conn_id zmq_io::connect(const io_token&, const std::string& endpoint) {
  const conn_id c = next_conn_++;
  auto& d = dealers_.emplace(c, dealer{endpoint, make_dealer(endpoint), nullptr}).first->second;
  watch_dealer(c, d);
  return c;
}

void zmq_io::reset(const io_token&, conn_id c) {
  auto it = dealers_.find(c);
  if (it == dealers_.end()) return;
  unwatch_dealer(c, it->second);
  it->second.socket = make_dealer(it->second.endpoint);
  watch_dealer(c, it->second);
}

void zmq_io::close(const io_token&, conn_id c) {
  auto it = dealers_.find(c);
  if (it == dealers_.end()) return;
  unwatch_dealer(c, it->second);
  dealers_.erase(it);
}

send_status zmq_io::send(const io_token&, conn_id c, std::string_view frame) {
  auto it = dealers_.find(c);
  if (it == dealers_.end()) return send_status::unreachable;
  try {
    auto sent =
        it->second.socket->send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
    check_.insert(dealer_key(c));  // a send can take the signal of a message that came in
    return sent ? send_status::sent : send_status::would_block;
  } catch (const zmq::error_t& e) {
    return e.num() == EAGAIN ? send_status::would_block : send_status::unreachable;
  }
}

send_status zmq_io::reply(const io_token&, const std::string& routing_id, std::string_view frame) {
  if (!router_) return send_status::unreachable;
  std::array<zmq::const_buffer, 2> msg = {zmq::buffer(routing_id),
                                          zmq::buffer(frame.data(), frame.size())};
  try {
    auto sent = zmq::send_multipart(*router_, msg, zmq::send_flags::dontwait);
    check_.insert(router_key);  // a send can take the signal of a message that came in
    return sent ? send_status::sent : send_status::would_block;
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH (ROUTER_MANDATORY): that connection is gone.
    return e.num() == EAGAIN ? send_status::would_block : send_status::unreachable;
  }
}

void zmq_io::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void zmq_io::poll(const io_token& t, link_events& events, std::chrono::milliseconds timeout) {
  if (shut_) return;
  const auto readable = [&](std::uint64_t key) {
    zmq::socket_t* s = socket_of(key);  // ZMQ_EVENTS also clears its ZMQ_FD
    return s != nullptr && (s->get(zmq::sockopt::events) & ZMQ_POLLIN) != 0;
  };
  std::set<std::uint64_t> ready;
  for (std::uint64_t key : check_) {
    if (readable(key)) ready.insert(key);
  }
  check_.clear();
  std::array<epoll_event, 64> evs;
  const auto epoll = [&](int ms) {
    return ::epoll_wait(epoll_fd_, evs.data(), static_cast<int>(evs.size()), ms);
  };
  int n = 0;
  if (!ready.empty() || timeout.count() == 0) {
    n = epoll(0);
  } else {
    // Waking a sleeping thread costs ~10-20 us on a VM, and a round trip through ZeroMQ wakes
    // several; while messages come densely (the last two waits each ended within busy_window),
    // poll for up to busy_poll first, yielding the core to whatever else is runnable on it
    // (ZeroMQ's I/O thread), as Erlang's schedulers spin before they sleep. An idle node
    // (a few heartbeats a second) never does.
    const auto start = std::chrono::steady_clock::now();
    if (opts_.busy_poll.count() > 0 && short_waits_ >= 2) {
      const auto until = start + opts_.busy_poll;
      while ((n = epoll(0)) == 0 && std::chrono::steady_clock::now() < until) ::sched_yield();
    }
    if (n == 0) n = epoll(static_cast<int>(timeout.count()));
    const bool short_wait = n > 0 && std::chrono::steady_clock::now() - start < busy_window;
    short_waits_ = short_wait ? std::min(short_waits_ + 1, 2) : 0;
  }
  for (int i = 0; i < n; ++i) {
    const std::uint64_t key = evs[static_cast<std::size_t>(i)].data.u64;
    if (key == wake_key) {
      std::uint64_t v;
      [[maybe_unused]] auto r = ::read(wake_fd_, &v, sizeof v);
    } else if (ready.count(key) == 0 && readable(key)) {
      ready.insert(key);
    }
  }
  if (n < 0 && errno != EINTR) detail::log().warn("epoll_wait failed: {}", std::strerror(errno));
  if (!ready.empty()) detail::io_activity();  // before the first delivery (see io_driver::wait)
  // In key order: the ZAP handler and the monitor (handshakes), the router, the dealers. A
  // frame handled may close or replace connections: socket_of finds only those left. What is
  // read is looked at again at the next poll (the reads are bounded).
  for (std::uint64_t key : ready) {
    if (shut_) return;
    check_.insert(key);
    switch (key) {
      case zap_key: read_zap(); break;
      case monitor_key: read_monitor(); break;
      case router_key: read_router(t, events); break;
      default:
        if (key == dealer_monitor_key(conn_of_key(key))) {
          read_dealer_monitor(t, events, conn_of_key(key));
        } else {
          read_dealer(t, events, conn_of_key(key));
        }
        break;
    }
  }
}

void zmq_io::read_router(const io_token& t, link_events& events) {
  // Bounded in frames and in bytes: the processes that what was read made runnable (a tool's
  // call among a flood's) run before the next read, and heartbeats and other peers get their
  // turn. A full 64 KiB frame of small messages takes about a millisecond to decode.
  std::size_t bytes = 0;
  for (int n = 0; n < max_read_frames && bytes < max_read_bytes; ++n) {
    zmq::message_t id, body;
    if (!router_->recv(id, zmq::recv_flags::dontwait)) return;
    if (!id.more()) continue;
    (void)router_->recv(body, zmq::recv_flags::none);
    while (body.more()) {  // a well-formed peer sends one frame; drop the rest
      zmq::message_t extra;
      (void)router_->recv(extra, zmq::recv_flags::none);
      body.move(extra);
    }
    bytes += body.size();
    events.on_inbound(t, id.to_string(), peer_address(body),
                      std::string_view(static_cast<const char*>(body.data()), body.size()));
    if (shut_ || !router_) return;
  }
}

void zmq_io::read_dealer(const io_token& t, link_events& events, conn_id c) {
  std::size_t bytes = 0;  // bounded as read_router
  for (int n = 0; n < max_read_frames && bytes < max_read_bytes; ++n) {
    auto it = dealers_.find(c);
    if (it == dealers_.end()) return;
    zmq::message_t body;
    if (!it->second.socket->recv(body, zmq::recv_flags::dontwait)) return;
    bytes += body.size();
    events.on_outbound(t, c, std::string_view(static_cast<const char*>(body.data()), body.size()));
  }
}

void zmq_io::read_dealer_monitor(const io_token& t, link_events& events, conn_id c) {
  for (;;) {
    auto it = dealers_.find(c);
    if (it == dealers_.end() || !it->second.monitor) return;
    std::vector<zmq::message_t> ev;
    if (!zmq::recv_multipart(*it->second.monitor, std::back_inserter(ev),
                             zmq::recv_flags::dontwait)) {
      return;
    }
    if (ev.size() < 2 || ev[0].size() < 6) continue;
    std::uint16_t event;
    std::memcpy(&event, ev[0].data(), sizeof event);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      // It holds the secret: nothing more to learn from this connection's handshakes.
      unwatch(*it->second.monitor);
      (void)zmq_socket_monitor(it->second.socket->handle(), nullptr, 0);
      it->second.monitor.reset();
      check_.erase(dealer_monitor_key(c));
      return;
    }
    // The server could not open our CURVE hello (it holds another secret: it drops the
    // connection, NO_DETAIL here), or its ZAP handler refused our key (AUTH), or it does not
    // speak CURVE (PROTOCOL).
    events.on_handshake_failed(
        t, c,
        event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            ? "the node refused our key in the encrypted handshake: another cluster secret"
            : "the encrypted handshake failed: the node holds another cluster secret, or runs "
              "with encryption configured otherwise");
  }
}

void zmq_io::read_zap() {
  for (;;) {
    std::vector<zmq::message_t> req;
    if (!zmq::recv_multipart(*zap_, std::back_inserter(req), zmq::recv_flags::dontwait)) return;
    if (req.size() < 6) continue;
    const std::string request_id = req[1].to_string();
    const std::string address = req[3].to_string();
    const std::string mechanism = req[5].to_string();
    bool ok = mechanism == "CURVE" && req.size() >= 7 && req[6].size() == 32 &&
              std::memcmp(req[6].data(), opts_.keys.client_public.data(), 32) == 0;
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

void zmq_io::read_monitor() {
  for (;;) {
    std::vector<zmq::message_t> ev;
    if (!zmq::recv_multipart(*monitor_, std::back_inserter(ev), zmq::recv_flags::dontwait)) return;
    if (ev.size() < 2 || ev[0].size() < 6) continue;
    std::uint16_t event;
    std::memcpy(&event, ev[0].data(), sizeof event);
    if (event == ZMQ_EVENT_ACCEPT_FAILED) {
      // Out of descriptors, most often (EMFILE): ZeroMQ retries at once, as long as the
      // connection waits in the backlog. Logged once a second at most.
      std::uint32_t err = 0;
      std::memcpy(&err, static_cast<const char*>(ev[0].data()) + 2, sizeof err);
      if (std::uint64_t more = 0; accept_failed_log_.allow(more)) {
        detail::log().warn(
            "cannot accept a connection on {}: {}{} (connections and the open file limit: "
            "ulimit -n)",
            ev[1].to_string(), std::strerror(static_cast<int>(err)),
            more > 0 ? " (" + std::to_string(more) + " more failures since the last such line)"
                     : std::string());
      }
      continue;
    }
    rejected_.fetch_add(1, std::memory_order_relaxed);
    log_refusal(ev[1].to_string(),
                std::string("handshake failed (") +
                    (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "authentication" : "protocol") +
                    "): a peer without the cluster secret, or with encryption configured "
                    "differently");
  }
}

void zmq_io::log_refusal(const std::string& address, const std::string& why) {
  // The port changes with every reconnection: group by host.
  const std::string host = address.substr(0, address.rfind(':'));
  auto& [last, suppressed] = refusal_log_[host];
  const auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::seconds(10)) {
    ++suppressed;
    return;
  }
  if (suppressed > 0) {
    detail::log().warn(
        "refused a connection from {}: {} ({} more refusals from {} in the last 10 s)", address,
        why, suppressed, host);
  } else {
    detail::log().warn("refused a connection from {}: {}", address, why);
  }
  last = now;
  suppressed = 0;
  if (refusal_log_.size() > 10000) refusal_log_.clear();
}

void zmq_io::shut(const io_token&, std::chrono::milliseconds linger) {
  if (shut_) return;
  // Let ZeroMQ's I/O thread put what is queued (goodbyes) on the wire before closing.
  for (auto& [c, d] : dealers_)
    d.socket->set(zmq::sockopt::linger, static_cast<int>(linger.count()));
  if (router_) router_->set(zmq::sockopt::linger, static_cast<int>(linger.count()));
  dealers_.clear();
  monitor_.reset();
  router_.reset();
  zap_.reset();
  shut_ = true;
  ctx_.shutdown();
  ctx_.close();
}

}  // namespace otter::net_detail
