// The simulated network: what ZeroMQ over TCP gives the transport (net/src/link_io.hpp), for
// many nodes in one process, driven by the world (world.hpp) on one thread.
//
// A node's outbound connection (a DEALER) is a pipe to an endpoint; frames flow both ways on
// it (the peer's ROUTER answers on it) in order, each direction a FIFO with a delivery time.
// Faults stay within what the real transport allows:
// - delay: a frame takes its latency plus whatever the pipe's direction is delayed by;
//   frames of one pipe direction never overtake each other; different pipes are unordered;
// - a cut (one-way or both ways) holds what is sent; on heal, a pipe either delivers what it
//   held, late (the TCP connection survived), or drops it (it did not): only when the cut
//   lasted long enough for both ends to have declared each other down;
// - a node that dies drops what is in flight to and from it; sending on a connection to an
//   endpoint where nothing listens would block (ZMQ_IMMEDIATE); replying to a connection whose
//   other end is gone is unreachable (ZMQ_ROUTER_MANDATORY);
// - a node that restarts listens on the same endpoint: existing connections reach the new
//   incarnation, which has never seen their hello.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "link_io.hpp"

namespace otter::sim {

using sim_clock = std::chrono::steady_clock;
using net_detail::conn_id;

class sim_io;

struct frame {
  std::string bytes;
  sim_clock::time_point at{};  // deliverable from
};

// One outbound connection of node `from` to the endpoint of node slot `to`.
struct pipe {
  std::uint64_t id = 0;
  int from = -1, to = -1;
  std::uint64_t from_incarnation = 0, to_incarnation = 0;  // the processes at each end
  conn_id local = 0;                                       // its id on the sender's side
  std::string routing_id;                                  // the sender's
  std::deque<frame> forward;  // sender -> receiver's listening endpoint
  std::deque<frame> back;     // receiver -> sender, on this connection
  bool open = true;
};

// What a pipe direction has ready for delivery.
struct due_frame {
  pipe* p = nullptr;
  bool forward = true;
};

class sim_network {
 public:
  explicit sim_network(std::uint64_t seed);

  // A node slot (its endpoint is fixed for its lifetime); restarts keep the slot.
  int add_slot(std::string endpoint);
  const std::string& endpoint_of(int slot) const { return slots_[slot].endpoint; }
  int slot_of(const std::string& endpoint) const;
  // A new process in `slot` (the old one, if any, is gone): its network.
  std::unique_ptr<net_detail::link_io> attach(int slot, const std::string& routing_id);
  // The process in `slot` died (SIGKILL): whatever is in flight to or from it is dropped.
  void kill(int slot);
  // The process in `slot` is gone after closing its sockets: what it sent still arrives.
  void gone(int slot);
  bool alive(int slot) const { return slots_[slot].io != nullptr; }

  // Faults.
  void cut(int from, int to);  // one way: from -> to
  void heal(int from, int to, bool drop_held);
  bool is_cut(int from, int to) const { return cuts_.count({from, to}) > 0; }
  void delay(int from, int to, std::chrono::milliseconds extra);

  // Driving (the world).
  sim_clock::time_point now() const { return now_; }
  void set_now(sim_clock::time_point t);
  // Every pipe direction whose head frame may be delivered now, in pipe order (forward first).
  std::vector<due_frame> due() const;
  // How many there are, and the k-th of them in due()'s order: O(log n), where due() is O(n).
  std::size_t due_count() const;
  due_frame due_at(std::size_t k) const;
  // The earliest delivery time of a frame not held by a cut (max: none).
  sim_clock::time_point next_delivery() const;
  // Moves the head frame of that pipe direction to its receiver.
  void deliver(const due_frame& d);
  // Frames waiting in node `slot`'s sockets (its transport takes them when it polls).
  bool has_arrivals(int slot) const;
  std::uint64_t frames_delivered() const { return delivered_; }
  std::uint64_t frames_dropped() const { return dropped_; }
  // Frames sent into the network (each counted once, whether delivered or dropped later).
  std::uint64_t frames_sent() const { return sent_; }
  // TCP under packet loss: each frame is lost with probability `percent`/100, and then
  // arrives one retransmission timeout later (200 ms, doubling for each further loss in a row),
  // holding up the frames behind it on its connection. 0: no loss.
  void set_loss(double percent) { loss_percent_ = percent; }
  // The world reads this for the trace.
  std::function<void(const std::string&)> trace;

