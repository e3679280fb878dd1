// Internal: at most one log line per period for a recurring event (a message dropped at a full
// mailbox, say), with the count of those not logged since: a flood of drops must not become a
// flood of log lines. Any thread; lock-free.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

#include "otter/defaults.hpp"

namespace otter::detail {

class log_limiter {
 public:
  // Counts an event. True when it may be logged; `suppressed` is then the number of events
  // since the last one logged (not logged themselves).
  bool allow(std::uint64_t& suppressed) noexcept {
    since_.fetch_add(1, std::memory_order_relaxed);
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    std::int64_t last = last_ns_.load(std::memory_order_relaxed);
    const std::int64_t period =
        std::chrono::duration_cast<std::chrono::nanoseconds>(defaults::drop_log_period).count();
    if (now - last < period) return false;
    // One thread wins the period; relaxed: only the counts are shared, not other memory.
    if (!last_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return false;
    suppressed = since_.exchange(0, std::memory_order_relaxed) - 1;
    return true;
  }

 private:
  std::atomic<std::int64_t> last_ns_{std::numeric_limits<std::int64_t>::min() / 2};
  std::atomic<std::uint64_t> since_{0};
};

}  // namespace otter::detail
