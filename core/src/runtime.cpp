#include "otter/runtime.hpp"

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "manual_executor.hpp"
#include "otter/call.hpp"
#include "otter/log.hpp"
#include "process_table.hpp"
#include "runtime_access.hpp"
#include "scheduler.hpp"
#include "simulation.hpp"
#include "timer_service.hpp"

namespace otter {

namespace detail {

// Everything of a runtime. The runtime object holds it, and so do handles that may outlive the
// object (scoped_process): they find it stopped and do nothing.
struct runtime_state {
  runtime* owner = nullptr;  // null once shut down
  std::atomic<bool> running{true};
  std::string node_name;
  std::uint64_t node_id = 0;
  std::uint32_t creation = 0;
  std::atomic<std::uint64_t> next_ref{1};
  mutable process_table table;

  mutable std::mutex names_mutex;  // protects names, names_of
  std::unordered_map<std::string, pid> names;
  std::unordered_multimap<std::uint64_t, std::string> names_of;  // process id -> its names

  std::atomic<remote_router*> router{nullptr};
  std::atomic<name_resolver*> resolver{nullptr};
  std::atomic<int> resolver_readers{0};  // threads inside resolve_global (stop waits them out)

  mutable std::mutex services_mutex;  // protects services
  std::unordered_map<std::type_index, std::shared_ptr<void>> services;

  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> exited{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> overflows{0};  // refused at a mailbox limit (not a hot path)
  std::atomic<std::uint64_t> restarts{0};
  std::chrono::steady_clock::time_point started;
  std::uint32_t mailbox_limit = 0;  // for processes started without one

  std::unique_ptr<executor> sched;
  std::unique_ptr<timer_service> timers;
  const manual_clock* clock = nullptr;  // set: a simulated runtime (simulation.hpp)

  std::chrono::steady_clock::time_point now() const noexcept {
    return clock != nullptr ? clock->now : std::chrono::steady_clock::now();
  }
};

struct runtime_internals {
  static std::unique_ptr<runtime> make_manual(runtime_options options, const manual_clock& clock) {
    return std::unique_ptr<runtime>(new runtime(std::move(options), &clock));
  }
  static runtime_state& state(const runtime& rt) noexcept { return *rt.state_; }
  static const std::shared_ptr<runtime_state>& shared(const runtime& rt) noexcept {
    return rt.state_;
  }
};

namespace {

runtime_state& st(const runtime& rt) noexcept {
  return runtime_internals::state(rt);
}

error shutting_down_error(const runtime_state& s) {
  return error{errc::shutting_down, "the runtime of node " + s.node_name + " has shut down"};
}

std::uint32_t fresh_creation() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto v = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count() & 0x7fffffff);
  return v == 0 ? 1 : v;
}

}  // namespace

std::uint64_t make_ref(runtime& rt) noexcept {
  return st(rt).next_ref.fetch_add(1, std::memory_order_relaxed);
}

bool deliver(runtime& rt, const pid& to, envelope_ptr e) {
  runtime_state& s = st(rt);
  if (!s.running.load(std::memory_order_acquire)) return false;
  scheduler::note_send();
  if (to.node != s.node_id) {
    if (remote_router* r = s.router.load(std::memory_order_acquire)) {
      return r->route(to, std::move(e));
    }
    s.dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (to.creation != s.creation) {
    s.dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // On a worker, inside an activation, the process cannot be freed under us (see
  // process_table): no reference needed. Elsewhere take one.
  const bool on_worker = s.sched->on_worker();
  process* p = on_worker ? s.table.peek(to.id) : s.table.acquire(to.id);
  if (p == nullptr) {
    s.dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (runtime_access::refuse_overflow(*p, e)) {
    s.overflows.fetch_add(1, std::memory_order_relaxed);
    if (!on_worker) s.table.release(to.id);
    return true;  // dropped and counted, as a full mailbox does
  }
  if ((e->kind == sig::info || e->kind == sig::cast) && runtime_access::append_own(*p, e)) {
    if (!on_worker) s.table.release(to.id);
    return true;  // sent to itself while it runs: appended in place
  }
  auto& box = runtime_access::inbox_of(*p);
  const auto r = box.push(e.get());
  bool ok = true;
  if (r == inbox::push_result::closed) {
    s.dropped.fetch_add(1, std::memory_order_relaxed);
    ok = false;
  } else {
    e.release();
    if (r == inbox::push_result::queued_wake) runtime_access::wake(*p);
  }
  if (!on_worker) s.table.release(to.id);
  return ok;
}

bool deliver_to(runtime& rt, const dest& to, envelope_ptr e) {
  runtime_state& s = st(rt);
  if (const dest::name_at* at = to.as_name_at(); at != nullptr && at->node != s.node_name) {
    if (!s.running.load(std::memory_order_acquire)) return false;
    if (remote_router* r = s.router.load(std::memory_order_acquire)) {
      scheduler::note_send();
      return r->route_name(node_id_of(at->node), at->name, std::move(e));
    }
    return false;
  }
  auto target = rt.resolve(to);
  return target && deliver(rt, *target, std::move(e));
}

result<void> send_envelope(runtime& rt, const dest& to, envelope_ptr e) {
  runtime_state& s = st(rt);
  if (!s.running.load(std::memory_order_acquire)) return shutting_down_error(s);
  if (const dest::name_at* at = to.as_name_at(); at != nullptr && at->node != s.node_name) {
    if (!deliver_to(rt, to, std::move(e))) return noproc_error(to);
    return ok();
  }
  auto target = rt.resolve(to);
  if (!target) return noproc_error(to);
  if (!deliver(rt, *target, std::move(e))) return noproc_error(*target);
  return ok();
}

result<pid> spawn(runtime& rt, std::unique_ptr<process> owned, const start_options& opts) {
  runtime_state& s = st(rt);
  if (!s.running.load(std::memory_order_acquire)) return shutting_down_error(s);
  process* p = owned.release();
  const pid id{s.node_id, s.table.reserve(), s.creation};
  runtime_access::attach(*p, &rt, id);
  process* parent = current_process();
  if (opts.link && parent != nullptr) runtime_access::set_parent(*p, parent->self());
  runtime_access::set_overflow(*p, opts.mailbox_limit != 0 ? opts.mailbox_limit : s.mailbox_limit,
                               opts.on_overflow == overflow_policy::exit);
  s.table.publish(id.id, p);  // from here on others can find it
  s.spawned.fetch_add(1, std::memory_order_relaxed);

  // As OTP: the name first, so that the loser of a taken name never runs its init.
  if (!opts.name.empty()) {
    if (auto r = rt.register_name(opts.name, id); !r) {
      runtime_access::discard(*p);
      s.table.release(id.id);
      return r.err();
    }
  }
  result<void> init = ok();
  {
    current_process_scope scope(p);
    try {
      init = runtime_access::init(*p);
    } catch (const std::exception& ex) {
      init = error{errc::init_failed, ex.what(), exit_reason(ex.what())};
    } catch (...) {
      init = error{errc::init_failed, "unknown exception", exit_reason("unknown exception")};
    }
    if (!init) {
      error e = init.err();
      if (e.code != errc::init_failed) e = error{errc::init_failed, e.message, e.reason};
      if (e.reason.is_normal()) e.reason = exit_reason(e.message);
      init = e;
      // It exits like any process: what it linked to and what monitors it learn the reason
      // (a child it started linked does not keep running); its name goes.
      runtime_access::fail_init(*p, e.reason);
    }
  }
  if (!init) {
    s.table.release(id.id);
    return init.err();
  }
  if (opts.link && parent != nullptr) {
    runtime_access::rel(*parent).links.insert(id);
    runtime_access::rel(*p).links.insert(parent->self());
  }
  // The process starts "running" (pushes during init did not schedule it): go idle, or run
  // at once if init left messages or a continue for it.
  if (runtime_access::continue_pending(*p) || !runtime_access::inbox_of(*p).try_block()) {
    s.sched->schedule(p);
  }
  return id;
}

std::chrono::steady_clock::time_point now(const runtime& rt) noexcept {
  return st(rt).now();
}

std::uint64_t start_timer(runtime& rt, std::chrono::milliseconds delay, const pid& to,
                          envelope_ptr e) {
  runtime_state& s = st(rt);
  if (!s.running.load(std::memory_order_acquire)) return 0;
  const auto now = s.now();
  const auto deadline = delay >= std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::time_point::max() - now)
                            ? std::chrono::steady_clock::time_point::max()
                            : now + delay;
  return s.timers->start(deadline, to, std::move(e));
}

void arm_call_timer(runtime& rt, timer_node& n) {
  st(rt).timers->arm(n);
}
void disarm_call_timer(runtime& rt, timer_node& n) noexcept {
  // Under the timers' lock even when it looks disarmed: the timer thread may have just taken it
  // from its heap, and the next await rewrites the node (ThreadSanitizer saw the race).
  st(rt).timers->disarm(n);
}
executor& scheduler_of(runtime& rt) noexcept {
  return *st(rt).sched;
}

std::unique_ptr<runtime> make_manual_runtime(runtime_options options, const manual_clock& clock) {
  return runtime_internals::make_manual(std::move(options), clock);
}
manual_executor& manual_executor_of(runtime& rt) noexcept {
  return static_cast<manual_executor&>(*st(rt).sched);
}
manual_timers& manual_timers_of(runtime& rt) noexcept {
  return static_cast<manual_timers&>(*st(rt).timers);
}

process* acquire(const runtime& rt, const pid& p) {
  if (!rt.is_local(p)) return nullptr;
  return st(rt).table.acquire(p.id);
}
void add_ref(const runtime& rt, process* p) noexcept {
  st(rt).table.add_ref(p->self().id);
}
void release(const runtime& rt, process* p) noexcept {
  st(rt).table.release(p->self().id);
}
void release(runtime_state& s, process* p) noexcept {
  s.table.release(p->self().id);
}

void process_exited(runtime& rt, process& p) {
  runtime_state& s = st(rt);
  s.table.mark_exited();
  s.exited.fetch_add(1, std::memory_order_relaxed);
  if (runtime_access::has_name(p)) {
    std::lock_guard<std::mutex> l(s.names_mutex);
    auto range = s.names_of.equal_range(p.self().id);
    for (auto i = range.first; i != range.second; ++i) s.names.erase(i->second);
    s.names_of.erase(p.self().id);
  }
}

bool answer_for(runtime& rt, sig kind, const pid& requester, const pid& speaker, std::uint64_t ref,
                const error& err) {
  switch (kind) {
    case sig::call:
    case sig::stop_request: {
      auto e = std::make_unique<error_envelope>(err);
      e->from = speaker;
      e->ref = ref;
      deliver(rt, requester, std::move(e));
      return true;
    }
    case sig::monitor:
      deliver(rt, requester, make_signal(sig::down, speaker, ref, err.reason));
      return true;
    case sig::link:
      deliver(rt, requester, make_signal(sig::link_exit, speaker, 0, err.reason));
      return true;
    default: return false;
  }
}

void count_restart(runtime& rt) noexcept {
  st(rt).restarts.fetch_add(1, std::memory_order_relaxed);
}

void set_remote_router(runtime& rt, remote_router* r) noexcept {
  st(rt).router.store(r, std::memory_order_release);
}
void set_io_driver(runtime& rt, io_driver* io) {
  st(rt).sched->set_io(io);
}
void wake_io(runtime& rt) {
  st(rt).sched->wake_io();
}
void network_send(runtime& rt, bool first) {
  st(rt).sched->network_send(first);
}
bool try_service_io(runtime& rt) {
  return st(rt).sched->try_service_io();
}
void set_name_resolver(runtime& rt, name_resolver* r) noexcept {
  st(rt).resolver.store(r, std::memory_order_release);
}
std::optional<pid> resolve_global(const runtime& rt, std::string_view name, bool* served) {
  runtime_state& s = st(rt);
  // Announce the read, then load (both seq_cst): stop() clears the pointer, then waits for
  // the count to reach zero before it frees the services, so a resolver read here stays alive
  // until the count is given back. Cheaper than a services lookup and a shared_ptr copy.
  struct reader {
    std::atomic<int>& n;
    explicit reader(std::atomic<int>& c) : n(c) { n.fetch_add(1); }
    ~reader() { n.fetch_sub(1, std::memory_order_release); }
  } in(s.resolver_readers);
  name_resolver* r = s.resolver.load();
  if (served != nullptr) *served = r != nullptr;
  return r != nullptr ? r->resolve(name) : std::nullopt;
}

std::vector<std::string> global_names_of(const runtime& rt, const pid& holder) {
  runtime_state& s = st(rt);
  struct reader {  // as in resolve_global
    std::atomic<int>& n;
    explicit reader(std::atomic<int>& c) : n(c) { n.fetch_add(1); }
    ~reader() { n.fetch_sub(1, std::memory_order_release); }
  } in(s.resolver_readers);
  name_resolver* r = s.resolver.load();
  return r != nullptr ? r->names_of(holder) : std::vector<std::string>{};
}

std::shared_ptr<void> find_service(const runtime& rt, std::type_index type) {
  runtime_state& s = st(rt);
  std::lock_guard<std::mutex> l(s.services_mutex);
  auto it = s.services.find(type);
  return it == s.services.end() ? nullptr : it->second;
}
void set_service(runtime& rt, std::type_index type, std::shared_ptr<void> service) {
  runtime_state& s = st(rt);
  std::lock_guard<std::mutex> l(s.services_mutex);
  if (service) {
    s.services[type] = std::move(service);
  } else {
    s.services.erase(type);
  }
}

std::shared_ptr<runtime_state> state_of(const runtime& rt) noexcept {
  return runtime_internals::shared(rt);
}
bool running(const runtime_state& s) noexcept {
  return s.running.load(std::memory_order_acquire);
}
runtime* runtime_of(runtime_state& s) noexcept {
  return running(s) ? s.owner : nullptr;
}

}  // namespace detail

using detail::runtime_access;

runtime::runtime(runtime_options options) : runtime(std::move(options), nullptr) {}

runtime::runtime(runtime_options options, const detail::manual_clock* clock)
    : state_(std::make_shared<detail::runtime_state>()) {
  detail::runtime_state& s = *state_;
  s.owner = this;
  s.clock = clock;
  s.node_name = options.node_name.empty() ? defaults::node_name : options.node_name;
  s.node_id = node_id_of(s.node_name);
  s.creation = options.creation != 0 ? options.creation : detail::fresh_creation();
  s.mailbox_limit = options.mailbox_limit;
  if (clock != nullptr) {
    s.sched = std::make_unique<detail::manual_executor>();
    s.timers = std::make_unique<detail::manual_timers>(*this);
  } else {
    unsigned n = options.workers != 0 ? options.workers : std::thread::hardware_concurrency();
    s.sched = std::make_unique<detail::scheduler>(n == 0 ? 2 : n);
    s.timers = std::make_unique<detail::threaded_timers>(*this);
  }
  s.started = s.now();
  s.sched->set_table(&s.table);
  s.table.set_epochs(s.sched.get());
  s.sched->start();
}

runtime::~runtime() {
  shutdown();
}

void runtime::shutdown() {
  detail::runtime_state& s = *state_;
  if (!s.running.exchange(false, std::memory_order_acq_rel)) return;
  s.timers->stop();
  s.sched->stop();
  // Workers are gone: free what is left without signalling anyone. A process a handle still
  // refers to (a scoped_process) is freed when that handle lets go of it.
  std::vector<std::uint64_t> live;
  s.table.for_each([&](std::uint64_t id, process* p) {
    if (runtime_access::closed(*p)) return;
    runtime_access::destroy_orphan(*p);
    live.push_back(id);
  });
  s.table.set_epochs(nullptr);  // single-threaded from now on: the last release frees at once
  for (std::uint64_t id : live) s.table.release(id);
  s.table.reclaim(true);
  s.resolver.store(nullptr);
  while (s.resolver_readers.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  s.router.store(nullptr, std::memory_order_release);
  {
    std::lock_guard<std::mutex> l(s.services_mutex);
    s.services.clear();
  }
  s.owner = nullptr;
}

bool runtime::stopped() const noexcept {
  return !state_->running.load(std::memory_order_acquire);
}

const std::string& runtime::node_name() const noexcept {
  return state_->node_name;
}
std::uint64_t runtime::node_id() const noexcept {
  return state_->node_id;
}
std::uint32_t runtime::creation() const noexcept {
  return state_->creation;
}
unsigned runtime::worker_count() const noexcept {
  return state_->sched->size();
}

bool runtime::is_local(const pid& p) const noexcept {
  return p.node == state_->node_id && p.creation == state_->creation;
}

result<void> runtime::exit(const dest& to, exit_reason reason) {
  auto e = std::make_unique<detail::reason_envelope>(detail::sig::exit, std::move(reason));
  if (process* self = detail::current_process()) e->from = self->self();
  return detail::send_envelope(*this, to, std::move(e));
}

result<void> runtime::register_name(std::string name, const pid& p) {
  detail::runtime_state& s = *state_;
  if (name.empty()) return error{errc::badarg, "cannot register an empty name"};
  if (!is_local(p)) {
    return error{errc::badarg,
                 "cannot register '" + name + "' locally for non-local process " + to_string(p)};
  }
  process* proc = detail::acquire(*this, p);
  if (proc == nullptr) return detail::noproc_error(p);
  if (runtime_access::closed(*proc)) {  // exited, not yet freed
    detail::release(*this, proc);
    return detail::noproc_error(p);
  }
  std::unique_lock<std::mutex> l(s.names_mutex);
  auto [it, inserted] = s.names.emplace(name, p);
  if (!inserted) {
    error e{errc::already_registered,
            "name '" + name + "' is already registered to " + to_string(it->second)};
    e.holder = it->second;
    l.unlock();
    detail::release(*this, proc);
    return e;
  }
  s.names_of.emplace(p.id, std::move(name));
  runtime_access::set_has_name(*proc);
  l.unlock();
  // The process may have exited between acquire and now: its cleanup may have missed us.
  const bool dead = runtime_access::inbox_of(*proc).closed();
  detail::release(*this, proc);
  if (dead) {
    std::lock_guard<std::mutex> g(s.names_mutex);
    auto range = s.names_of.equal_range(p.id);
    for (auto i = range.first; i != range.second; ++i) s.names.erase(i->second);
    s.names_of.erase(p.id);
    return detail::noproc_error(p);
  }
  return ok();
}

bool runtime::unregister_name(std::string_view name) {
  detail::runtime_state& s = *state_;
  std::lock_guard<std::mutex> l(s.names_mutex);
  auto it = s.names.find(std::string(name));
  if (it == s.names.end()) return false;
  auto range = s.names_of.equal_range(it->second.id);
  for (auto i = range.first; i != range.second; ++i) {
    if (i->second == name) {
      s.names_of.erase(i);
      break;
    }
  }
  s.names.erase(it);
  return true;
}

std::optional<pid> runtime::whereis(std::string_view name) const {
  std::lock_guard<std::mutex> l(state_->names_mutex);
  auto it = state_->names.find(std::string(name));
  if (it == state_->names.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, pid>> runtime::registered() const {
  std::lock_guard<std::mutex> l(state_->names_mutex);
  return {state_->names.begin(), state_->names.end()};
}

std::optional<pid> runtime::resolve(const dest& d) const {
  if (const pid* p = d.as_pid()) return *p;
  if (const dest::name_at* at = d.as_name_at()) {
    if (at->node == state_->node_name) return whereis(at->name);
    return std::nullopt;  // resolved by its node
  }
  const std::string& name = *d.as_name();
  if (auto p = whereis(name)) return p;
  return detail::resolve_global(*this, name);
}

bool runtime::alive(const pid& p) const {
  process* proc = detail::acquire(*this, p);
  if (proc == nullptr) return false;
  const bool up = !runtime_access::inbox_of(*proc).closed();
  detail::release(*this, proc);
  return up;
}

std::size_t runtime::process_count() const {
  return state_->table.size();
}

runtime_stats runtime::stats() const {
  const detail::runtime_state& s = *state_;
  runtime_stats r;
  r.processes = s.table.size();
  r.spawned = s.spawned.load(std::memory_order_relaxed);
  r.exited = s.exited.load(std::memory_order_relaxed);
  r.messages_dropped = s.dropped.load(std::memory_order_relaxed);
  s.sched->dispatch_counts(r.messages_handled, r.calls_handled);
  r.restarts = s.restarts.load(std::memory_order_relaxed);
  r.uptime_ms = std::chrono::duration_cast<std::chrono::milliseconds>(s.now() - s.started).count();
  return r;
}

runtime_metrics runtime::metrics() const {
  runtime_metrics m;
  state_->sched->call_times(m.call_times);
  m.mailbox_overflows = state_->overflows.load(std::memory_order_relaxed);
  return m;
}

std::string runtime::name_of(const pid& p) const {
  if (p.node != state_->node_id) return {};
  std::lock_guard<std::mutex> l(state_->names_mutex);
  auto [b, e] = state_->names_of.equal_range(p.id);
  for (auto it = b; it != e; ++it) {
    auto n = state_->names.find(it->second);
    if (n != state_->names.end() && n->second == p) return it->second;
  }
  return {};
}

std::vector<process_row> runtime::processes() const {
  std::vector<process_row> rows;
  rows.reserve(state_->table.size());
  state_->table.for_each([&](std::uint64_t, process* p) {
    if (!runtime_access::closed(*p)) rows.push_back(p->row());
  });
  return rows;
}

std::optional<process_row> runtime::row(const pid& p) const {
  std::optional<process_row> out;
  detail::with_process(*this, p, [&](process& proc) {
    if (!runtime_access::closed(proc)) out = proc.row();
  });
  return out;
}

bool runtime::cancel_timer(std::uint64_t timer) {
  return state_->timers->cancel(timer);
}

std::string dest::describe() const {
  if (const pid* p = as_pid()) return to_string(*p);
  if (const name_at* at = as_name_at()) return "'" + at->name + "' on node " + at->node;
  return "'" + *as_name() + "'";
}

}  // namespace otter