 private:
  friend class sim_io;
  struct slot {
    std::string endpoint;
    sim_io* io = nullptr;  // the live process's network, or none
    std::uint64_t incarnation = 0;
    // routing id -> the pipe its latest connection is (a ROUTER's view, with handover)
    std::map<std::string, std::uint64_t> routes;
  };

  pipe* open_pipe(int from, conn_id local, const std::string& routing_id, int to);
  void close_pipe(pipe& p);
  void erase_pipe(std::map<std::uint64_t, pipe>::iterator it);
  void forget(const pipe& p);  // out of between_ (before it leaves pipes_)
  void push(pipe& p, bool forward, std::string bytes);
  // The index of deliverable heads (below): a pipe leaves it before its queues change and
  // comes back after; anything that changes which pipes are sendable marks it stale.
  void unindex(const pipe& p);
  void index(const pipe& p);
  void reindex() const;
  sim_clock::time_point arrival(int from, int to, const std::deque<frame>& q);
  bool sendable(const pipe& p, bool forward) const;

  std::mt19937_64 rng_;
  sim_clock::time_point now_{};
  std::vector<slot> slots_;
  std::map<std::uint64_t, pipe> pipes_;
  std::map<std::pair<int, int>, std::set<std::uint64_t>> between_;  // (from, to) -> pipe ids
  std::uint64_t next_pipe_ = 1;
  std::set<std::pair<int, int>> cuts_;
  std::map<std::pair<int, int>, std::chrono::milliseconds> delays_;
  std::uint64_t delivered_ = 0, dropped_ = 0, sent_ = 0;
  double loss_percent_ = 0;
  // The head frame of every sendable, non-empty pipe direction: (deliverable from, pipe id,
  // forward). due() and next_delivery() read it instead of every pipe (a world of N nodes has
  // up to N^2 of them). Rebuilt from the pipes when stale (cuts, heals, deaths).
  using head_key = std::tuple<sim_clock::time_point, std::uint64_t, bool>;
  mutable std::set<head_key> heads_;
  mutable bool heads_stale_ = false;
  // The heads deliverable now (at <= now_), as (pipe id, !forward): due()'s order. An
  // order-statistic tree, so that the world picks one of n without listing them all (at a
  // heal, hundreds of thousands fall due at once).
  using ready_key = std::pair<std::uint64_t, bool>;
  using ready_set =
      __gnu_pbds::tree<ready_key, __gnu_pbds::null_type, std::less<ready_key>,
                       __gnu_pbds::rb_tree_tag, __gnu_pbds::tree_order_statistics_node_update>;
  mutable ready_set ready_;
};

// One process's network (link_io), made by sim_network::attach.
class sim_io final : public net_detail::link_io {
 public:
  sim_io(sim_network& net, int slot, std::string routing_id);
  ~sim_io() override;

  const std::string& endpoint() const noexcept override { return endpoint_; }
  conn_id connect(const net_detail::io_token& t, const std::string& endpoint) override;
  void reset(const net_detail::io_token& t, conn_id c) override;
  void close(const net_detail::io_token& t, conn_id c) override;
  net_detail::send_status send(const net_detail::io_token& t, conn_id c,
                               std::string_view frame) override;
  net_detail::send_status reply(const net_detail::io_token& t, const std::string& routing_id,
                                std::string_view frame) override;
  void poll(const net_detail::io_token& t, net_detail::link_events& events,
            std::chrono::milliseconds timeout) override;
  void wake() override { woken_ = true; }
  void shut(const net_detail::io_token& t, std::chrono::milliseconds linger) override;

  bool has_arrivals() const { return !arrivals_.empty() || woken_; }
  void detach() { net_ = nullptr; }  // the network is gone (the world ends)

 private:
  friend class sim_network;
  struct arrival {
    bool inbound = true;     // on our listening endpoint (else on our connection `conn`)
    std::string routing_id;  // inbound: the sender's connection
    conn_id conn = 0;
    std::string bytes;
  };

  sim_network* net_;
  int slot_;
  std::string routing_id_, endpoint_;
  std::map<conn_id, std::uint64_t> conns_;  // our connection -> its current pipe
  conn_id next_conn_ = 1;
  std::deque<arrival> arrivals_;
  bool woken_ = false;
  bool shut_ = false;
};

}  // namespace otter::sim
