// Internal: a process's inbox, a lock-free multi-producer single-consumer queue.
//
// Producers push with one CAS onto an intrusive stack; the single consumer takes the whole
// stack at once and reverses it, so messages from one sender keep their order. The head also
// encodes the process's scheduling state: `blocked` means the consumer found it empty and went
// idle, so exactly one producer (the one that replaces `blocked`) schedules the process.
// `closed` means the process has exited: pushes fail and the sender treats the target as dead.
#pragma once

#include <atomic>
#include <cstdint>

#include "otter/detail/envelope.hpp"

namespace otter::detail {

// The messages an inbox's consumer has handled. Written per message by the consumer only, and
// so kept apart from the inbox, which senders write (the owner places it: process.hpp).
class consumed_count {
 public:
  std::uint32_t get() const noexcept { return n_.load(std::memory_order_relaxed); }
  // Consumer only: n more envelopes handled. A plain store: only the consumer writes it.
  void add(std::uint32_t n) noexcept {
    n_.store(n_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint32_t> n_{0};
};

class inbox {
 public:
  enum class push_result { queued, queued_wake, closed };

  inbox() = default;
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;

  push_result push(envelope* e) noexcept {
    // Counted before the CAS so the consumer never sees more handled than pushed.
    pushed_.fetch_add(1, std::memory_order_relaxed);
    envelope* head = head_.load(std::memory_order_relaxed);
    for (;;) {
      if (head == closed_tag()) {
        pushed_.fetch_sub(1, std::memory_order_relaxed);
        return push_result::closed;
      }
      e->next = head == blocked_tag() ? nullptr : head;
      // seq_cst (a locked CAS on x86 either way): the envelope's contents are visible to the
      // consumer that acquires it, and a consumer that sleeps on another flag (the network's
      // outbound queue) is ordered against it.
      if (head_.compare_exchange_weak(head, e, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
        return head == blocked_tag() ? push_result::queued_wake : push_result::queued;
      }
    }
  }

  // Consumer only, while running: a message it sent itself, kept by the consumer directly
  // (never on the stack), counted as pushed.
  void count_own() noexcept { pushed_.fetch_add(1, std::memory_order_relaxed); }

  // Consumer only, while running: everything pushed so far, oldest first (nullptr if none);
  // `taken`: how many.
  envelope* take_all(std::uint32_t& taken) noexcept {
    taken = 0;
    if (head_.load(std::memory_order_relaxed) == nullptr) return nullptr;
    // acquire: pairs with the producers' release CAS.
    return reverse(head_.exchange(nullptr, std::memory_order_acquire), taken);
  }
  envelope* take_all() noexcept {
    std::uint32_t taken;
    return take_all(taken);
  }

  // Consumer only: go idle if nothing is queued. On success the next push schedules us.
  bool try_block() noexcept {
    envelope* expected = nullptr;
    return head_.compare_exchange_strong(expected, blocked_tag(), std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
  }

  // Consumer only: refuse all further pushes; returns what was still queued, oldest first.
  envelope* close() noexcept {
    envelope* h = head_.exchange(closed_tag(), std::memory_order_seq_cst);
    return (h == blocked_tag() || h == closed_tag()) ? nullptr : reverse(h);
  }

  bool closed() const noexcept { return head_.load(std::memory_order_seq_cst) == closed_tag(); }
  // Any thread: the consumer is idle, waiting for a message.
  bool idle() const noexcept { return head_.load(std::memory_order_relaxed) == blocked_tag(); }
  // Any thread: something is queued (neither empty, blocked nor closed).
  bool has_items() const noexcept {
    envelope* h = head_.load(std::memory_order_seq_cst);
    return h != nullptr && h != blocked_tag() && h != closed_tag();
  }

  // Messages pushed and not yet handled (`consumed`: the consumer's count; approximate while
  // producers run).
  std::uint32_t length(const consumed_count& consumed) const noexcept {
    const auto pushed = pushed_.load(std::memory_order_relaxed);
    const std::uint32_t d = pushed - consumed.get();  // modular: survives wrap-around
    return d > 0x7fffffffu ? 0 : d;                   // transiently "negative": empty
  }
  // Any thread (a sender): length(consumed) >= limit. Reading the consumer's count costs a
  // sender on another core a cache miss whenever a message was handled since; the last count a
  // sender read (older, so never larger) answers without it while the mailbox is far from its
  // limit.
  bool at_limit(std::uint32_t limit, const consumed_count& consumed) noexcept {
    const auto pushed = pushed_.load(std::memory_order_relaxed);
    const std::uint32_t upper = pushed - seen_consumed_.load(std::memory_order_relaxed);
    if (upper < limit) return false;  // ("negative", from a newer count: read it again)
    const auto now = consumed.get();
    seen_consumed_.store(now, std::memory_order_relaxed);
    const std::uint32_t d = pushed - now;
    return d <= 0x7fffffffu && d >= limit;
  }

 private:
  static envelope* blocked_tag() noexcept { return reinterpret_cast<envelope*>(std::uintptr_t{1}); }
  static envelope* closed_tag() noexcept { return reinterpret_cast<envelope*>(std::uintptr_t{2}); }

  static envelope* reverse(envelope* h) noexcept {
    std::uint32_t n;
    return reverse(h, n);
  }
  static envelope* reverse(envelope* h, std::uint32_t& n) noexcept {
    envelope* prev = nullptr;
    n = 0;
    while (h != nullptr && h != blocked_tag() && h != closed_tag()) {
      envelope* next = h->next;
      h->next = prev;
      prev = h;
      h = next;
      ++n;
    }
    return prev;
  }

  // Only what producers write: the consumer's per-message count is a consumed_count kept a
  // cache line away (process.hpp).
  std::atomic<envelope*> head_{nullptr};         // starts "running": the spawner schedules it
  std::atomic<std::uint32_t> pushed_{0};         // by producers
  std::atomic<std::uint32_t> seen_consumed_{0};  // by producers (at_limit)
};

}  // namespace otter::detail
