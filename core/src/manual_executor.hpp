// Internal: an executor without threads (executor.hpp). Processes made runnable wait in a list;
// whoever drives it (the deterministic simulator) picks one and runs one activation of it with
// step(), on its own thread, and serves the network driver when it wants service. Everything a
// runtime does then happens in an order the driver chose, so a run can be replayed exactly.
#pragma once

#include <cstdint>
#include <vector>

#include "executor.hpp"

namespace otter::detail {

class manual_executor final : public executor {
 public:
  void start() override {}
  void stop() override;
  void schedule(process* p) override { runnable_.push_back(p); }
  bool on_worker() const noexcept override { return true; }  // one thread: the driver's
  unsigned size() const noexcept override { return 1; }
  void set_io(io_driver* io) override { io_ = io; }
  bool try_service_io() override;
  void wake_io() override { io_wanted_ = true; }
  void network_send(bool) override { io_wanted_ = true; }
  void dispatch_counts(std::uint64_t& handled, std::uint64_t& calls) const noexcept override {
    handled = calls = 0;  // the simulator counts what it needs itself
  }

  // Retired processes are freed after each step: between steps nobody holds a peeked pointer.
  std::uint64_t retire_epoch() noexcept override { return 0; }
  bool grace_passed(std::uint64_t) const noexcept override { return !in_step_; }
  void retired() noexcept override {}

  // Processes ready to run, in the order they became runnable.
  std::size_t runnable() const noexcept { return runnable_.size(); }
  // Runs one activation of runnable process number `index` (< runnable()).
  void step(std::size_t index);
  // The network driver has something to do (queued sends, a wake-up).
  bool wants_io() const noexcept;
  // Runs the network driver's service() once.
  void service_io();
  io_driver* io() const noexcept { return io_; }

 private:
  std::vector<process*> runnable_;
  io_driver* io_ = nullptr;
  bool io_wanted_ = false;
  bool in_step_ = false;
  bool in_io_ = false;
};

}  // namespace otter::detail
