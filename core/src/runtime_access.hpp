// Internal: the scheduler's and runtime's access to a process's private parts.
#pragma once

#include "otter/process.hpp"
#include "relations.hpp"

namespace otter::detail {

class runtime_access {
 public:
  enum class slice { idle, yield, dead };

  static slice run_slice(process& p) {
    switch (p.run_slice()) {
      case process::slice_result::idle: return slice::idle;
      case process::slice_result::yield: return slice::yield;
      case process::slice_result::dead: break;
    }
    return slice::dead;
  }
  // Drops a reference on `p` (the process table's or a holder's).
  static void release(process* p) noexcept;
  // Deletes a process that has exited; `from`s kept in its state answer with its exit reason.
  static void destroy(process* p) noexcept;
  static bool closed(process& p) noexcept { return p.inbox_.closed(); }
  static inbox& inbox_of(process& p) noexcept { return p.inbox_; }
  static void attach(process& p, runtime* rt, const pid& id) noexcept {
    p.rt_ = rt;
    p.pid_ = id;
  }
  static void set_parent(process& p, const pid& parent) noexcept { p.parent_ = parent; }
  static result<void> init(process& p) { return p.init_process(); }
  static void discard(process& p) noexcept { p.discard(); }
  static void fail_init(process& p, const exit_reason& reason) { p.fail_init(reason); }
  static void wake(process& p) { p.wake(); }
  static bool continue_pending(const process& p) noexcept { return p.continue_pending_; }
  static void set_has_name(process& p) noexcept { p.has_name_.store(true); }
  static void set_overflow(process& p, std::uint32_t limit, bool exit) noexcept {
    p.mailbox_limit_ = limit;
    p.exit_on_overflow_ = exit;
  }
  static log_limiter& unhandled_log(const process& p) noexcept {
    return const_cast<process&>(p).unhandled_log_;  // a counter, not the process's state
  }
  // A sender found the mailbox full: true if `e` must be refused (it was handled here).
  static bool refuse_overflow(process& p, envelope_ptr& e);
  static bool append_own(process& p, envelope_ptr& e) noexcept { return p.append_own(e); }
  static bool has_name(const process& p) noexcept { return p.has_name_.load(); }
  static relations& rel(process& p) {
    if (!p.rel_) p.rel_ = std::make_unique<relations>();
    return *p.rel_;
  }
  // Removes and returns the first cached message matching `match` (scoped processes only).
  template <class Match>
  static envelope_ptr take_matching(process& p, Match&& match) {
    envelope* prev = nullptr;
    for (envelope* e = p.cache_head_; e != nullptr; prev = e, e = e->next) {
      if (!match(*e)) continue;
      (prev ? prev->next : p.cache_head_) = e->next;
      if (p.cache_tail_ == e) p.cache_tail_ = prev;
      e->next = nullptr;
      p.consumed_.add(1);
      return envelope_ptr(e);
    }
    return nullptr;
  }
  // Frees a process whose workers are gone (runtime shutdown): no signals are sent.
  static void destroy_orphan(process& p) noexcept;
};

}  // namespace otter::detail
