#include "manual_executor.hpp"

#include "runtime_access.hpp"

namespace otter::detail {

void manual_executor::stop() {
  runnable_.clear();
  io_ = nullptr;
}

bool manual_executor::try_service_io() {
  if (io_ == nullptr || in_io_) return false;
  service_io();
  return true;
}

bool manual_executor::wants_io() const noexcept {
  // Woken by a send or a request; frames a socket refused are retried at the driver's next
  // timer, not in a loop at one instant.
  return io_ != nullptr && io_wanted_;
}

void manual_executor::service_io() {
  if (io_ == nullptr || in_io_) return;
  in_io_ = true;
  io_wanted_ = false;
  io_->service();
  in_io_ = false;
}

void manual_executor::step(std::size_t index) {
  process* p = runnable_[index];
  runnable_.erase(runnable_.begin() + static_cast<std::ptrdiff_t>(index));
  in_step_ = true;
  switch (runtime_access::run_slice(*p)) {
    case runtime_access::slice::idle: break;
    case runtime_access::slice::yield: runnable_.push_back(p); break;
    case runtime_access::slice::dead: runtime_access::release(p); break;
  }
  in_step_ = false;
  if (table_ != nullptr && table_->has_retired()) table_->reclaim();
}

}  // namespace otter::detail
