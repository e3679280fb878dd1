// A node: a runtime plus the transport that makes Pids of other nodes behave like local ones.
//
//   otter::node_options o;
//   o.name = "shop-1";
//   o.listen = "tcp://0.0.0.0:7001";           // where to bind; port 0: any free port
//   o.advertise = "tcp://10.0.0.1:7001";       // what the others are told (reach us there)
//   o.seeds = {"tcp://10.0.0.2:7001"};          // any member; the rest are learnt (full mesh)
//   auto n = otter::node::start(o);             // result<std::unique_ptr<node>>
//   auto pid = (*n)->rt().start<my_server>();
//
// Guarantees (docs/PROTOCOL.md and docs/ARCHITECTURE.md say how):
// - send/cast/call/monitor/link/exit take remote Pids with local semantics; a Pid forwarded
//   to a third node works there; messages from one sender to one receiver keep their order.
// - Sends never block on connection set-up. Calls to a node that goes down fail at once with
//   `nodedown`; monitors fire `noconnection`; links propagate it. A Pid of an earlier
//   incarnation of a node is dead (`noproc`).
// - A peer silent for failure_timeout is declared down (default: heartbeats every 600 ms,
//   down after 1.5 s). Each node heartbeats only a few peers: its `watch_neighbours` nearest
//   on a ring of the members on each side, and those it waits on (calls open, traffic it sent
//   not yet confirmed; monitors and links alone do not count); a node that declares a member
//   down tells the others, who each probe it and declare it down unless it answers at once
//   (down everywhere within about 1.9 s). A peer that comes back is reconnected, as a new
//   incarnation if it restarted. A node that finds itself declaring live members down, or
//   running late (an overloaded machine), stretches these bounds up to 9x for a while (local
//   health, docs/PROTOCOL.md; metric failure_detector_health).
// - Traffic is encrypted and authenticated with CURVE, keys derived from the cluster secret,
//   unless `insecure` (for benchmarks) is set.
// - Addresses: the node binds `listen` and tells its peers `advertise` (its identity on the
//   wire: hello, welcome, member lists); they differ behind NAT or port mapping, or when
//   listening on a wildcard (tcp://0.0.0.0:PORT, tcp://*:PORT), which needs an advertised
//   address (a start without one fails). Host names are accepted wherever an endpoint is.
// - Seeds: tcp://HOST:PORT, or dns:NAME:PORT for every A/AAAA record of NAME (a Kubernetes
//   headless service), resolved again every dns_reseed_interval; a seeds file is read again
//   when it changes. Seeds are knocked at every heartbeat until they answer, for as long as the
//   node runs: a node that lost every member rejoins when one of its seeds comes back.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>
#include <otter/core.hpp>
#include <otter/spawn.hpp>

