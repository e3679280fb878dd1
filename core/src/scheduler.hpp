// The M:N scheduler: a fixed pool of worker threads runs whichever processes are runnable.
//
// Each worker has a "next" slot and a local queue. A process made runnable by a worker goes to
// that worker's next slot (the previous occupant moves to the queue), so a call's request and
// reply ping-pong on one core without waking another thread. Idle workers spin briefly, then
// park; they steal from the others' queues and next slots. A worker is woken only when work
// lands in a queue, or when a handler that keeps sending leaves runnable processes behind it
// (defaults::spread_after_sends). Threads outside the pool (timers, the network's I/O thread,
// scoped processes) schedule through the shared injection queue.
//
// The network is served by whichever worker is idle (it blocks in the driver's wait), and
// between activations by a worker whose handlers queued something to send (and every 32
// activations). While a worker runs a handler and none waits on the
// network, one parked worker is the watch: it wakes each defaults::io_watch_period and serves
// the network if nobody did since its last look (then it stays in the driver's wait, as an idle
// worker does). So a long handler delays the network by a few
// milliseconds, not by its whole run. A node with one worker has nobody to watch.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "process_table.hpp"

#include "executor.hpp"

namespace otter::detail {

class scheduler final : public executor {
 public:
  explicit scheduler(unsigned workers);
  ~scheduler() override;
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  void start() override;
  // Stops and joins the workers; processes still queued are left for the owner to free.
  void stop() override;

  // `p` became runnable (its inbox went from blocked to non-empty). Any thread.
  void schedule(process* p) override;

  // The network's driver (see io_driver); nullptr removes it, waiting until no worker uses it
  // any more.
  void set_io(io_driver* io) override;
  // Runs the driver's service() now if no other worker is in it; false if it could not.
  bool try_service_io() override;
  // The driver has work: wake the worker waiting in it, or an idle one to take the token.
  void wake_io() override;
  // A handler queued something for the network (`first`: the queue was empty). On a worker the
  // worker serves it after the activation, unless the handler keeps sending: then an idle
  // worker is asked to serve it in parallel. Elsewhere a worker is woken.
  void network_send(bool first) override;

  unsigned size() const noexcept override { return static_cast<unsigned>(workers_.size()); }

  // Quiescent-state reclamation (see process_table): an epoch for a retired process, and
  // whether every worker has started an activation (or parked) since.
  std::uint64_t retire_epoch() noexcept override {
    return epoch_.fetch_add(1, std::memory_order_seq_cst);
  }
  // A process retired off the workers (its last holder was another thread) wakes one, so an
  // idle runtime still frees it: its destructor may owe callers an answer. Called once the
  // process is on the list, so the woken worker finds it.
  void retired() noexcept override;
  bool grace_passed(std::uint64_t epoch) const noexcept override;

  // Counts a send by the running handler (for spreading work to idle workers).
  static void note_send() noexcept;
  // Counts a message handled on this worker (for runtime_stats).
  static void note_dispatch(bool call) noexcept;
  // Sums of note_dispatch over the workers.
  void dispatch_counts(std::uint64_t& handled, std::uint64_t& calls) const noexcept override;
  // Counts a call handled on this worker in `took` (for runtime_metrics).
  static void note_call_time(std::chrono::steady_clock::duration took) noexcept;
  void call_times(call_time_histogram& h) const noexcept override;
  // A process about to go idle may poll its inbox briefly instead (defaults::linger_polls):
  // true on a worker with nothing else runnable, no shared work waiting, no network output to
  // send, and the pool not stopping. False off the workers (and so in the simulator).
  static bool may_linger() noexcept;
  // True on a worker thread of this scheduler.
  bool on_worker() const noexcept override;

 private:
  struct worker {
    std::atomic<process*> next{nullptr};
    std::mutex mutex;            // protects queue
    std::deque<process*> queue;  // runnable, FIFO
    std::atomic<std::size_t> queued{0};
    // The epoch this worker saw when its current activation began; max while parked.
    std::atomic<std::uint64_t> seen{0};
    std::thread thread;
    unsigned index = 0;
    // Written by the worker only (relaxed load + store), read by stats().
    std::atomic<std::uint64_t> handled{0}, calls{0};
    std::array<std::atomic<std::uint64_t>, call_time_histogram::bounds_us.size() + 1>
        call_buckets{};
    std::atomic<std::uint64_t> call_ns{0};
    int next_streak = 0;
    unsigned ticks = 0;
  };

  friend void io_activity() noexcept;
  void run(worker& w);
  // A worker quiescent in an I/O wait (seen == max) takes the current epoch (see io_activity).
  void leave_quiescence(worker& w) noexcept;
  process* find_work(worker& w);
  process* steal(worker& w);
  process* pop_injected();
  bool has_work() const;
  void push_queue(worker& w, process* p);
  void notify();
  // An idle worker serves the network: blocks in the driver's wait. False if another has it.
  bool wait_on_io(worker& w);
  // Frees retired processes whose grace has passed (an idle worker's chore).
  void reclaim_idle(worker& w) noexcept;
  void notify_io();
  // A worker starting an activation while no worker waits on the network: make a parked
  // worker the watch (see above), unless there is one.
  void want_watch();
  // Parks `w` (park_mutex_ held in `l`); true if it should serve the network when it returns.
  bool park(worker& w, std::unique_lock<std::mutex>& l);
  // Whether a worker other than `w` may be in an activation: one not parked and not waiting on
  // the network (also true while it spins or serves the network: the watch then lasts a period
  // longer).
  bool others_busy(const worker& w) const;
  // Messages handled so far, all workers together.
  std::uint64_t handled_sum() const noexcept;

  std::vector<std::unique_ptr<worker>> workers_;
  std::mutex inject_mutex_;  // protects inject_
  std::deque<process*> inject_;
  std::atomic<std::size_t> injected_{0};

  std::atomic<int> spinning_{0};
  std::atomic<int> parked_{0};
  std::mutex park_mutex_;  // protects wake_tokens_ (and orders park vs notify)
  std::condition_variable park_cv_;
  int wake_tokens_ = 0;
  bool watch_wanted_ = false;          // under park_mutex_: a parked worker should become the watch
  std::atomic<bool> watching_{false};  // a parked worker is the watch
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> epoch_{1};
  std::atomic<io_driver*> io_{nullptr};
  std::mutex io_mutex_;  // the I/O token: held by the worker inside the driver
  std::atomic<bool> io_waiting_{false};
  // Services of the network so far (by the worker holding io_mutex_), as the watch sees them.
  // Written at every service: last, on a cache line of its own (the class is padded after it).
  alignas(64) std::atomic<std::uint64_t> io_serves_{0};
};

}  // namespace otter::detail
