// Internal: what runs a runtime's processes. Two kinds:
// - scheduler (scheduler.hpp): the worker-thread pool of a real node;
// - manual_executor (manual_executor.hpp): no threads at all; whoever drives it (the
//   deterministic simulator, a unit test) runs one activation at a time, in an order it
//   chooses, on its own thread.
#pragma once

#include <cstdint>

#include "otter/detail/runtime_ops.hpp"
#include "otter/runtime.hpp"
#include "process_table.hpp"

namespace otter {
class process;
}

namespace otter::detail {

class executor : public process_table::epochs {
 public:
  virtual ~executor() = default;
  virtual void start() = 0;
  // Stops running processes; those still queued are left for the owner to free.
  virtual void stop() = 0;
  // `p` became runnable (its inbox went from blocked to non-empty). Any thread.
  virtual void schedule(process* p) = 0;
  // True on a thread that runs this executor's activations (it may peek processes).
  virtual bool on_worker() const noexcept = 0;
  virtual unsigned size() const noexcept = 0;
  // The network's driver (io_driver); nullptr removes it, waiting until nobody uses it.
  virtual void set_io(io_driver* io) = 0;
  virtual bool try_service_io() = 0;
  virtual void wake_io() = 0;
  virtual void network_send(bool first) = 0;
  // Messages (and calls) handled, for runtime_stats.
  virtual void dispatch_counts(std::uint64_t& handled, std::uint64_t& calls) const noexcept = 0;
  // How long calls took to handle, for runtime_metrics (none counted unless overridden).
  virtual void call_times(call_time_histogram& h) const noexcept { h = {}; }
  void set_table(process_table* t) noexcept { table_ = t; }

 protected:
  process_table* table_ = nullptr;
};

}  // namespace otter::detail
