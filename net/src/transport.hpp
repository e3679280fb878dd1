// Internal: the transport engine. It owns every ZeroMQ socket of a node; whichever worker
// holds the runtime's I/O token runs it (otter::io_driver), so sockets have one user at a
// time. Other threads reach it through one lock-free queue (route()).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "keys.hpp"
#include "otter/node.hpp"
#include "otter/secret.hpp"
#include "wire.hpp"

namespace otter {

class transport final : public detail::remote_router, public detail::io_driver {
 public:
  using clock = std::chrono::steady_clock;

  transport(runtime& rt, const node_options& opts, cluster_keys keys);
  ~transport() override;

  // Binds (visible nodes) and starts joining; throws std::runtime_error with the reason.
  void start();
  // Says bye, stops serving and closes every socket.
  void stop();

  const std::string& endpoint() const noexcept { return endpoint_; }
  bool hidden() const noexcept { return opts_.hidden; }

  // remote_router
  bool route(const pid& to, detail::envelope_ptr e) override;
  bool route_name(std::uint64_t node, std::string_view name, detail::envelope_ptr e) override;

  // io_driver
  void service() override;
  void wait(std::chrono::milliseconds max) override;
  void wake() override;
  bool wants_service() const noexcept override;

  std::vector<node_info> peers(bool include_hidden) const;
  void monitor_nodes(const pid& subscriber, bool on);
  void on_peer_event(std::function<void(const std::string&, bool)> fn);
  net_stats stats() const;
  void set_blocked(std::string_view node_name, bool blocked);
  void connect(const std::string& endpoint);  // any thread; served by the I/O owner

 private:
  // Something for the network, queued by any thread: encoded bytes plus what bookkeeping needs.
  struct out_item final : detail::envelope {
    explicit out_item(detail::sig k) : envelope(k), bytes(256) {}  // sbuffer's default: 8 KiB
    pid to;                                                        // for a name: {node id, 0, 0}
    bool by_name = false;
    msgpack::sbuffer bytes;
  };

  struct dealer_conn {
    std::string endpoint;
    std::unique_ptr<zmq::socket_t> socket;
    std::uint64_t peer_id = 0;  // known once welcomed
    clock::time_point last_hello{};
    clock::time_point refused_until{};
    clock::time_point last_useful{};  // created, or last used by an up peer
    bool seed = false;                // given at start: kept for ever
  };

  struct pid_pair_hash {
    std::size_t operator()(const std::pair<pid, std::uint64_t>& p) const noexcept {
      return std::hash<pid>()(p.first) ^ (p.second * 0x9E3779B97F4A7C15ull);
    }
  };

  struct peer {
    std::string name;
    std::uint64_t id = 0;
    std::uint32_t creation = 0;
    std::string endpoint;  // "" for hidden peers
    bool hidden = false;
    bool up = false;
    bool inbound_ok = false;   // we accepted its hello
    bool outbound_ok = false;  // it welcomed our hello
    std::string routing_id;    // of its connection to our ROUTER
    clock::time_point last_heard{}, up_since{};
    std::string batch;                            // envelopes waiting for this flush
    std::deque<std::string> backlog;              // frames refused by the high-water mark
    std::vector<std::unique_ptr<out_item>> held;  // queued before the peer came up
    // What must be undone or reported if the peer goes down.
    std::unordered_set<std::pair<pid, std::uint64_t>, pid_pair_hash> pending_calls;  // caller, ref
    std::unordered_map<std::uint64_t, std::pair<pid, pid>> out_monitors;  // ref -> local, remote
    std::unordered_map<std::uint64_t, std::pair<pid, pid>> in_monitors;   // ref -> local, remote
    std::set<std::pair<pid, pid>> links;                                  // local, remote
  };

