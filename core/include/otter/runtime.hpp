// The runtime of one node: worker threads, the process table, the timer service and the
// node-local name registry. A program (or a test) creates one runtime per node it runs
// (otter::start_node creates it for a node, which owns it); the network layer plugs into it.
//
// Thread-safety: every member may be called from any thread.
//
// Lifetime of what refers to a runtime (docs/ARCHITECTURE.md, "Lifetimes"):
// - shutdown() stops it; the object stays valid until destroyed, as a stopped runtime.
// - A Pid is a value: after shutdown, sends to it fail (noproc) and calls fail at once.
// - A scoped_process may outlive shutdown() and even the runtime object: it becomes a dead
//   handle whose calls fail with shutting_down and whose destructor is harmless.
// - A `from` belongs to the server that received it: it must not outlive the runtime.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "otter/defaults.hpp"
#include "otter/detail/envelope.hpp"
#include "otter/detail/runtime_ops.hpp"
#include "otter/error.hpp"
#include "otter/process.hpp"

namespace otter {

struct runtime_options {
  std::string node_name = defaults::node_name;
  unsigned workers = 0;        // 0: one per hardware thread
  std::uint32_t creation = 0;  // 0: derived from the clock, so it changes on every start
  // The mailbox limit of processes started without one (start_options::mailbox_limit 0);
  // 0 is unlimited, as in Erlang. A node sets defaults::mailbox_limit (node_options).
  std::uint32_t mailbox_limit = 0;
};

// What a full mailbox does to the next message (start_options::mailbox_limit).
enum class overflow_policy : std::uint8_t {
  drop_newest,  // the message is dropped and counted (process::messages_dropped); a call
                // fails at once with mailbox_full
  exit,         // the process exits with reason `mailbox_overflow` (untrappable)
};

struct start_options {
  std::string name;   // registered locally before init runs, if not empty
  bool link = false;  // link to the calling process (start_link)
  // Messages (not signals) queued at most; 0 is the runtime's default
  // (runtime_options::mailbox_limit), defaults::unlimited_mailbox no limit whatever the
  // runtime's. Signals (exits, monitors, replies) are never refused.
  std::uint32_t mailbox_limit = 0;
  overflow_policy on_overflow = overflow_policy::drop_newest;
};

// Where a message goes: a Pid, a registered name (local names first, then the cluster-wide
// resolver if the network layer installed one), or a name registered on a given node
// (Erlang's {Name, Node}), resolved by that node.
class dest {
 public:
  struct name_at {
    std::string name;
    std::string node;
  };
  static dest at(std::string name, std::string node) {
    dest d(pid{});
    d.v_ = name_at{std::move(name), std::move(node)};
    return d;
  }

  dest(const pid& p) : v_(p) {}                           // NOLINT: implicit by design
  dest(std::string name) : v_(std::move(name)) {}         // NOLINT
  dest(const char* name) : v_(std::string(name)) {}       // NOLINT
  dest(std::string_view name) : v_(std::string(name)) {}  // NOLINT

  const pid* as_pid() const noexcept { return std::get_if<pid>(&v_); }
  const std::string* as_name() const noexcept { return std::get_if<std::string>(&v_); }
  const name_at* as_name_at() const noexcept { return std::get_if<name_at>(&v_); }
  std::string describe() const;

 private:
  std::variant<pid, std::string, name_at> v_;
};

// Counters the node tool shows.
struct runtime_stats {
  std::uint64_t processes = 0;
  std::uint64_t spawned = 0;
  std::uint64_t exited = 0;
  std::uint64_t messages_dropped = 0;  // to dead or unknown processes
  std::uint64_t messages_handled = 0;  // by this runtime's processes (calls included)
  std::uint64_t calls_handled = 0;
  std::uint64_t restarts = 0;  // children restarted by supervisors of this runtime
  std::int64_t uptime_ms = 0;
  MSGPACK_DEFINE(processes, spawned, exited, messages_dropped, messages_handled, calls_handled,
                 restarts, uptime_ms);
};

// How long this runtime's processes took to handle calls: from the dispatch of the call to its
// handler's return (a reply deferred past the handler, or a coroutine's wait, is not included).
// Counted per worker with relaxed atomics; a read sums the workers, figure by figure.
struct call_time_histogram {
  // Upper bounds of the buckets, in microseconds; a last, unbounded bucket follows.
  static constexpr std::array<std::uint64_t, 12> bounds_us{
      10, 50, 100, 250, 500, 1000, 2500, 10000, 50000, 250000, 1000000, 10000000};
  std::array<std::uint64_t, bounds_us.size() + 1> counts{};  // per bucket, not cumulative
  std::uint64_t sum_ns = 0;
};

// What otter::metrics_text (otter/metrics.hpp) reads beyond runtime_stats (never on the wire).
struct runtime_metrics {
  call_time_histogram call_times;
  std::uint64_t mailbox_overflows = 0;  // messages refused at a process's mailbox limit
};

namespace detail {
struct runtime_state;
struct runtime_internals;
}  // namespace detail

class runtime {
 public:
  explicit runtime(runtime_options options = {});
  // Calls shutdown().
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  const std::string& node_name() const noexcept;
  std::uint64_t node_id() const noexcept;
  std::uint32_t creation() const noexcept;
  unsigned worker_count() const noexcept;
  // True when `p` names a process of this node's current incarnation.
  bool is_local(const pid& p) const noexcept;

