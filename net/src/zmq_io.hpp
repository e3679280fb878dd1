// Internal: link_io on ZeroMQ. One ROUTER bound at the node's endpoint takes every inbound
// connection; one DEALER per outbound connection; with CURVE, a ZAP handler admits exactly the
// cluster's client key, and a monitor socket reports handshakes that failed (a peer without
// the secret). An eventfd lets any thread interrupt the poll.
// Polling costs O(sockets that have something), not O(sockets): every socket's ZMQ_FD and the
// eventfd are in one epoll set; a socket whose ZMQ_FD fired, that was sent on, or that had
// messages left is asked ZMQ_EVENTS (which also clears its ZMQ_FD). zmq_poll asked every
// socket on every call: with a DEALER per member, an idle node of a 100-node cluster spent
// most of its CPU there.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "keys.hpp"
#include "link_io.hpp"
#include "otter/detail/log_limiter.hpp"

namespace otter::net_detail {

struct zmq_options {
  std::string listen;      // "" for hidden nodes: no ROUTER
  std::string routing_id;  // ours on every DEALER: <name>#<creation>
  bool secure = true;      // CURVE
  cluster_keys keys;
  std::int64_t max_message_bytes = 0;
  int high_water_mark = 0;
  // node_options::busy_poll: how long a wait polls before it sleeps, when traffic is dense.
  std::chrono::microseconds busy_poll{0};
};

class zmq_io final : public link_io {
 public:
  // Binds (when listen is set); throws std::runtime_error (zmq::error_t) with the reason.
  explicit zmq_io(zmq_options opts);
  ~zmq_io() override;

  const std::string& endpoint() const noexcept override { return endpoint_; }
  conn_id connect(const io_token& t, const std::string& endpoint) override;
  void reset(const io_token& t, conn_id c) override;
  void close(const io_token& t, conn_id c) override;
  send_status send(const io_token& t, conn_id c, std::string_view frame) override;
  send_status reply(const io_token& t, const std::string& routing_id,
                    std::string_view frame) override;
  void poll(const io_token& t, link_events& events, std::chrono::milliseconds timeout) override;
  void wake() override;
  void shut(const io_token& t, std::chrono::milliseconds linger) override;
  std::uint64_t refused_connections() const noexcept override {
    return rejected_.load(std::memory_order_relaxed);
  }

 private:
  struct dealer {
    std::string endpoint;
    std::unique_ptr<zmq::socket_t> socket;
    // With CURVE, until its first handshake succeeds: the socket's handshake events, so that a
    // peer refusing us (another secret) is reported, not mistaken for one not there yet.
    std::unique_ptr<zmq::socket_t> monitor;
  };

  void bind();
  std::unique_ptr<zmq::socket_t> make_dealer(const std::string& endpoint);
  // Sets up d's socket (made by make_dealer) for polling, with its handshake monitor.
  void watch_dealer(conn_id c, dealer& d);
  void unwatch_dealer(conn_id c, dealer& d);
  void read_dealer_monitor(const io_token& t, link_events& events, conn_id c);
  void read_router(const io_token& t, link_events& events);
  void read_dealer(const io_token& t, link_events& events, conn_id c);
  void read_zap();
  void read_monitor();
  // The epoll set: key 0 the eventfd, then the ZAP handler, the monitor, the router, and
  // dealer_key(c) for each connection, followed by its handshake monitor's key.
  static constexpr std::uint64_t wake_key = 0, zap_key = 1, monitor_key = 2, router_key = 3;
  static std::uint64_t dealer_key(conn_id c) { return 16 + 2 * c; }
  static std::uint64_t dealer_monitor_key(conn_id c) { return 17 + 2 * c; }
  static conn_id conn_of_key(std::uint64_t key) { return (key - 16) / 2; }
  zmq::socket_t* socket_of(std::uint64_t key);
  void watch(std::uint64_t key, zmq::socket_t& s);
  void unwatch(zmq::socket_t& s);
  // Logs a refused connection; repeats from one host are logged once per 10 s, counted.
  void log_refusal(const std::string& address, const std::string& why);

  zmq_options opts_;
  std::atomic<std::uint64_t> rejected_{0};
  detail::log_limiter accept_failed_log_;  // ZeroMQ failing to accept (out of descriptors)
  std::string endpoint_;
  zmq::context_t ctx_;
  std::unique_ptr<zmq::socket_t> router_, zap_, monitor_;
  std::map<conn_id, dealer> dealers_;
  conn_id next_conn_ = 1;
  int epoll_fd_ = -1;
  std::set<std::uint64_t> check_;  // keys whose ZMQ_EVENTS the next poll asks
  int wake_fd_ = -1;
  bool shut_ = false;
  // Blocking waits in a row that something ended within busy_window: from two on, traffic is
  // dense and the next wait polls for busy_poll before it sleeps.
  int short_waits_ = 0;
  // What one poll reads from one socket at most (then the next poll, after the worker has run
  // what this one made runnable): 64 frames or 256 KiB, whichever comes first. Less slows
  // what a worker that also runs the receivers takes in (a clean stop's drain under a
  // sanitizer lost casts at 64 KiB); more delays a tool's call behind a flood.
  static constexpr int max_read_frames = 64;
  static constexpr std::size_t max_read_bytes = 256 * 1024;
  static constexpr std::chrono::microseconds busy_window{500};
  std::unordered_map<std::string, std::pair<std::chrono::steady_clock::time_point, int>>
      refusal_log_;
};

}  // namespace otter::net_detail
