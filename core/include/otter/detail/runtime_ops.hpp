// Internal: the runtime's plumbing, for otter's own layers (net, registry, supervisor) and the
// templates of the public headers. Not part of the API: it changes without notice.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <utility>
#include <vector>

#include "otter/detail/envelope.hpp"
#include "otter/error.hpp"
#include "otter/pid.hpp"

namespace otter {
class runtime;
class process;
class dest;
struct start_options;
struct runtime_options;
}  // namespace otter

namespace otter::detail {

class executor;
struct timer_node;
struct runtime_state;

// Installed by the network layer: carries envelopes to processes on other nodes.
class remote_router {
 public:
  virtual ~remote_router() = default;
  // Takes the envelope for `to` (a Pid of another node). False when the node is known to be
  // unreachable or `to` is of a dead incarnation; the envelope is then dropped.
  virtual bool route(const pid& to, envelope_ptr e) = 0;
  // Takes the envelope for the process registered as `name` on node `node` (an id).
  virtual bool route_name(std::uint64_t node, std::string_view name, envelope_ptr e) = 0;
};

// Installed by the network layer: its sockets are served by the runtime's worker threads. An
// idle worker takes the I/O token and blocks in wait() instead of parking, so inbound
// messages are handled, and replies sent, on one thread (no hand-off to an I/O thread).
class io_driver {
 public:
  virtual ~io_driver() = default;
  // Non-blocking: take in what arrived, send what is queued, run due timers (heartbeats).
  virtual void service() = 0;
  // Blocks until socket activity, wake(), or `max` has passed, then takes in what arrived.
  // The worker waits in a quiescent state (see process_table): before it delivers anything it
  // must call io_activity().
  virtual void wait(std::chrono::milliseconds max) = 0;
  // Any thread: makes a current or next wait() return at once.
  virtual void wake() = 0;
  // Cheap check, any thread: is there something to send?
  virtual bool wants_service() const noexcept = 0;
};

// Called by an io_driver inside wait(), after the wait and before the first delivery: a
// worker leaves the quiescent state it waited in, so no process it looks up from here on can
// be freed under it. Cheap when called again; a no-op off a worker thread.
void io_activity() noexcept;

// Installed by the registry layer: resolves names that are not registered locally.
class name_resolver {
 public:
  virtual ~name_resolver() = default;
  virtual std::optional<pid> resolve(std::string_view name) = 0;
  // The global names `holder` holds (for logs: a crash report names the process).
  virtual std::vector<std::string> names_of(const pid& holder) = 0;
};

std::uint64_t make_ref(runtime& rt) noexcept;
// Sends `e` to `to`, local or remote. False when the target is known dead (e is dropped).
bool deliver(runtime& rt, const pid& to, envelope_ptr e);
// The same for any destination; a name on another node is resolved there.
bool deliver_to(runtime& rt, const dest& to, envelope_ptr e);
// deliver_to with the error a caller sees (noproc naming the target, shutting_down).
result<void> send_envelope(runtime& rt, const dest& to, envelope_ptr e);
result<pid> spawn(runtime& rt, std::unique_ptr<process> p, const start_options& opts);
std::uint64_t start_timer(runtime& rt, std::chrono::milliseconds delay, const pid& to,
                          envelope_ptr e);
void arm_call_timer(runtime& rt, timer_node& n);
void disarm_call_timer(runtime& rt, timer_node& n) noexcept;
executor& scheduler_of(runtime& rt) noexcept;
// The runtime's clock: steady_clock, or the simulator's.
std::chrono::steady_clock::time_point now(const runtime& rt) noexcept;

// A reference on the live local process `p` (release it), or nullptr.
process* acquire(const runtime& rt, const pid& p);
void add_ref(const runtime& rt, process* p) noexcept;
void release(const runtime& rt, process* p) noexcept;
// The same through the runtime's state (the runtime object may be gone).
void release(runtime_state& s, process* p) noexcept;
// Runs `fn(process&)` for the live local process `p`, holding a reference; false if none.
// fn runs concurrently with the process: read only what is safe to read (atomics).
template <class Fn>
bool with_process(const runtime& rt, const pid& p, Fn&& fn) {
  process* proc = acquire(rt, p);
  if (proc == nullptr) return false;
  fn(*proc);
  release(rt, proc);
  return true;
}
void process_exited(runtime& rt, process& p);

// Answers, on behalf of `speaker`, which cannot (it has exited, never existed, or its node is
// unreachable), a request of kind `kind` that `requester` sent it under `ref`: a call or a stop
// fails with `err`, a monitor fires `down` with err.reason, a link comes back as an exit signal
// (link_exit) with err.reason. Other kinds need no answer (false). The one place that does this
// for the runtime (an exiting process's mailbox) and the network (a dead target, a lost node).
bool answer_for(runtime& rt, sig kind, const pid& requester, const pid& speaker, std::uint64_t ref,
                const error& err);
// Counted in stats().restarts (supervisors call it).
void count_restart(runtime& rt) noexcept;

void set_remote_router(runtime& rt, remote_router* r) noexcept;
// Installs (or, with nullptr, removes and waits out) the network's I/O driver.
void set_io_driver(runtime& rt, io_driver* io);
// The driver has work queued: make a worker serve it soon.
void wake_io(runtime& rt);
// The driver queued a send (`first`: its queue was empty): see scheduler::network_send.
void network_send(runtime& rt, bool first);
// Serves the driver now on this thread if no worker is inside it (back-pressure helper).
bool try_service_io(runtime& rt);
void set_name_resolver(runtime& rt, name_resolver* r) noexcept;
// The installed resolver's answer for a global name (nullopt without one); `served` (if given)
// tells whether a resolver was installed. Any thread; safe while the runtime stops.
std::optional<pid> resolve_global(const runtime& rt, std::string_view name, bool* served = nullptr);
// The global names the installed resolver knows `holder` by (none without one). Any thread.
std::vector<std::string> global_names_of(const runtime& rt, const pid& holder);

// Per-runtime services: state a layer attaches to a runtime (the global registry, the
// registrar of supervised children's global names), one per type. Any thread.
std::shared_ptr<void> find_service(const runtime& rt, std::type_index type);
void set_service(runtime& rt, std::type_index type, std::shared_ptr<void> service);
template <class T>
std::shared_ptr<T> find_service(const runtime& rt) {
  return std::static_pointer_cast<T>(find_service(rt, std::type_index(typeid(T))));
}
template <class T>
void set_service(runtime& rt, std::shared_ptr<T> service) {
  set_service(rt, std::type_index(typeid(T)), std::static_pointer_cast<void>(std::move(service)));
}

// A service the registry layer installs: registers a supervised child's global name
// (child_spec::global_name). Without it the name is registered node-locally.
struct global_name_registrar {
  std::function<result<void>(runtime&, const std::string& name, const pid& child)> fn;
};

// The deterministic simulator's clock, read by every manual runtime made with it.
struct manual_clock {
  std::chrono::steady_clock::time_point now{};
};
// A runtime without threads: its processes run one activation at a time, and its timers fire,
// when the simulator says (core/src/simulation.hpp).
std::unique_ptr<runtime> make_manual_runtime(runtime_options options, const manual_clock& clock);

// The shared state behind a runtime, kept by handles that may outlive the runtime object.
std::shared_ptr<runtime_state> state_of(const runtime& rt) noexcept;
// False once the runtime has been shut down (or destroyed).
bool running(const runtime_state& s) noexcept;
// The runtime of a running state (nullptr once shut down).
runtime* runtime_of(runtime_state& s) noexcept;

}  // namespace otter::detail
