// Internal: a runtime's one timer facility. It serves send_after timers (allocated, cancelled
// by id) and call timeouts (a node embedded in the awaiting process, armed and disarmed without
// allocating), all in one binary heap (timer_heap). Two kinds:
// - threaded_timers: a thread sleeping until the earliest deadline. Inserting a later deadline
//   than the one it sleeps until does not wake it, so a steady stream of calls costs no thread
//   wake-ups.
// - manual_timers: no thread; whoever drives the runtime (the simulator) fires what is due at
//   the time of its own clock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "otter/process.hpp"

namespace otter {
class runtime;
}

namespace otter::detail {

using timer_clock = std::chrono::steady_clock;

// The heap of armed timer nodes. Not thread-safe: its owner serialises access.
class timer_heap {
 public:
  std::uint64_t start(timer_clock::time_point deadline, const pid& to, envelope_ptr e);
  bool cancel(std::uint64_t id);
  void arm(timer_node& n);
  void disarm(timer_node& n) noexcept;
  // The earliest deadline (time_point::max() when empty).
  timer_clock::time_point next() const noexcept;
  // Takes every timer due at `now`: what to deliver to whom, in deadline order.
  void take_due(timer_clock::time_point now, std::vector<std::pair<pid, envelope_ptr>>& out);
  void clear() noexcept;

 private:
  void push(timer_node* n);
  void remove(timer_node* n) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, timer_node* n) noexcept;

  std::vector<timer_node*> heap_;
  std::unordered_map<std::uint64_t, std::unique_ptr<timer_node>> owned_;  // send_after nodes
  std::uint64_t next_id_ = 1;
};

class timer_service {
 public:
  virtual ~timer_service() = default;
  virtual void stop() = 0;
  // send_after: delivers `e` to `to` at `deadline`. Returns the id for cancel (0: stopped).
  virtual std::uint64_t start(timer_clock::time_point deadline, const pid& to, envelope_ptr e) = 0;
  virtual bool cancel(std::uint64_t id) = 0;
  // Call timeouts: `n` (target, ref, deadline set by the caller) stays owned by its process.
  virtual void arm(timer_node& n) = 0;
  virtual void disarm(timer_node& n) noexcept = 0;
};

class threaded_timers final : public timer_service {
 public:
  explicit threaded_timers(runtime& rt);
  ~threaded_timers() override;
  void stop() override;
  std::uint64_t start(timer_clock::time_point deadline, const pid& to, envelope_ptr e) override;
  bool cancel(std::uint64_t id) override;
  void arm(timer_node& n) override;
  void disarm(timer_node& n) noexcept override;

 private:
  void run();
  void wake_if_earlier(timer_clock::time_point deadline);  // mutex held

  runtime& rt_;
  std::mutex mutex_;  // protects heap_, wake_at_, stop_
  std::condition_variable cv_;
  timer_heap heap_;
  timer_clock::time_point wake_at_ = timer_clock::time_point::max();
  bool stop_ = false;
  std::thread thread_;
};

class manual_timers final : public timer_service {
 public:
  explicit manual_timers(runtime& rt) : rt_(rt) {}
  void stop() override;
  std::uint64_t start(timer_clock::time_point deadline, const pid& to, envelope_ptr e) override;
  bool cancel(std::uint64_t id) override { return heap_.cancel(id); }
  void arm(timer_node& n) override {
    if (!stopped_) heap_.arm(n);
  }
  void disarm(timer_node& n) noexcept override { heap_.disarm(n); }

  timer_clock::time_point next() const noexcept { return heap_.next(); }
  // Delivers every timer due at `now`; the number delivered.
  std::size_t fire_due(timer_clock::time_point now);

 private:
  runtime& rt_;
  timer_heap heap_;
  bool stopped_ = false;
};

}  // namespace otter::detail