namespace otter {

namespace net_defaults {
// The detector's unit: heartbeats go out every failure_timeout / 3 rounded up to whole
// intervals (600 ms), so one lost beat is not a failure; a probe waits one interval for its
// answer, and a hello unanswered is sent again after one.
inline constexpr std::chrono::milliseconds heartbeat_interval{200};
// Silence after which a peer is declared down; with the heartbeat period the bound on
// detecting a killed or unreachable peer is about 1.7 s (the brief asks for at most 2 s).
inline constexpr std::chrono::milliseconds failure_timeout{1500};
// Ring neighbours on each side a node watches (heartbeats and checks); 0: every member.
inline constexpr std::size_t watch_neighbours = 1;
// Largest frame accepted (ZMQ_MAXMSGSIZE): a hostile peer cannot make a node allocate more.
inline constexpr std::int64_t max_message_bytes = std::int64_t{64} << 20;
// Envelopes batched into one frame when a queue has backed up, up to this many bytes.
inline constexpr std::size_t batch_bytes = 64 * 1024;
// ZeroMQ high-water mark per connection, in frames (each up to batch_bytes): what ZeroMQ
// holds for a peer that does not read is at most this times 64 KiB (64 MiB), before the
// transport's own max_peer_queued_bytes.
inline constexpr int high_water_mark = 1000;
// Bytes queued for the network, all peers together, above which senders wait: the I/O thread
// is behind (a slow peer cannot cause this: max_peer_queued_bytes).
inline constexpr std::size_t max_outbound_bytes = std::size_t{256} << 20;
// Bytes waiting to be sent to one peer (beyond what its socket holds at its high-water mark)
// above which that peer is taken not to read: its messages and replies are dropped, and a call
// to it fails at once with mailbox_full. Per peer, so that one client that stops reading never
// stalls the others; 32 MiB is seconds of traffic for a peer that reads.
inline constexpr std::size_t max_peer_queued_bytes = std::size_t{32} << 20;

// Longest a clean stop spends putting what was sent before it on the wire (queued frames, then
// the sockets' own queues) before its goodbye and close: what is not out by then is dropped.
inline constexpr std::chrono::milliseconds shutdown_drain{2000};
// A connection to a node's endpoint that has not completed ZeroMQ's handshake (and CURVE's)
// within this is closed (ZMQ_HANDSHAKE_IVL; ZeroMQ's default is 30 s): idle or foreign
// connections must not hold the descriptors peers need. A real handshake takes milliseconds.
inline constexpr std::chrono::milliseconds handshake_timeout{10000};
// How long otter::start_node waits to join its seeds and sync the registry (node_options).
inline constexpr std::chrono::milliseconds join_timeout{10000};
// dns: seeds are resolved again this often, for as long as the node runs (pods restart at new
// addresses); a query every 5 s per node is nothing for a caching resolver.
inline constexpr std::chrono::milliseconds dns_reseed_interval{5000};
// How long node::start waits for the first lookups of its dns: seeds (on their own thread):
// a resolver that does not answer delays a start no longer than this; the seeds come when the
// lookup does.
inline constexpr std::chrono::milliseconds dns_first_lookup_wait{2000};
// How long the thread serving the sockets keeps polling them before it sleeps, while messages
// come densely (its last two waits each ended within 0.5 ms): a sleeping thread takes 10-20 us
// to wake on a VM, and a remote round trip wakes several. It costs CPU only while traffic
// flows; an idle node never polls (node_options::busy_poll; 0: never).
inline constexpr std::chrono::microseconds busy_poll{50};
// A seeds file's mtime and size are looked at this often (a stat: cheap), read again on change.
inline constexpr std::chrono::milliseconds seeds_file_poll{1000};
}  // namespace net_defaults

struct node_options {
  std::string name;                          // unique in the cluster
  std::string listen = "tcp://127.0.0.1:0";  // bound; ignored for hidden nodes
  // Told to the peers as this node's endpoint; empty: `listen` (then not a wildcard). Port 0:
  // the port bound.
  std::string advertise;
  std::vector<std::string> seeds;  // members to join through: tcp://HOST:PORT or dns:NAME:PORT
  std::string seeds_file;          // more seeds, one a line ('#' comments), read on change
  std::string secret_file;         // empty: default_secret_path()
  bool hidden = false;             // a tool: connects to its seeds only, unlisted
  bool insecure = false;           // no CURVE encryption (benchmarks only)
  // 0: one per hardware thread. The sockets are served by a worker free of handlers (one
  // watches them while others run long handlers: docs/ARCHITECTURE.md). With 1 worker (also
  // what 0 gives on a one-CPU host) a handler running longer than failure_timeout makes the
  // peers declare this node down; with more, so do as many such handlers at once as workers.
  unsigned workers = 0;
  std::uint32_t creation = 0;  // 0: derived from the clock
  std::chrono::milliseconds heartbeat_interval = net_defaults::heartbeat_interval;
  std::chrono::milliseconds failure_timeout = net_defaults::failure_timeout;
  std::size_t watch_neighbours = net_defaults::watch_neighbours;  // 0: watch every member
  // otter::start_node only: how long it waits, when there are seeds, until the node has joined
  // one of them and its registry holds every member's names; it fails (and stops the node)
  // when that does not happen in time. 0: return at once and join in the background.
  std::chrono::milliseconds join_timeout = net_defaults::join_timeout;
  // The mailbox limit of processes started without one (runtime_options::mailbox_limit): other
  // nodes can send faster than a process handles. 0: unlimited.
  std::uint32_t mailbox_limit = defaults::mailbox_limit;
  // Polling before sleeping while traffic is dense (net_defaults::busy_poll): lower latency
  // for CPU. 0: never (a machine shared with other busy programs).
  std::chrono::microseconds busy_poll = net_defaults::busy_poll;
};

struct node_info {
  std::string name;
  std::string endpoint;
  std::uint32_t creation = 0;
  bool hidden = false;
  std::int64_t up_ms = 0;  // how long it has been connected
  MSGPACK_DEFINE(name, endpoint, creation, hidden, up_ms);
};

// Delivered (as info messages) to processes subscribed with node::monitor_nodes.
struct nodeup {
  std::string node;
  MSGPACK_DEFINE(node);
};
OTTER_MESSAGE_AS(nodeup, "nodeup");
struct nodedown {
  std::string node;
  std::string reason;  // "noconnection" (silent or unreachable), "shutdown" (left cleanly)
  MSGPACK_DEFINE(node, reason);
};
OTTER_MESSAGE_AS(nodedown, "nodedown");

struct net_stats {
  std::uint64_t frames_in = 0, frames_out = 0;
  std::uint64_t envelopes_in = 0, envelopes_out = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t rejected = 0;  // refused handshakes and protocol violations
  std::uint64_t shed = 0;      // messages dropped for peers that do not take theirs
  MSGPACK_DEFINE(frames_in, frames_out, envelopes_in, envelopes_out, bytes_in, bytes_out, rejected,
                 shed);
};

// What otter::metrics_text (otter/metrics.hpp) reads beyond net_stats (never on the wire).
struct net_metrics {
  struct peer_bytes {
    std::string node;
    std::uint64_t bytes_in = 0, bytes_out = 0;  // frames from it and to it
  };
  std::vector<peer_bytes> peers;  // every visible member met since this node started
  // The failure detector's suspicions: a watched member silent for failure_timeout, or a probe
  // of a member (reported down by another, or a new ring neighbour after a loss).
  std::uint64_t suspicions = 0;
  // Local health (docs/PROTOCOL.md, "Heartbeats and watching"): 0 healthy, up to 8; the
  // failure timeout and a probe's wait are multiplied by 1 + health.
  int health = 0;
};

// How a seed answered this node's hello, the latest answer (node::seeds()): a tool fails loudly
// on a refusal instead of waiting out its join timeout.
enum class seed_answer : std::uint8_t {
  none,          // nothing yet: not reached (so far), or still shaking hands
  welcomed,      // it took our hello
  wrong_secret,  // the encrypted (CURVE) handshake or the hello's proof failed: the seed holds
                 // another secret, or runs with encryption configured otherwise (--insecure)
  name_in_use,   // a live member holds this node's name (another incarnation); retried
  refused,       // another refusal (protocol version, name): `reason` says which
};
std::string_view to_string(seed_answer a) noexcept;

struct seed_status {
  std::string endpoint;
  seed_answer answer = seed_answer::none;
  std::string reason;  // a refusal's reason, as the seed gave it
  // When the seed first gave this answer, and how many times in a row it gave it (a refused
  // connection is retried).
  std::chrono::steady_clock::time_point since{};
  unsigned times = 0;
};

class transport;
namespace net_detail {
class seed_watch;
}
namespace detail {
struct node_internals;
class membership_view;
}  // namespace detail

class node {
 public:
  // Binds, joins through the seeds (asynchronously) and returns the running node.
  static result<std::unique_ptr<node>> start(node_options options);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  runtime& rt() noexcept { return *rt_; }
  const runtime& rt() const noexcept { return *rt_; }
  const std::string& name() const noexcept;
  // The advertised endpoint (peers know this node by it), with the real port.
  const std::string& endpoint() const noexcept;
  // The bound endpoint, with the real port (a wildcard stays one).
  const std::string& listen_endpoint() const noexcept;
  std::uint32_t creation() const noexcept;
  std::uint64_t id() const noexcept { return node_id_of(name()); }

