// Internal: a node's transport, the orchestrator of the net layer's parts:
//   link_io      the sockets (zmq_io) or the simulator's network
//   link_state   each peer's link as a state machine (handshake, up, down)
//   ledger       what is open with each peer's processes, answered when it goes down
//   outbound     the way out: queue from any thread, batching, back-pressure
//   membership   failure detection, the view other threads read, nodeup/nodedown
// It is the runtime's remote_router (any thread hands it envelopes for other nodes) and its
// io_driver: whichever worker holds the runtime's I/O token runs service() and wait(), which
// make the io_token that everything touching sockets and peers requires (io_token.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "keys.hpp"
#include "link_io.hpp"
#include "membership.hpp"
#include "otter/node.hpp"
#include "outbound.hpp"
#include "peer.hpp"
#include "wire.hpp"

namespace otter {

class transport final : public detail::remote_router,
                        public detail::io_driver,
                        private net_detail::link_events {
 public:
  using clock = std::chrono::steady_clock;
  using io_token = net_detail::io_token;

  // `io`: the network (ZeroMQ sockets, bound already, or the simulator's).
  transport(runtime& rt, const node_options& opts, cluster_keys keys,
            std::unique_ptr<net_detail::link_io> io);
  ~transport() override;

  // Starts joining through the seeds.
  void start();
  // Says bye (unless not `goodbye`: a crash), stops serving and closes every connection.
  void stop(bool goodbye = true);

  // Advertised (our identity on the wire) and bound.
  const std::string& endpoint() const noexcept { return advertised_; }
  const std::string& listen_endpoint() const noexcept { return io_->endpoint(); }
  bool hidden() const noexcept { return opts_.hidden; }

  // remote_router (any thread)
  bool route(const pid& to, detail::envelope_ptr e) override;
  bool route_name(std::uint64_t node, std::string_view name, detail::envelope_ptr e) override;

  // io_driver (the I/O owner)
  void service() override;
  void wait(std::chrono::milliseconds max) override;
  void wake() override;
  bool wants_service() const noexcept override;

  // Any thread.
  std::vector<node_info> peers(bool include_hidden) const { return members_.view(include_hidden); }
  bool is_member(const std::string& node) const { return members_.visible(node_id_of(node)); }
  bool joined() const noexcept { return members_.joined(); }
  void monitor_nodes(const pid& subscriber, bool on) { members_.monitor_nodes(subscriber, on); }
  void on_peer_event(net_detail::membership::hook fn) { members_.on_peer_event(std::move(fn)); }
  net_stats stats() const;  // tables.cpp, as are the test hooks below
  net_metrics metrics() const;
  std::vector<seed_status> seeds() const;
  void set_blocked(std::string_view node_name, bool blocked);  // test hook
  void connect(const std::string& endpoint);                   // served by the I/O owner
  // Replaces the seeds (seed_watch; this node's own endpoints are left out): new ones are
  // knocked at, those no longer listed are closed once unused, like any connection. seeds()
  // lists them at once; the connections are the I/O owner's work.
  void set_seeds(std::vector<std::string> endpoints);
  // When service() must run next for its timers (the simulator asks).
  clock::time_point next_deadline() const noexcept {
    return std::min(members_.next_tick(), hello_retry_at_);
  }
  // For the simulator and tests, between I/O owner activity: a peer's link state (idle when
  // unknown) and how much is open with its processes (ledger.hpp).
  net_detail::link_state link_state_of(const std::string& node_name) const;
  // Since when the link to that node is up (time_point::max() when it is not).
  clock::time_point up_since(const std::string& node_name) const;
  std::size_t open_with(const std::string& node_name) const;
  // Whether we hold an outbound connection to that node's endpoint.
  bool connected_to(const std::string& node_name) const;

 private:
  using peer = net_detail::peer;
  using connection = net_detail::connection;
  using out_item = net_detail::out_item;

  // link_events: frames from the network.
  void on_inbound(const io_token& t, const std::string& routing_id, const std::string& address,
                  std::string_view frame) override;
  void on_outbound(const io_token& t, net_detail::conn_id c, std::string_view frame) override;
  void on_handshake_failed(const io_token& t, net_detail::conn_id c,
                           const std::string& why) override;

  // ---- frames (transport.cpp) ----
  void handle_frame(const io_token& t, std::string_view frame, const std::string& address,
                    const std::string* routing_id, connection* via);
  void handle_process(const io_token& t, peer& p, wire::decoded& d);
  void connect_requested(const io_token& t);
  void apply_seeds(const io_token& t, const std::vector<std::string>& endpoints);
  // Whether `endpoint` is this node's (a seed list shared by every node names it too).
  bool is_self(const std::string& endpoint) const;

  // ---- handshake (handshake.cpp) ----
  wire::hello make_hello() const;
  bool restarted_session(const peer& p, std::uint64_t session, clock::time_point at) const;
  bool stale_session(const peer& p, const wire::hello& h) const;
  void send_hello(const io_token& t, connection& c);
  void retry_hellos(const io_token& t);  // those still waiting for their connection
  void on_hello(const io_token& t, wire::decoded& d, const std::string& routing_id,
                const std::string& address);
  void on_welcome(const io_token& t, wire::decoded& d, connection& via);
  void on_refuse(const io_token& t, const wire::decoded& d, const std::string& address,
                 connection* via);
  void refuse(const io_token& t, const std::string& routing_id, wire::refuse_code code,
              const std::string& reason);
  // Records a seed's answer (seeds()); any other endpoint is ignored. False when that seed
  // gave the same answer last time (not worth logging again).
  bool seed_answered(const std::string& endpoint, seed_answer a, const std::string& reason);

  // ---- links and membership (links.cpp) ----
  // Applies `e` to p's link and does what entering the new state means.
  // `tell_others`: when p goes down, tell the other members (gone), unless it said bye.
  void link_event(const io_token& t, peer& p, net_detail::link_event e,
                  const std::string& reason = "noconnection", bool tell_others = true);
  void went_up(const io_token& t, peer& p);
  void went_down(const io_token& t, peer& p, bool was_up, bool said_bye, const std::string& reason,
                 bool tell_others);
  void learn_members(const io_token& t, const std::vector<wire::member>& members);
  void learn_gone(const io_token& t, const peer& from, const std::vector<wire::departed>& gone);
  void publish(const io_token& t);
  // The visible members up with us; with `since`, those up since then only.
  std::vector<wire::member> member_list(
      std::optional<clock::time_point> since = std::nullopt) const;

  // ---- failure detection and gossip (detector.cpp) ----
  void tick(const io_token& t);
  // Whether we watch p now: a ring neighbour, a hidden peer, or one we are waiting on (calls
  // open, frames not confirmed).
  bool should_watch(const peer& p) const;
  // Our ring neighbours among the members up (node ids in order; publish() calls it).
  void choose_neighbours(const io_token& t);
  // The k members nearest us on each side of the ring (all of them in a ring of 2k or fewer).
  std::unordered_set<std::uint64_t> ring_around(std::size_t k) const;
  // `counted`: the frame it came in counts in p.frames_received.
  void on_heartbeat(const io_token& t, peer& p, const wire::decoded& d, bool counted);
  void send_heartbeat(const io_token& t, peer& p, unsigned flags);
  // Another member reported p down (or p is a new ring neighbour after one was lost: then
  // `tell_others`): p must answer within a heartbeat period.
  void probe(const io_token& t, peer& p, const std::string& reason, bool tell_others = false);
  // The member list to one member, in turn: anti-entropy for the full mesh.
  void gossip(const io_token& t);
  // A members list to one member: whole (ours) or `partial` (some; never answered back).
  void send_members(const io_token& t, peer& to, const std::vector<wire::member>& list,
                    bool partial);
  // Push-pull: `from` sent us its list; ours back if we know members it did not list.
  void gossip_back(const io_token& t, peer& from, const std::vector<wire::member>& theirs);

  // ---- the way out (sending.cpp) ----
  // Over the frame limit: refused (and answered) on the sender's side; true if so.
  bool too_big(const out_item& item);
  bool enqueue(std::unique_ptr<out_item> item);
  void drain_outbound(const io_token& t);
  void take_outbound(const io_token& t, std::unique_ptr<out_item> item);
  // Per-peer back-pressure: a peer with max_peer_queued_bytes waiting for it does not take what
  // we send. Its messages and replies are dropped (a call from here fails at once with
  // mailbox_full), and so are the calls it sends us (their replies could not go out; a hidden
  // peer's frames are dropped undecoded), counted and logged at most once per drop_log_period
  // per peer.
  bool over_budget(const peer& p) const noexcept;
  static bool sheddable(detail::sig kind) noexcept;
  void shed(peer& p, const out_item& item);
  void note_shed(peer& p);
  void send_to_peer(const io_token& t, peer& p, std::unique_ptr<out_item> item);
  void fail_item(const out_item& item, bool dead_incarnation);
  void flush(const io_token& t, peer& p);
  // `control`: a control envelope (heartbeat, members, gone), which frames' loss is not
  // worth watching a peer for (frame counts, peer.hpp); process envelopes are.
  net_detail::send_status send_frame(const io_token& t, peer& p, std::string_view bytes,
                                     bool control = false);
  void send_control(const io_token& t, peer& p, const msgpack::sbuffer& bytes);

  // ---- tables (tables.cpp) ----
  peer& peer_for(const std::string& name);
  peer* find_peer(std::uint64_t id);
  peer* peer_by_routing(const std::string& routing_id);
  // Our connection to `endpoint`, made if need be; `peer_id`: the node we expect there.
  connection& connect_to(const io_token& t, const std::string& endpoint, std::uint64_t peer_id = 0);
  connection* connection_of(const peer& p);
  connection* connection_by_id(net_detail::conn_id c);
  bool blocked(const std::string& name);
  clock::time_point now() const noexcept { return detail::now(rt_); }

  runtime& rt_;
  node_options opts_;
  cluster_keys keys_;
  std::unique_ptr<net_detail::link_io> io_;
  std::string advertised_;            // "" for hidden nodes
  std::atomic<bool> stopped_{false};  // read by senders on any thread

  // The I/O owner's state.
  std::unordered_map<std::uint64_t, std::unique_ptr<peer>> peers_;  // by node id
  std::map<std::string, connection> connections_;                   // ours, by endpoint
  std::unordered_map<net_detail::conn_id, std::string> connection_ids_;
  std::unordered_map<std::string, std::uint64_t> inbound_;  // routing id -> peer id
  std::unordered_set<std::string> banned_;                  // routing ids that broke protocol
  // Incarnations refused with name_in_use (logged once each).
  std::set<std::pair<std::string, std::uint32_t>> name_in_use_told_;
  bool view_dirty_ = false;
  std::unordered_set<std::uint64_t> neighbours_;  // the members we watch by the ring
  std::set<std::uint64_t> ring_;                  // the members up (not hidden), by node id
  // Visible members as they came up (up_since, id), the last 30 s or 4,096 of them: the news
  // since a moment, without a walk over every peer (member_list). Complete after the floor.
  std::deque<std::pair<clock::time_point, std::uint64_t>> up_log_;
  clock::time_point up_log_floor_{};
  bool neighbour_lost_ = false;  // a ring neighbour went down (silent, or confirmed silent)
  std::size_t other_seeds_ = 0;  // the seeds but one (send_hello: before any member is known)
  int joining_ = 0;              // members (not hidden) we are shaking hands with (holds_messages)
  // Heartbeats go out in rounds, every beat_every() (a third of the failure timeout rounded
  // up to whole heartbeat intervals: 600 ms by default), on the clock's multiples of it: every
  // node of a host sends its heartbeats at the same moments, so each receives its neighbours'
  // at about the same moment too, and wakes once for them rather than once each (detector.cpp).
  std::chrono::milliseconds beat_every() const noexcept {
    const auto hb = opts_.heartbeat_interval;
    const auto third = opts_.failure_timeout / 3;
    return std::max(hb, hb * ((third.count() + hb.count() - 1) / hb.count()));
  }
  clock::time_point beat_round_{};  // the next heartbeat round
  clock::time_point next_round_after(clock::time_point at) const noexcept;
  // When the next tick is due: the earliest of what the detector waits for.
  clock::time_point plan_tick(clock::time_point at);
  clock::time_point last_gossip_{};
  std::uint64_t gossiped_to_ = 0;    // the node id of the last gossip's receiver
  clock::time_point last_change_{};  // a member last came up or went down
  std::uint64_t sessions_ = 0;       // numbers our handshake sessions (peer::our_session)
  clock::time_point hello_retry_at_ = clock::time_point::max();
  static constexpr std::chrono::milliseconds hello_retry_first{2}, hello_retry_for{250};

  net_detail::outbound_queue outq_;
  std::vector<std::uint64_t> to_flush_;  // peers with envelopes batched in this drain round
  net_detail::membership members_;

  std::mutex connects_mutex_;  // protects connects_, new_seeds_
  std::vector<std::string> connects_;
  std::optional<std::vector<std::string>> new_seeds_;
  std::atomic<bool> connects_pending_{false};
  mutable std::mutex seeds_mutex_;  // protects seeds_
  std::vector<seed_status> seeds_;  // one per seed endpoint, made by start()
  std::mutex blocked_mutex_;        // protects blocked_
  std::set<std::string, std::less<>> blocked_;
  // Whether blocked_ holds any name: the check per envelope received takes no lock unless a
  // test blocked a peer.
  std::atomic<bool> any_blocked_{false};

  std::atomic<std::uint64_t> frames_in_{0}, frames_out_{0}, env_in_{0}, env_out_{0}, bytes_in_{0},
      bytes_out_{0}, rejected_{0}, shed_{0};
  const wire::version_range versions_ = wire::spoken_versions();  // those this node speaks
  std::atomic<std::uint64_t> suspicions_{0};  // detector.cpp; relaxed, as the counters above
  mutable std::mutex traffic_mutex_;          // protects traffic_ (appended once per peer)
  std::vector<std::pair<std::string, std::shared_ptr<net_detail::peer_traffic>>> traffic_;
};

}  // namespace otter
