#include "otter/runtime.hpp"

#include <array>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "otter/call.hpp"
#include "process_table.hpp"
#include "runtime_access.hpp"
#include "scheduler.hpp"
#include "timer_service.hpp"

namespace otter {

using detail::runtime_access;

namespace {

std::uint32_t fresh_creation() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto v = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count() & 0x7fffffff);
  return v == 0 ? 1 : v;
}

}  // namespace

struct runtime::impl {
  std::string node_name;
  std::uint64_t node_id;
  std::uint32_t creation;
  std::atomic<std::uint64_t> next_ref{1};
  mutable detail::process_table table;

  mutable std::mutex names_mutex;  // protects names, names_of
  std::unordered_map<std::string, pid> names;
  std::unordered_multimap<std::uint64_t, std::string> names_of;  // process id -> its names

  std::atomic<remote_router*> router{nullptr};
  std::atomic<name_resolver*> resolver{nullptr};

  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> exited{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> restarts{0};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  std::unique_ptr<detail::scheduler> sched;
  std::unique_ptr<detail::timer_service> timers;
};

namespace {
// spdlog's default logger writes to stdout; otter's logs go to stderr so that programs (and
// otterctl --json) own their stdout.
void log_to_stderr() {
  static const bool done = [] {
    auto logger = spdlog::stderr_color_mt("otter");
    spdlog::set_default_logger(logger);
    return true;
  }();
  (void)done;
}
}  // namespace

runtime::runtime(runtime_options options) : impl_(std::make_unique<impl>()) {
  log_to_stderr();
  impl_->node_name = options.node_name.empty() ? defaults::node_name : options.node_name;
  impl_->node_id = node_id_of(impl_->node_name);
  impl_->creation = options.creation != 0 ? options.creation : fresh_creation();
  unsigned n = options.workers != 0 ? options.workers : std::thread::hardware_concurrency();
  impl_->sched = std::make_unique<detail::scheduler>(n == 0 ? 2 : n);
  impl_->sched->set_table(&impl_->table);
  impl_->table.set_epochs(impl_->sched.get());
  impl_->timers = std::make_unique<detail::timer_service>(*this);
  impl_->sched->start();
}

runtime::~runtime() {
  impl_->timers->stop();
  impl_->sched->stop();
  // Workers are gone: free what is left without signalling anyone.
  std::vector<std::uint64_t> live;
  impl_->table.for_each([&](std::uint64_t id, process* p) {
    if (runtime_access::closed(*p)) return;
    runtime_access::destroy_orphan(*p);
    live.push_back(id);
  });
  for (std::uint64_t id : live) impl_->table.release(id);
  impl_->table.reclaim(true);  // while the timer service and scheduler objects still exist
}

const std::string& runtime::node_name() const noexcept {
  return impl_->node_name;
}
std::uint64_t runtime::node_id() const noexcept {
  return impl_->node_id;
}
std::uint32_t runtime::creation() const noexcept {
  return impl_->creation;
}
unsigned runtime::worker_count() const noexcept {
  return impl_->sched->size();
}
detail::scheduler& runtime::scheduler() noexcept {
  return *impl_->sched;
}

bool runtime::is_local(const pid& p) const noexcept {
  return p.node == impl_->node_id && p.creation == impl_->creation;
}

std::uint64_t runtime::make_ref() noexcept {
  return impl_->next_ref.fetch_add(1, std::memory_order_relaxed);
}

void runtime::set_remote_router(remote_router* r) noexcept {
  impl_->router.store(r, std::memory_order_release);
}
void runtime::set_io_driver(io_driver* io) {
  impl_->sched->set_io(io);
}
void runtime::wake_io() {
  impl_->sched->wake_io();
}
void runtime::network_send(bool first) {
  impl_->sched->network_send(first);
}
bool runtime::try_service_io() {
  return impl_->sched->try_service_io();
}

void runtime::set_name_resolver(name_resolver* r) noexcept {
  impl_->resolver.store(r, std::memory_order_release);
}

name_resolver* runtime::get_name_resolver() const noexcept {
  return impl_->resolver.load(std::memory_order_acquire);
}

process* runtime::acquire(const pid& p) const {
  if (!is_local(p)) return nullptr;
  process* proc = impl_->table.acquire(p.id);
  return proc;
}

void runtime::add_ref(process* p) const noexcept {
  impl_->table.add_ref(p->self().id);
}
void runtime::release(process* p) const noexcept {
  impl_->table.release(p->self().id);
}

bool runtime::deliver(const pid& to, detail::envelope_ptr e) {
  detail::scheduler::note_send();
  if (to.node != impl_->node_id) {
    if (remote_router* r = impl_->router.load(std::memory_order_acquire)) {
      return r->route(to, std::move(e));
    }
    impl_->dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (to.creation != impl_->creation) {
    impl_->dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // On a worker, inside an activation, the process cannot be freed under us (see
  // process_table): no reference needed. Elsewhere take one.
  const bool on_worker = impl_->sched->on_worker();
  process* p = on_worker ? impl_->table.peek(to.id) : impl_->table.acquire(to.id);
  if (p == nullptr) {
    impl_->dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (runtime_access::refuse_overflow(*p, e)) {
    if (!on_worker) release(p);
    return true;  // dropped and counted, as a full mailbox does
  }
  auto& box = runtime_access::inbox_of(*p);
  const auto r = box.push(e.get());
  bool ok = true;
  if (r == detail::inbox::push_result::closed) {
    impl_->dropped.fetch_add(1, std::memory_order_relaxed);
    ok = false;
  } else {
    e.release();
    if (r == detail::inbox::push_result::queued_wake) runtime_access::wake(*p);
  }
  if (!on_worker) release(p);
  return ok;
}

bool runtime::deliver_to(const dest& to, detail::envelope_ptr e) {
  if (const dest::name_at* at = to.as_name_at(); at != nullptr && at->node != impl_->node_name) {
    if (remote_router* r = impl_->router.load(std::memory_order_acquire)) {
      detail::scheduler::note_send();
      return r->route_name(node_id_of(at->node), at->name, std::move(e));
    }
    return false;
  }
  auto target = resolve(to);
  return target && deliver(*target, std::move(e));
}

std::optional<pid> runtime::resolve(const dest& d) const {
  if (const pid* p = d.as_pid()) return *p;
  if (const dest::name_at* at = d.as_name_at()) {
    if (at->node == impl_->node_name) return whereis(at->name);
    return std::nullopt;  // resolved by its node
  }
  const std::string& name = *d.as_name();
  if (auto p = whereis(name)) return p;
  if (name_resolver* r = impl_->resolver.load(std::memory_order_acquire)) return r->resolve(name);
  return std::nullopt;
}

result<void> runtime::send_envelope(const dest& to, detail::envelope_ptr e) {
  if (const dest::name_at* at = to.as_name_at(); at != nullptr && at->node != impl_->node_name) {
    if (!deliver_to(to, std::move(e))) return detail::noproc_error(to);
    return ok();
  }
  auto target = resolve(to);
  if (!target) return detail::noproc_error(to);
  if (!deliver(*target, std::move(e))) return detail::noproc_error(*target);
  return ok();
}

result<void> runtime::exit(const dest& to, exit_reason reason) {
  auto e = std::make_unique<detail::reason_envelope>(detail::sig::exit, std::move(reason));
  if (process* self = detail::current_process()) e->from = self->self();
  return send_envelope(to, std::move(e));
}

result<pid> runtime::spawn(std::unique_ptr<process> owned, const start_options& opts) {
  process* p = owned.release();
  const pid id{impl_->node_id, impl_->table.reserve(), impl_->creation};
  runtime_access::attach(*p, this, id);
  process* parent = detail::current_process();
  if (opts.link && parent != nullptr) runtime_access::set_parent(*p, parent->self());
  runtime_access::set_overflow(*p, opts.mailbox_limit, opts.on_overflow == overflow_policy::exit);
  impl_->table.publish(id.id, p);  // from here on others can find it
  impl_->spawned.fetch_add(1, std::memory_order_relaxed);

  result<void> init = ok();
  {
    detail::current_process_scope scope(p);
    try {
      init = runtime_access::init(*p);
    } catch (const std::exception& ex) {
      init = error{errc::init_failed, ex.what(), exit_reason(ex.what())};
    } catch (...) {
      init = error{errc::init_failed, "unknown exception", exit_reason("unknown exception")};
    }
    if (init.ok() && !opts.name.empty()) {
      if (auto r = register_name(opts.name, id); !r) init = r;
    }
    if (!init) runtime_access::discard(*p);
  }
  if (!init) {
    release(p);
    error e = init.err();
    if (e.code != errc::init_failed && e.code != errc::already_registered) {
      e = error{errc::init_failed, e.message, exit_reason(e.message)};
    }
    if (e.reason.is_normal() && e.code == errc::init_failed) e.reason = exit_reason(e.message);
    return e;
  }
  if (opts.link && parent != nullptr) {
    runtime_access::rel(*parent).links.insert(id);
    runtime_access::rel(*p).links.insert(parent->self());
  }
  // The process starts "running" (pushes during init did not schedule it): go idle, or run
  // at once if init left messages for it.
  if (!runtime_access::inbox_of(*p).try_block()) impl_->sched->schedule(p);
  return id;
}

void runtime::process_exited(process& p) {
  impl_->table.mark_exited();
  impl_->exited.fetch_add(1, std::memory_order_relaxed);
  if (runtime_access::has_name(p)) unregister_all(p.self());
}

result<void> runtime::register_name(std::string name, const pid& p) {
  if (name.empty()) return error{errc::badarg, "cannot register an empty name"};
  if (!is_local(p)) {
    return error{errc::badarg,
                 "cannot register '" + name + "' locally for non-local process " + to_string(p)};
  }
  process* proc = acquire(p);
  if (proc == nullptr) return detail::noproc_error(p);
  if (runtime_access::closed(*proc)) {  // exited, not yet freed
    release(proc);
    return detail::noproc_error(p);
  }
  std::unique_lock<std::mutex> l(impl_->names_mutex);
  auto [it, inserted] = impl_->names.emplace(name, p);
  if (!inserted) {
    error e{errc::already_registered,
            "name '" + name + "' is already registered to " + to_string(it->second)};
    e.holder = it->second;
    l.unlock();
    release(proc);
    return e;
  }
  impl_->names_of.emplace(p.id, std::move(name));
  runtime_access::set_has_name(*proc);
  l.unlock();
  // The process may have exited between acquire and now: its cleanup may have missed us.
  const bool dead = runtime_access::inbox_of(*proc).closed();
  release(proc);
  if (dead) {
    unregister_all(p);
    return detail::noproc_error(p);
  }
  return ok();
}

bool runtime::unregister_name(std::string_view name) {
  std::lock_guard<std::mutex> l(impl_->names_mutex);
  auto it = impl_->names.find(std::string(name));
  if (it == impl_->names.end()) return false;
  auto range = impl_->names_of.equal_range(it->second.id);
  for (auto i = range.first; i != range.second; ++i) {
    if (i->second == name) {
      impl_->names_of.erase(i);
      break;
    }
  }
  impl_->names.erase(it);
  return true;
}

void runtime::unregister_all(const pid& p) {
  std::lock_guard<std::mutex> l(impl_->names_mutex);
  auto range = impl_->names_of.equal_range(p.id);
  for (auto i = range.first; i != range.second; ++i) impl_->names.erase(i->second);
  impl_->names_of.erase(p.id);
}

std::optional<pid> runtime::whereis(std::string_view name) const {
  std::lock_guard<std::mutex> l(impl_->names_mutex);
  auto it = impl_->names.find(std::string(name));
  if (it == impl_->names.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, pid>> runtime::registered() const {
  std::lock_guard<std::mutex> l(impl_->names_mutex);
  return {impl_->names.begin(), impl_->names.end()};
}

bool runtime::alive(const pid& p) const {
  process* proc = acquire(p);
  if (proc == nullptr) return false;
  const bool up = !runtime_access::inbox_of(*proc).closed();
  release(proc);
  return up;
}

std::size_t runtime::process_count() const {
  return impl_->table.size();
}

runtime_stats runtime::stats() const {
  runtime_stats s;
  s.processes = impl_->table.size();
  s.spawned = impl_->spawned.load(std::memory_order_relaxed);
  s.exited = impl_->exited.load(std::memory_order_relaxed);
  s.messages_dropped = impl_->dropped.load(std::memory_order_relaxed);
  impl_->sched->dispatch_counts(s.messages_handled, s.calls_handled);
  s.restarts = impl_->restarts.load(std::memory_order_relaxed);
  s.uptime_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - impl_->started)
                    .count();
  return s;
}

void runtime::count_restart() noexcept {
  impl_->restarts.fetch_add(1, std::memory_order_relaxed);
}

std::string runtime::name_of(const pid& p) const {
  if (p.node != impl_->node_id) return {};
  std::lock_guard<std::mutex> l(impl_->names_mutex);
  auto [b, e] = impl_->names_of.equal_range(p.id);
  for (auto it = b; it != e; ++it) {
    auto n = impl_->names.find(it->second);
    if (n != impl_->names.end() && n->second == p) return it->second;
  }
  return {};
}

std::vector<process_row> runtime::processes() const {
  std::vector<process_row> rows;
  rows.reserve(impl_->table.size());
  impl_->table.for_each([&](std::uint64_t, process* p) {
    if (!runtime_access::closed(*p)) rows.push_back(p->row());
  });
  return rows;
}

std::uint64_t runtime::start_timer(std::chrono::milliseconds delay, const pid& to,
                                   detail::envelope_ptr e) {
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = delay >= std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::time_point::max() - now)
                            ? std::chrono::steady_clock::time_point::max()
                            : now + delay;
  return impl_->timers->start(deadline, to, std::move(e));
}

bool runtime::cancel_timer(std::uint64_t timer) {
  return impl_->timers->cancel(timer);
}

void runtime::arm_call_timer(detail::timer_node& n) {
  impl_->timers->arm(n);
}
void runtime::disarm_call_timer(detail::timer_node& n) noexcept {
  if (n.armed()) impl_->timers->disarm(n);
}

std::string dest::describe() const {
  if (const pid* p = as_pid()) return to_string(*p);
  if (const name_at* at = as_name_at()) return "'" + at->name + "' on node " + at->node;
  return "'" + *as_name() + "'";
}

}  // namespace otter