  // Connected visible members (not this node, not hidden ones).
  std::vector<node_info> nodes() const;
  // Every connected peer, hidden ones included.
  std::vector<node_info> peers() const;
  // Connects to the node at `endpoint` as well (a hidden node, a tool, reaches the members
  // other than its seeds this way). Asynchronous: see peers().
  void connect(const std::string& endpoint);
  // True once `n` other visible members are connected, waiting up to `timeout`.
  bool wait_for_nodes(std::size_t n, std::chrono::milliseconds timeout) const;
  // True once this node has joined a cluster (a hidden node: reached a peer), waiting up to
  // `timeout`.
  bool wait_joined(std::chrono::milliseconds timeout) const;
  // `subscriber` receives nodeup / nodedown messages (or stops, with on = false).
  void monitor_nodes(const pid& subscriber, bool on = true);
  // Called (on a worker thread, between activations) for each peer that goes down or comes
  // up: the registry hooks in here.
  void on_peer_event(std::function<void(const std::string& node, bool up)> fn);

  net_stats stats() const;
  net_metrics metrics() const;
  // Each seed endpoint (dns: seeds as resolved, the seeds file's included; not this node
  // itself) and how it answered our hello last.
  std::vector<seed_status> seeds() const;

  // Runs the shutdown hooks (newest first: the supervision tree, then the registry), says
  // goodbye to every peer (they see `nodedown` with reason shutdown at once) and stops the
  // runtime (runtime::shutdown). Idempotent; the destructor calls it. The node and its runtime
  // stay valid objects afterwards, stopped: nodes() is empty, calls fail, and handles of the
  // runtime (scoped_process) are dead but safe to use and to destroy.
  void shutdown();
  // `fn` runs at the start of shutdown(), while the network is still up (on the calling
  // thread, which must not be a worker of this node).
  void on_shutdown(std::function<void(node&)> fn);
  // Makes `name` startable here from other nodes (see otter/spawn.hpp).
  void add_factory(std::string name, factory_fn fn);

 private:
  friend struct detail::node_internals;
  struct factory_table;
  node() = default;
  std::shared_ptr<factory_table> factories_;
  std::atomic<bool> shut_{false};  // shutdown() has begun
  std::mutex hooks_mutex_;         // protects shutdown_hooks_
  std::vector<std::function<void(node&)>> shutdown_hooks_;
  std::unique_ptr<runtime> rt_;
  std::unique_ptr<transport> net_;
  std::shared_ptr<detail::membership_view> membership_;
  std::unique_ptr<net_detail::seed_watch> seed_watch_;  // with dns: seeds or a seeds file
};

}  // namespace otter
