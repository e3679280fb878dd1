// The one timer facility of a runtime: a thread sleeping until the earliest deadline of a
// binary heap of timer nodes. It serves send_after timers (allocated, cancelled by id) and
// call timeouts (a node embedded in the awaiting process, armed and disarmed without
// allocating). Inserting a later deadline than the one the thread sleeps until does not wake
// it, so a steady stream of calls costs no thread wake-ups.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "otter/process.hpp"

namespace otter {
class runtime;
}

namespace otter::detail {

class timer_service {
 public:
  using clock = std::chrono::steady_clock;

  explicit timer_service(runtime& rt);
  ~timer_service();
  void stop();

  // send_after: delivers `e` to `to` at `deadline`. Returns the id for cancel.
  std::uint64_t start(clock::time_point deadline, const pid& to, envelope_ptr e);
  bool cancel(std::uint64_t id);

  // Call timeouts: `n` (target, ref, deadline set by the caller) stays owned by its process.
  void arm(timer_node& n);
  void disarm(timer_node& n) noexcept;

 private:
  void run();
  void push(timer_node* n);  // mutex held
  void remove(timer_node* n) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, timer_node* n) noexcept;

  runtime& rt_;
  std::mutex mutex_;  // protects heap_, owned_, next_id_, wake_at_, stop_
  std::condition_variable cv_;
  std::vector<timer_node*> heap_;
  std::unordered_map<std::uint64_t, std::unique_ptr<timer_node>> owned_;  // send_after nodes
  std::uint64_t next_id_ = 1;
  clock::time_point wake_at_ = clock::time_point::max();
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace otter::detail
