// The runtime of one node: worker threads, the process table, the timer service and the
// node-local name registry. A program (or a test) creates one runtime per node it runs; the
// network layer plugs into it through `remote_router` and `name_resolver`.
//
// Thread-safety: every member may be called from any thread. Destroying the runtime stops the
// workers and frees every remaining process without running its terminate.
#pragma once

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
#include "otter/envelope.hpp"
#include "otter/error.hpp"
#include "otter/process.hpp"

namespace otter {

struct runtime_options {
  std::string node_name = defaults::node_name;
  unsigned workers = 0;        // 0: one per hardware thread
  std::uint32_t creation = 0;  // 0: derived from the clock, so it changes on every start
};

// What a full mailbox does to the next message (start_options::mailbox_limit).
enum class overflow_policy : std::uint8_t {
  drop_newest,  // the message is dropped and counted (process::messages_dropped); a call
                // fails at once with mailbox_full
  exit,         // the process exits with reason `mailbox_overflow` (untrappable)
};

struct start_options {
  std::string name;   // registered locally once init succeeds, if not empty
  bool link = false;  // link to the calling process (start_link)
  // Messages (not signals) queued at most; 0 is unlimited, as in Erlang. Signals (exits,
  // monitors, replies) are never refused.
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

// Installed by the network layer: carries envelopes to processes on other nodes.
class remote_router {
 public:
  virtual ~remote_router() = default;
  // Takes the envelope for `to` (a Pid of another node). False when the node is known to be
  // unreachable or `to` is of a dead incarnation; the envelope is then dropped.
  virtual bool route(const pid& to, detail::envelope_ptr e) = 0;
  // Takes the envelope for the process registered as `name` on node `node` (an id).
  virtual bool route_name(std::uint64_t node, std::string_view name, detail::envelope_ptr e) = 0;
};

// Installed by the network layer: its sockets are served by the runtime's worker threads. An
// idle worker takes the I/O token and blocks in wait() instead of parking, so inbound
// messages are handled, and replies sent, on one thread (no hand-off to an I/O thread).
class io_driver {
 public:
  virtual ~io_driver() = default;
  // Non-blocking: take in what arrived, send what is queued, run due timers (heartbeats).
  virtual void service() = 0;
  // Blocks until socket activity, wake(), or `max` has passed.
  virtual void wait(std::chrono::milliseconds max) = 0;
  // Any thread: makes a current or next wait() return at once.
  virtual void wake() = 0;
  // Cheap check, any thread: is there something to send?
  virtual bool wants_service() const noexcept = 0;
};

// Installed by the registry layer: resolves names that are not registered locally.
class name_resolver {
 public:
  virtual ~name_resolver() = default;
  virtual std::optional<pid> resolve(std::string_view name) = 0;
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

class runtime {
 public:
  explicit runtime(runtime_options options = {});
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
  // this returns, in the calling thread; an init error is returned and leaves no trace.
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
    return spawn(std::move(p), opts);
  }

  // Local registry: one name, one Pid. Names vanish when their process exits.
  result<void> register_name(std::string name, const pid& p);
  bool unregister_name(std::string_view name);
  std::optional<pid> whereis(std::string_view name) const;
  std::vector<std::pair<std::string, pid>> registered() const;

  std::optional<pid> resolve(const dest& d) const;
  bool alive(const pid& p) const;
  std::size_t process_count() const;
  // Every live process (see otter/introspection.hpp), in Pid order.
  std::vector<process_row> processes() const;
  // The name `p` is registered under on this node, or "".
  std::string name_of(const pid& p) const;
  // Counted in stats().restarts (supervisors call it).
  void count_restart() noexcept;
  runtime_stats stats() const;

  // Sends from outside any process (the sender is nil).
  template <class T>
  result<void> send(const dest& to, T&& msg) {
    return send_envelope(to, detail::make_message(detail::sig::info, std::forward<T>(msg)));
  }
  template <class T>
  result<void> cast(const dest& to, T&& msg) {
    return send_envelope(to, detail::make_message(detail::sig::cast, std::forward<T>(msg)));
  }
  // Sends an exit signal from outside any process (kill, shutdown, ...).
  result<void> exit(const dest& to, exit_reason reason);

  // Delivers `msg` to `to` after `delay`, from outside any process; cancel with cancel_timer.
  template <class T>
  std::uint64_t send_after(std::chrono::milliseconds delay, const pid& to, T&& msg) {
    return start_timer(delay, to, detail::make_message(detail::sig::info, std::forward<T>(msg)));
  }
  bool cancel_timer(std::uint64_t timer);

  void set_remote_router(remote_router* r) noexcept;
  // Installs (or, with nullptr, removes and waits out) the network's I/O driver.
  void set_io_driver(io_driver* io);
  // The driver has work queued: make a worker serve it soon.
  void wake_io();
  // The driver queued a send (`first`: its queue was empty): see scheduler::network_send.
  void network_send(bool first);
  // Serves the driver now on this thread if no worker is inside it (back-pressure helper).
  bool try_service_io();
  void set_name_resolver(name_resolver* r) noexcept;
  name_resolver* get_name_resolver() const noexcept;

  // ---- plumbing for the other layers (net, registry, supervisor); not for applications ----
  std::uint64_t make_ref() noexcept;
  // Sends `e` to `to`, local or remote. False when the target is known dead (e is dropped).
  bool deliver(const pid& to, detail::envelope_ptr e);
  // The same for any destination; a name on another node is resolved there.
  bool deliver_to(const dest& to, detail::envelope_ptr e);
  result<void> send_envelope(const dest& to, detail::envelope_ptr e);
  result<pid> spawn(std::unique_ptr<process> p, const start_options& opts);
  std::uint64_t start_timer(std::chrono::milliseconds delay, const pid& to, detail::envelope_ptr e);
  void arm_call_timer(detail::timer_node& n);
  void disarm_call_timer(detail::timer_node& n) noexcept;
  detail::scheduler& scheduler() noexcept;
  // Runs `fn(process&)` for the live local process `p`, holding a reference; false if none.
  // fn runs concurrently with the process: read only what is safe to read (atomics).
  template <class Fn>
  bool with_process(const pid& p, Fn&& fn) const {
    process* proc = acquire(p);
    if (proc == nullptr) return false;
    fn(*proc);
    release(proc);
    return true;
  }
  // A reference on the live local process `p` (release it), or nullptr.
  process* acquire(const pid& p) const;
  void add_ref(process* p) const noexcept;
  void release(process* p) const noexcept;
  void process_exited(process& p);
  void unregister_all(const pid& p);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace otter