  void make_router();
  void connect_requested();          // I/O owner: the endpoints connect() queued
  void reset_dealers();              // I/O owner: fresh connections to the peers declared down
  std::vector<std::string> resets_;  // endpoints to reconnect afresh (I/O owner only)
  dealer_conn& connect_to(const std::string& endpoint);
  void send_hello(dealer_conn& d);
  wire::hello make_hello() const;
  std::vector<wire::member> member_list() const;

  void poll_sockets(std::chrono::milliseconds timeout);
  void read_router();
  void read_dealer(dealer_conn& d);
  void read_zap();
  void read_monitor();
  void handle_frame(const char* data, std::size_t size, const std::string& address,
                    const std::string* routing_id, dealer_conn* via);
  void handle_hello(wire::decoded& d, const std::string& routing_id, const std::string& address);
  void handle_welcome(wire::decoded& d, dealer_conn& via);
  void handle_inbound_process(peer& p, wire::decoded& d);
  void learn_members(const std::vector<wire::member>& members);

  bool enqueue(std::unique_ptr<out_item> item);
  void drain_outbound();
  void take_outbound(std::unique_ptr<out_item> item);
  void send_to_peer(peer& p, std::unique_ptr<out_item> item);
  void fail_item(const out_item& item, bool dead_incarnation);
  void flush(peer& p);
  bool send_frame(peer& p, const std::string& bytes);
  void send_control(peer& p, const msgpack::sbuffer& bytes);
  void tick();

  peer& peer_for(const std::string& name);
  peer* find_peer(std::uint64_t id);
  dealer_conn* dealer_for(const peer& p);
  void maybe_up(peer& p);
  void declare_down(peer& p, const std::string& reason);
  // A peer that broke the protocol: down, and its connection ignored from now on.
  void disconnect(peer& p, const std::string& why);
  void publish_view();
  void notify_subscribers(const std::string& node, bool up, const std::string& reason);
  bool blocked(const std::string& name);
  // Logs a refused connection; repeats from one address are logged once per 10 s, counted.
  void log_refusal(const std::string& address, const std::string& why);

  runtime& rt_;
  node_options opts_;
  cluster_keys keys_;
  bool secure_;
  std::string endpoint_;
  std::string routing_id_;

  zmq::context_t ctx_;
  std::unique_ptr<zmq::socket_t> router_;
  std::unique_ptr<zmq::socket_t> zap_;
  std::unique_ptr<zmq::socket_t> monitor_;
  std::map<std::string, dealer_conn> dealers_;                      // by endpoint
  std::unordered_map<std::uint64_t, std::unique_ptr<peer>> peers_;  // by node id
  std::unordered_map<std::string, std::uint64_t> conns_;            // ROUTER routing id -> peer
  std::unordered_set<std::string> banned_;  // routing ids that broke protocol
  std::unordered_map<std::string, std::pair<clock::time_point, int>> refusal_log_;
  std::vector<zmq::pollitem_t> items_;
  bool items_dirty_ = true;
  int wake_fd_ = -1;
  clock::time_point next_tick_{};
  std::atomic<bool> stopped_{false};  // read by senders on any thread

  detail::inbox outq_;  // out_items from any thread to the I/O side
  std::atomic<std::size_t> out_bytes_{0};
  std::atomic<bool> backlogged_{false};

  mutable std::mutex view_mutex_;  // protects view_
  std::vector<node_info> view_;
  std::mutex subs_mutex_;  // protects subscribers_, hooks_
  std::set<pid> subscribers_;
  std::vector<std::function<void(const std::string&, bool)>> hooks_;
  std::mutex connects_mutex_;  // protects connects_
  std::vector<std::string> connects_;
  std::mutex blocked_mutex_;  // protects blocked_
  std::set<std::string, std::less<>> blocked_;

  std::atomic<std::uint64_t> frames_in_{0}, frames_out_{0}, env_in_{0}, env_out_{0}, bytes_in_{0},
      bytes_out_{0}, rejected_{0};
};

}  // namespace otter