  // Starts a server of type S (a gen_server) constructed from `args`. Its init runs before
  // this returns, in the calling thread; an init error is returned, and the process exits
  // with its reason (gen_server.hpp).
  template <class S, class... Args>
  result<pid> start(Args&&... args) {
    return start_with<S>(start_options{}, std::forward<Args>(args)...);
  }
  template <class S, class... Args>
  result<pid> start_with(const start_options& opts, Args&&... args) {
    std::unique_ptr<process> p;
    try {
      p = std::make_unique<S>(std::forward<Args>(args)...);
    } catch (const std::exception& e) {
      return error{errc::init_failed, std::string("constructor threw: ") + e.what(), e.what()};
    }
    return detail::spawn(*this, std::move(p), opts);
  }

  // Local registry: one name, one Pid. Names vanish when their process exits.
  result<void> register_name(std::string name, const pid& p);
  bool unregister_name(std::string_view name);
  std::optional<pid> whereis(std::string_view name) const;
  std::vector<std::pair<std::string, pid>> registered() const;

  // A Pid, or a name resolved here (local names first, then the cluster-wide registry).
  std::optional<pid> resolve(const dest& d) const;
  bool alive(const pid& p) const;
  std::size_t process_count() const;
  // Every live process (see otter/introspection.hpp), in Pid order.
  std::vector<process_row> processes() const;
  // One live local process's row, or nullopt.
  std::optional<process_row> row(const pid& p) const;
  // The name `p` is registered under on this node, or "".
  std::string name_of(const pid& p) const;
  runtime_stats stats() const;
  runtime_metrics metrics() const;

  // Sends from outside any process (the sender is nil).
  template <class T>
  result<void> send(const dest& to, T&& msg) {
    return detail::send_envelope(*this, to,
                                 detail::make_message(detail::sig::info, std::forward<T>(msg)));
  }
  template <class T>
  result<void> cast(const dest& to, T&& msg) {
    return detail::send_envelope(*this, to,
                                 detail::make_message(detail::sig::cast, std::forward<T>(msg)));
  }
  // Sends an exit signal from outside any process (kill, shutdown, ...).
  result<void> exit(const dest& to, exit_reason reason);

  // Delivers `msg` to `to` after `delay`, from outside any process; cancel with cancel_timer.
  template <class T>
  std::uint64_t send_after(std::chrono::milliseconds delay, const pid& to, T&& msg) {
    return detail::start_timer(*this, delay, to,
                               detail::make_message(detail::sig::info, std::forward<T>(msg)));
  }
  bool cancel_timer(std::uint64_t timer);

  // Stops the workers and the timer thread and frees every process without running its
  // terminate (no exit signals, no DOWN: the node is gone). Idempotent; call it from a thread
  // that is not one of this runtime's workers. Afterwards the object is a stopped runtime:
  // starts fail with shutting_down, sends and calls fail at once, and handles of it
  // (scoped_process, Pids) are dead but safe to use and to destroy.
  void shutdown();
  bool stopped() const noexcept;

 private:
  friend struct detail::runtime_internals;
  // A runtime without threads, driven by the deterministic simulator (core/src/simulation.hpp).
  runtime(runtime_options options, const detail::manual_clock* clock);
  // Shared with the handles that may outlive this object (scoped_process).
  std::shared_ptr<detail::runtime_state> state_;
};

}  // namespace otter
