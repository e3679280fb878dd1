#include "process_table.hpp"

#include <stdexcept>

#include "otter/process.hpp"
#include "runtime_access.hpp"

namespace otter::detail {

process_table::~process_table() {
  reclaim(true);
  for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
}

std::uint64_t process_table::reserve() {
  std::uint64_t index;
  {
    std::lock_guard<std::mutex> l(free_mutex_);
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = used_.load(std::memory_order_relaxed);
      if (index > index_mask) throw std::length_error("process table full");
      auto& chunk = chunks_[index >> chunk_bits];
      if (chunk.load(std::memory_order_relaxed) == nullptr) {
        chunk.store(new slot[chunk_size], std::memory_order_release);
      }
      used_.store(index + 1, std::memory_order_release);
    }
  }
  const std::uint64_t serial = slot_at(index).state.load(std::memory_order_relaxed) >> count_bits;
  return serial << index_bits | index;
}

void process_table::publish(std::uint64_t id, process* p) noexcept {
  slot& s = slot_at(id & index_mask);
  s.proc = p;
  s.state.store((id >> index_bits) << count_bits | 1, std::memory_order_release);
  live_.fetch_add(1, std::memory_order_relaxed);
}

process* process_table::acquire(std::uint64_t id) noexcept {
  const std::uint64_t index = id & index_mask;
  if (index >= used_.load(std::memory_order_acquire)) return nullptr;
  slot& s = slot_at(index);
  const std::uint64_t serial = id >> index_bits;
  std::uint64_t st = s.state.load(std::memory_order_acquire);
  do {
    if ((st >> count_bits) != serial || (st & count_mask) == 0) return nullptr;
  } while (!s.state.compare_exchange_weak(st, st + 1, std::memory_order_acq_rel,
                                          std::memory_order_acquire));
  return s.proc;
}

void process_table::add_ref(std::uint64_t id) noexcept {
  slot_at(id & index_mask).state.fetch_add(1, std::memory_order_relaxed);
}

void process_table::release(std::uint64_t id) noexcept {
  const std::uint64_t index = id & index_mask;
  slot& s = slot_at(index);
  const std::uint64_t st = s.state.fetch_sub(1, std::memory_order_seq_cst);  // (see peek)
  if ((st & count_mask) != 1) return;
  // Last reference: nobody can take a new one (the count is zero). Workers may still hold the
  // pointer from a peek: free it once they have all moved on.
  if (epochs_ == nullptr) {
    free_slot(index);
    return;
  }
  const std::uint64_t epoch = epochs_->retire_epoch();
  {
    std::lock_guard<std::mutex> l(retired_mutex_);
    retired_.push_back(retired{epoch, static_cast<std::uint32_t>(index)});
    retired_count_.fetch_add(1, std::memory_order_relaxed);
  }
  epochs_->retired();
}

void process_table::reclaim(bool all) noexcept {
  std::vector<std::uint32_t> ready;
  {
    std::lock_guard<std::mutex> l(retired_mutex_);
    while (!retired_.empty() && (all || epochs_->grace_passed(retired_.front().epoch))) {
      ready.push_back(retired_.front().index);
      retired_.pop_front();
    }
    retired_count_.fetch_sub(ready.size(), std::memory_order_relaxed);
  }
  for (std::uint32_t index : ready) free_slot(index);
}

void process_table::free_slot(std::uint64_t index) noexcept {
  slot& s = slot_at(index);
  process* p = s.proc;
  s.proc = nullptr;
  runtime_access::destroy(p);
  const std::uint64_t next_serial = (s.state.load(std::memory_order_relaxed) >> count_bits) + 1;
  s.state.store(next_serial << count_bits, std::memory_order_release);
  std::lock_guard<std::mutex> l(free_mutex_);
  free_.push_back(static_cast<std::uint32_t>(index));
}
}  // namespace otter::detail
