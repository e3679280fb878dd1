// Internal: the table of a node's processes, Pid id -> process, lock-free for lookups.
//
// A process lives in a slot of a chunked array. Its Pid id is (serial << index_bits) | index:
// the slot's serial changes each time the slot is freed, so ids are never reused. A slot's
// state word packs that serial with a reference count; a lookup takes a reference with one CAS
// that succeeds only while the serial matches and the count is non-zero, so a process is
// never freed under a sender, and a stale Pid can never reach the slot's next occupant.
// The table holds one reference per live process (dropped when it exits).
//
// Worker threads look processes up without taking a reference (peek): memory is reclaimed by
// quiescent states. The last release retires the process instead of deleting it; it is freed
// (and its slot recycled) once every worker has begun a new activation since, so no worker can
// still hold the pointer. A worker parked, or blocked on the sockets, counts as quiescent; one
// that found socket activity leaves that state before it delivers (io_activity). Other threads
// use acquire/release.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace otter {
class process;
}

namespace otter::detail {

class process_table {
 public:
  static constexpr unsigned index_bits = 26;  // up to 67M processes at once
  static constexpr std::uint64_t index_mask = (std::uint64_t{1} << index_bits) - 1;
  static constexpr unsigned chunk_bits = 16;
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;
  static constexpr std::size_t max_chunks = std::size_t{1} << (index_bits - chunk_bits);

  process_table() = default;
  ~process_table();
  process_table(const process_table&) = delete;
  process_table& operator=(const process_table&) = delete;

  // Reserves a slot and returns the Pid id it will have; nobody can find it yet.
  std::uint64_t reserve();
  // Makes `p` findable under `id` (from reserve), holding one reference (the table's).
  // Everything written to `p` before this is visible to whoever finds it (release).
  void publish(std::uint64_t id, process* p) noexcept;
  // The process with a reference taken, or nullptr when `id` is not (or no longer) there.
  process* acquire(std::uint64_t id) noexcept;
  // Worker threads only, inside an activation: the process or nullptr, no reference taken.
  process* peek(std::uint64_t id) const noexcept {
    const std::uint64_t index = id & index_mask;
    if (index >= used_.load(std::memory_order_acquire)) return nullptr;
    const slot& s = slot_at(index);
    // seq_cst, as release()'s decrement: with the worker's seq_cst store of its epoch before
    // this, either the reclaimer sees that epoch or this load sees the count it dropped (a
    // store-load pattern acquire/release alone does not order; free on x86).
    const std::uint64_t st = s.state.load(std::memory_order_seq_cst);
    if ((st >> count_bits) != (id >> index_bits) || (st & count_mask) == 0) return nullptr;
    return s.proc;
  }
  // Takes one more reference on a process known to be referenced.
  void add_ref(std::uint64_t id) noexcept;
  // Drops a reference; the last one deletes the process and frees the slot.
  void release(std::uint64_t id) noexcept;
  // Where retired processes wait for their grace period (set once, before use).
  class epochs {
   public:
    virtual std::uint64_t retire_epoch() noexcept = 0;
    virtual bool grace_passed(std::uint64_t epoch) const noexcept = 0;
    // A process was just put on the retired list (see scheduler::retired).
    virtual void retired() noexcept = 0;

   protected:
    ~epochs() = default;
  };
  void set_epochs(epochs* e) noexcept { epochs_ = e; }
  // Frees the retired processes whose grace period has passed (all of them if `all`).
  void reclaim(bool all = false) noexcept;
  bool has_retired() const noexcept { return retired_count_.load(std::memory_order_relaxed) > 0; }

  // Marks the process as exited for lookups' bookkeeping (process_count).
  void mark_exited() noexcept { live_.fetch_sub(1, std::memory_order_relaxed); }

  std::size_t size() const noexcept { return live_.load(std::memory_order_relaxed); }

  // Calls fn(id, process*) for every occupied slot, holding a reference during the call.
  template <class Fn>
  void for_each(Fn&& fn) {
    const std::size_t used = used_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < used; ++i) {
      slot& s = slot_at(i);
      const std::uint64_t st = s.state.load(std::memory_order_acquire);
      if ((st & count_mask) == 0) continue;
      const std::uint64_t id = (st >> count_bits) << index_bits | i;
      if (process* p = acquire(id)) {
        fn(id, p);
        release(id);
      }
    }
  }

 private:
  static constexpr unsigned count_bits = 26;
  static constexpr std::uint64_t count_mask = (std::uint64_t{1} << count_bits) - 1;

  struct slot {
    std::atomic<std::uint64_t> state{0};  // serial << count_bits | references
    process* proc = nullptr;              // written before the state is published (release)
  };

  slot& slot_at(std::uint64_t index) const noexcept {
    return chunks_[index >> chunk_bits].load(std::memory_order_acquire)[index & (chunk_size - 1)];
  }
  void free_slot(std::uint64_t index) noexcept;

  struct retired {
    std::uint64_t epoch;
    std::uint32_t index;
  };

  std::array<std::atomic<slot*>, max_chunks> chunks_{};
  std::atomic<std::size_t> used_{0};  // slots ever handed out (indexes below are valid)
  std::atomic<std::size_t> live_{0};
  std::mutex free_mutex_;  // protects free_ and the growth of chunks_
  std::vector<std::uint32_t> free_;
  epochs* epochs_ = nullptr;
  std::mutex retired_mutex_;  // protects retired_ (oldest first)
  std::deque<retired> retired_;
  std::atomic<std::size_t> retired_count_{0};
};

}  // namespace otter::detail
