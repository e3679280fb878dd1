#include "scheduler.hpp"

#include <immintrin.h>

#include "otter/defaults.hpp"
#include "otter/process.hpp"
#include "otter/runtime.hpp"
#include "runtime_access.hpp"

namespace otter::detail {

namespace {
struct worker_context {
  const scheduler* owner = nullptr;
  void* self = nullptr;
  int sends = 0;
};
thread_local worker_context tl_worker;
// True while this thread holds io_mutex_ and serves the driver.
thread_local bool tl_in_io = false;
struct in_io_scope {
  in_io_scope() noexcept { tl_in_io = true; }
  ~in_io_scope() { tl_in_io = false; }
  in_io_scope(const in_io_scope&) = delete;
  in_io_scope& operator=(const in_io_scope&) = delete;
};
}  // namespace

scheduler::scheduler(unsigned workers) {
  if (workers == 0) workers = 1;
  for (unsigned i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<worker>());
    workers_.back()->index = i;
  }
}

scheduler::~scheduler() {
  stop();
}

void scheduler::start() {
  for (auto& w : workers_) {
    worker* wp = w.get();
    w->thread = std::thread([this, wp] { run(*wp); });
  }
}

void scheduler::stop() {
  if (stop_.exchange(true)) {
    for (auto& w : workers_)
      if (w->thread.joinable()) w->thread.join();
    return;
  }
  {
    std::lock_guard<std::mutex> l(park_mutex_);
    wake_tokens_ = static_cast<int>(workers_.size());
  }
  park_cv_.notify_all();
  if (io_driver* io = io_.load()) io->wake();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

void scheduler::note_send() noexcept {
  // A handler that keeps sending while runnable processes wait behind it on this worker:
  // offer them to an idle worker once per activation.
  if (++tl_worker.sends != defaults::spread_after_sends || tl_worker.owner == nullptr) return;
  auto& w = *static_cast<worker*>(tl_worker.self);
  if (w.next.load(std::memory_order_relaxed) != nullptr ||
      w.queued.load(std::memory_order_relaxed) > 0) {
    const_cast<scheduler*>(tl_worker.owner)->notify();
  }
}

bool scheduler::may_linger() noexcept {
  const scheduler* s = tl_worker.owner;
  if (s == nullptr) return false;
  const auto& w = *static_cast<const worker*>(tl_worker.self);
  if (w.next.load(std::memory_order_relaxed) != nullptr ||
      w.queued.load(std::memory_order_relaxed) > 0 ||
      s->injected_.load(std::memory_order_relaxed) > 0 ||
      s->stop_.load(std::memory_order_relaxed)) {
    return false;
  }
  const io_driver* io = s->io_.load(std::memory_order_relaxed);
  return io == nullptr || !io->wants_service();
}

void scheduler::note_dispatch(bool call) noexcept {
  auto* w = static_cast<worker*>(tl_worker.self);
  if (w == nullptr) return;  // init runs in its starter's thread: not counted
  w->handled.store(w->handled.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (call) w->calls.store(w->calls.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

std::uint64_t scheduler::handled_sum() const noexcept {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->handled.load(std::memory_order_relaxed);
  return n;
}

void scheduler::dispatch_counts(std::uint64_t& handled, std::uint64_t& calls) const noexcept {
  handled = calls = 0;
  for (const auto& w : workers_) {
    handled += w->handled.load(std::memory_order_relaxed);
    calls += w->calls.load(std::memory_order_relaxed);
  }
}

void scheduler::note_call_time(std::chrono::steady_clock::duration took) noexcept {
  auto* w = static_cast<worker*>(tl_worker.self);
  if (w == nullptr) return;
  const auto ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
  const auto& bounds = call_time_histogram::bounds_us;
  std::size_t b = 0;
  while (b < bounds.size() && ns > bounds[b] * 1000) ++b;
  // One writer (this worker): relaxed load + store, no read-modify-write.
  auto& bucket = w->call_buckets[b];
  bucket.store(bucket.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  w->call_ns.store(w->call_ns.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
}

void scheduler::call_times(call_time_histogram& h) const noexcept {
  h = {};
  for (const auto& w : workers_) {
    for (std::size_t b = 0; b < h.counts.size(); ++b) {
      h.counts[b] += w->call_buckets[b].load(std::memory_order_relaxed);
    }
    h.sum_ns += w->call_ns.load(std::memory_order_relaxed);
  }
}

bool scheduler::on_worker() const noexcept {
  return tl_worker.owner == this;
}

void scheduler::retired() noexcept {
  if (!on_worker()) notify();
}

void scheduler::reclaim_idle(worker& w) noexcept {
  if (table_ == nullptr || !table_->has_retired()) return;
  // Destructors run here may send (a dropped `from`): stay "in an activation" meanwhile.
  w.seen.store(epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  table_->reclaim();
}

bool scheduler::grace_passed(std::uint64_t epoch) const noexcept {
  for (auto& w : workers_) {
    if (w->seen.load(std::memory_order_seq_cst) <= epoch) return false;
  }
  return true;
}

void scheduler::schedule(process* p) {
  if (tl_worker.owner == this) {
    auto& w = *static_cast<worker*>(tl_worker.self);
    process* prev = w.next.exchange(p, std::memory_order_acq_rel);
    if (prev != nullptr) {
      push_queue(w, prev);
      notify();
    } else if (tl_worker.sends > defaults::spread_after_sends) {
      notify();
    }
    return;
  }
  {
    std::lock_guard<std::mutex> l(inject_mutex_);
    inject_.push_back(p);
  }
  injected_.fetch_add(1, std::memory_order_seq_cst);
  notify();
}

void scheduler::push_queue(worker& w, process* p) {
  {
    std::lock_guard<std::mutex> l(w.mutex);
    w.queue.push_back(p);
  }
  w.queued.fetch_add(1, std::memory_order_seq_cst);
}

void scheduler::set_io(io_driver* io) {
  io_driver* old = io_.exchange(io, std::memory_order_seq_cst);
  if (old != nullptr) {
    old->wake();
    std::lock_guard<std::mutex> l(io_mutex_);  // waits until no worker is inside the old one
  }
  // Workers may all be parked on the condition variable: get one to take the token.
  if (io != nullptr) wake_io();
}

bool scheduler::try_service_io() {
  // A send made while this thread serves the driver (a delivery to another node) must not
  // try the mutex it already holds.
  if (tl_in_io) return false;
  io_driver* io = io_.load(std::memory_order_acquire);
  if (io == nullptr) return false;
  std::unique_lock<std::mutex> l(io_mutex_, std::try_to_lock);
  if (!l.owns_lock()) return false;
  io = io_.load(std::memory_order_acquire);
  if (io == nullptr) return false;
  in_io_scope in_io;
  io->service();
  io_serves_.store(io_serves_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return true;
}

void scheduler::wake_io() {
  if (io_waiting_.load(std::memory_order_seq_cst)) {
    if (io_driver* io = io_.load(std::memory_order_acquire)) io->wake();
    return;
  }
  notify();
}

void scheduler::network_send(bool first) {
  io_driver* io = io_.load(std::memory_order_acquire);
  if (io == nullptr) return;
  if (tl_worker.owner == this) {
    // Sent while serving the sockets (a delivery's answer): the service() that delivers, or
    // the one that follows the driver's wait, sends what is queued; the sticky wake covers a
    // send made after that service's drain (from its tick or its view change).
    if (tl_in_io) {
      if (first) io->wake();
      return;
    }
    // The worker sends what its handler queued after the activation; a handler that keeps
    // sending gets its queue flushed every batch, here or by the worker polling the sockets.
    if (tl_worker.sends % defaults::network_flush_every == 0 && !try_service_io()) io->wake();
    return;
  }
  if (first) {
    io->wake();  // sticky: a worker about to poll returns at once
    if (!io_waiting_.load(std::memory_order_seq_cst)) notify();
  }
}

void scheduler::notify_io() {
  if (io_waiting_.load(std::memory_order_seq_cst)) {
    if (io_driver* io = io_.load(std::memory_order_acquire)) io->wake();
  }
}

bool scheduler::wait_on_io(worker& w) {
  if (tl_in_io || io_.load(std::memory_order_acquire) == nullptr) return false;
  std::unique_lock<std::mutex> l(io_mutex_, std::try_to_lock);
  if (!l.owns_lock()) return false;
  io_driver* io = io_.load(std::memory_order_acquire);
  if (io == nullptr) return false;
  in_io_scope in_io;  // wait() delivers too: a send from there must not try io_mutex_
  io_waiting_.store(true, std::memory_order_seq_cst);
  if (!has_work() && !stop_.load(std::memory_order_relaxed)) {
    // Quiescent while blocked; the driver calls io_activity() before it delivers anything.
    w.seen.store(~std::uint64_t{0}, std::memory_order_seq_cst);
    io->wait(defaults::io_wait_max);
  }
  io_waiting_.store(false, std::memory_order_seq_cst);
  // Back in the game: what service() delivers is peeked under this epoch.
  w.seen.store(epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  io->service();
  io_serves_.store(io_serves_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return true;
}

void scheduler::leave_quiescence(worker& w) noexcept {
  if (w.seen.load(std::memory_order_relaxed) != ~std::uint64_t{0}) return;
  w.seen.store(epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
}

void io_activity() noexcept {
  if (tl_worker.owner == nullptr) return;
  auto* s = const_cast<scheduler*>(tl_worker.owner);
  s->leave_quiescence(*static_cast<scheduler::worker*>(tl_worker.self));
}

void scheduler::notify() {
  // Pairs with the parker's increment of parked_ before its last look for work: either it
  // sees our work, or we see it parked. The RMW is the full barrier (TSan does not model
  // atomic_thread_fence).
  const int parked = parked_.fetch_add(0, std::memory_order_seq_cst);
  if (spinning_.load(std::memory_order_seq_cst) > 0) return;
  if (io_waiting_.load(std::memory_order_seq_cst)) {
    notify_io();
    return;
  }
  if (parked == 0) return;
  {
    std::lock_guard<std::mutex> l(park_mutex_);
    if (wake_tokens_ >= parked_.load(std::memory_order_relaxed)) return;
    ++wake_tokens_;
  }
  park_cv_.notify_one();
}

void scheduler::want_watch() {
  {
    std::lock_guard<std::mutex> l(park_mutex_);
    if (watch_wanted_ || watching_.load(std::memory_order_relaxed) ||
        parked_.load(std::memory_order_relaxed) == 0) {
      return;
    }
    watch_wanted_ = true;
  }
  // No worker is the watch (checked above under the lock), so every parked worker waits untimed,
  // on a condition that includes watch_wanted_: whichever wakes becomes the watch.
  park_cv_.notify_one();
}

bool scheduler::others_busy(const worker& w) const {
  for (const auto& o : workers_) {
    if (o.get() != &w && o->seen.load(std::memory_order_seq_cst) != ~std::uint64_t{0}) {
      return true;
    }
  }
  return false;
}

bool scheduler::park(worker& w, std::unique_lock<std::mutex>& l) {
  bool watch = false;
  const auto become_watch = [&] {
    watch = true;
    watching_.store(true, std::memory_order_relaxed);
  };
  const auto end_watch = [&] {
    watch = false;
    watching_.store(false, std::memory_order_seq_cst);
  };
  while (!stop_.load(std::memory_order_relaxed)) {
    const bool networked = io_.load(std::memory_order_relaxed) != nullptr;
    if (!watch && !watching_.load(std::memory_order_relaxed) && networked &&
        (watch_wanted_ || others_busy(w))) {
      become_watch();
    }
    watch_wanted_ = false;
    if (!watch) {
      park_cv_.wait(l, [&] { return wake_tokens_ > 0 || watch_wanted_ || stop_.load(); });
      if (wake_tokens_ > 0) {
        --wake_tokens_;
        return false;
      }
      continue;  // asked to watch, or stopping
    }
    const std::uint64_t serves = io_serves_.load(std::memory_order_relaxed);
    const std::uint64_t handled = handled_sum();
    if (park_cv_.wait_for(l, defaults::io_watch_period,
                          [&] { return wake_tokens_ > 0 || stop_.load(); })) {
      end_watch();
      if (wake_tokens_ > 0) --wake_tokens_;
      return false;
    }
    if (!networked || io_.load(std::memory_order_relaxed) == nullptr) {
      end_watch();
    } else if (io_serves_.load(std::memory_order_relaxed) == serves &&
               !io_waiting_.load(std::memory_order_seq_cst)) {
      // Nobody served the network for a whole period, and nobody waits on it: serve it.
      end_watch();
      return true;
    } else if (!others_busy(w) && handled_sum() == handled) {
      // Nobody to watch over, and nothing handled for a period: park untimed. (Not at the first
      // quiet look: between a stream's messages the watch would be woken to watch again.) A
      // worker starting an activation meanwhile either saw watching_ set, or is seen busy
      // after it is cleared (the stores and loads are seq_cst): then watch on.
      end_watch();
      if (others_busy(w)) become_watch();
    }
  }
  if (watch) end_watch();
  return false;
}

bool scheduler::has_work() const {
  if (injected_.load(std::memory_order_seq_cst) > 0) return true;
  for (auto& w : workers_) {
    if (w->next.load(std::memory_order_seq_cst) != nullptr) return true;
    if (w->queued.load(std::memory_order_seq_cst) > 0) return true;
  }
  return false;
}

process* scheduler::pop_injected() {
  if (injected_.load(std::memory_order_relaxed) == 0) return nullptr;
  std::lock_guard<std::mutex> l(inject_mutex_);
  if (inject_.empty()) return nullptr;
  process* p = inject_.front();
  inject_.pop_front();
  injected_.fetch_sub(1, std::memory_order_relaxed);
  return p;
}

process* scheduler::find_work(worker& w) {
  // Now and then the shared queue goes first, so busy local work cannot starve it.
  if (++w.ticks % defaults::inject_check_interval == 0) {
    if (process* p = pop_injected()) return p;
  }
  if (w.next_streak < defaults::next_slot_streak) {
    if (process* p = w.next.exchange(nullptr, std::memory_order_acq_rel)) {
      ++w.next_streak;
      return p;
    }
  }
  w.next_streak = 0;
  if (w.queued.load(std::memory_order_relaxed) > 0) {
    std::lock_guard<std::mutex> l(w.mutex);
    if (!w.queue.empty()) {
      process* p = w.queue.front();
      w.queue.pop_front();
      w.queued.fetch_sub(1, std::memory_order_relaxed);
      return p;
    }
  }
  if (process* p = w.next.exchange(nullptr, std::memory_order_acq_rel)) return p;
  if (process* p = pop_injected()) return p;
  return steal(w);
}

process* scheduler::steal(worker& w) {
  const std::size_t n = workers_.size();
  for (std::size_t k = 1; k < n; ++k) {
    worker& o = *workers_[(w.index + k) % n];
    if (o.queued.load(std::memory_order_relaxed) > 0) {
      std::unique_lock<std::mutex> l(o.mutex, std::try_to_lock);
      if (l.owns_lock() && !o.queue.empty()) {
        process* p = o.queue.back();
        o.queue.pop_back();
        o.queued.fetch_sub(1, std::memory_order_relaxed);
        return p;
      }
    }
    if (o.next.load(std::memory_order_relaxed) != nullptr) {
      if (process* p = o.next.exchange(nullptr, std::memory_order_acq_rel)) return p;
    }
  }
  return nullptr;
}

void scheduler::run(worker& w) {
  tl_worker.owner = this;
  tl_worker.self = &w;
  while (!stop_.load(std::memory_order_relaxed)) {
    process* p = find_work(w);
    if (p == nullptr) reclaim_idle(w);
    // With a network, an idle worker serves it at once: a reply that arrives while it spins
    // would wait for the spin to end.
    if (p == nullptr && wait_on_io(w)) continue;
    if (p == nullptr) {
      spinning_.fetch_add(1, std::memory_order_seq_cst);
      // A networked node shares its cores with ZeroMQ's I/O thread (and, on one machine, with
      // its peers): spin only briefly there.
      const int rounds = io_.load(std::memory_order_relaxed) != nullptr
                             ? defaults::idle_spin_rounds_networked
                             : defaults::idle_spin_rounds;
      for (int i = 0; i < rounds && p == nullptr; ++i) {
        for (int k = 0; k < 16; ++k) _mm_pause();
        if (stop_.load(std::memory_order_relaxed)) break;
        p = find_work(w);
      }
      spinning_.fetch_sub(1, std::memory_order_seq_cst);
      if (p == nullptr && wait_on_io(w)) continue;
      if (p == nullptr) reclaim_idle(w);
      if (p == nullptr) {
        std::unique_lock<std::mutex> l(park_mutex_);
        w.seen.store(~std::uint64_t{0}, std::memory_order_seq_cst);  // quiescent while parked
        parked_.fetch_add(1, std::memory_order_seq_cst);
        bool serve = false;
        if (!has_work() && !stop_.load(std::memory_order_relaxed)) serve = park(w, l);
        parked_.fetch_sub(1, std::memory_order_seq_cst);
        l.unlock();
        if (serve) wait_on_io(w);
        continue;
      }
    }
    tl_worker.sends = 0;
    // A quiescent point: nothing peeked before this line is used after it.
    w.seen.store(epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
    // Nobody waits on the network while this activation runs: have a parked worker watch it.
    // After the store above (busy, as others_busy sees it): a worker parking, or a watch about
    // to stop, either sees this worker busy or is seen here.
    if (!watching_.load(std::memory_order_seq_cst) && parked_.load(std::memory_order_seq_cst) > 0 &&
        io_.load(std::memory_order_relaxed) != nullptr &&
        !io_waiting_.load(std::memory_order_seq_cst)) {
      want_watch();
    }
    switch (runtime_access::run_slice(*p)) {
      case runtime_access::slice::idle: break;
      case runtime_access::slice::yield:
        push_queue(w, p);
        if (w.queued.load(std::memory_order_relaxed) > 1) notify();
        break;
      case runtime_access::slice::dead: runtime_access::release(p); break;
    }
    if (table_ != nullptr && table_->has_retired() && (++w.ticks & 63) == 0) table_->reclaim();
    // Between activations: send what handlers queued for the network, and now and then take
    // in what arrived while every worker was busy.
    if (io_driver* io = io_.load(std::memory_order_relaxed)) {
      if (io->wants_service()) {
        if (!try_service_io()) io->wake();  // the worker polling the sockets sends it
      } else if ((w.ticks & 31) == 0) {
        try_service_io();
      }
    }
  }
  tl_worker.owner = nullptr;
  tl_worker.self = nullptr;
}

}  // namespace otter::detail
