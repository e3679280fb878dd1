#include "otter/process.hpp"

#include <immintrin.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <string>

#include "otter/call.hpp"
#include "otter/log.hpp"
#include "otter/log_fields.hpp"
#include "otter/request.hpp"
#include "otter/runtime.hpp"
#include "relations.hpp"
#include "runtime_access.hpp"
#include "scheduler.hpp"

namespace otter {

namespace detail {

namespace {
thread_local process* tl_current = nullptr;
// The reason of the process exiting on this thread, for `from` objects dropped meanwhile.
thread_local const exit_reason* tl_exit_reason = nullptr;

void free_list(envelope* e) noexcept {
  while (e != nullptr) {
    envelope* next = e->next;
    delete e;
    e = next;
  }
}
}  // namespace

process* current_process() noexcept {
  return tl_current;
}

const exit_reason* exiting_reason() noexcept {
  return tl_exit_reason;
}

current_process_scope::current_process_scope(process* p) noexcept : saved_(tl_current) {
  tl_current = p;
}
current_process_scope::~current_process_scope() {
  tl_current = saved_;
}

void runtime_access::release(process* p) noexcept {
  otter::detail::release(*p->rt_, p);
}

void runtime_access::destroy(process* p) noexcept {
  const exit_reason* saved = tl_exit_reason;
  tl_exit_reason = p->exiting_.get();  // null if it never ran (failed init, shutdown)
  delete p;
  tl_exit_reason = saved;
}

bool runtime_access::refuse_overflow(process& p, envelope_ptr& e) {
  if (p.mailbox_limit_ == 0 || !p.inbox_.at_limit(p.mailbox_limit_, p.consumed_)) return false;
  if (e->kind != sig::info && e->kind != sig::cast && e->kind != sig::call) return false;
  if (e->kind == sig::call) {
    from(p.rt_, e->from, e->ref)
        .reply_error(error{errc::mailbox_full, "mailbox of " + otter::to_string(p.pid_) +
                                                   " is full (" + std::to_string(p.mailbox_limit_) +
                                                   " messages)"});
  }
  if (p.exit_on_overflow_) {
    // Replace the message by the (one) exit that ends the process.
    if (p.overflowed_.exchange(true)) {
      p.dropped_.fetch_add(1, std::memory_order_relaxed);
      e.reset();
      return true;
    }
    e = std::make_unique<reason_envelope>(sig::exit, exit_reason("mailbox_overflow"));
    return false;
  }
  p.dropped_.fetch_add(1, std::memory_order_relaxed);
  if (std::uint64_t more = 0; p.drop_log_.allow(more)) {
    std::string who = otter::to_string(p.pid_);
    if (p.rt_ != nullptr) {
      if (auto name = p.rt_->name_of(p.pid_); !name.empty()) who += " '" + name + "'";
    }
    log().warn("mailbox of {} {} is full ({} messages): dropped a {}{}", p.behaviour(), who,
               p.mailbox_limit_, to_string(e->kind),
               more > 0 ? " (and " + std::to_string(more) + " more since the last such line)"
                        : std::string());
  }
  e.reset();
  return true;
}

void runtime_access::destroy_orphan(process& p) noexcept {
  p.orphan();
}

}  // namespace detail

using detail::envelope;
using detail::envelope_ptr;
using detail::sig;

exit_reason reason_of(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return exit_reason(ex.what());
  } catch (...) {
  }
  return exit_reason("unknown exception");
}

process::process() {
  // The layout process.hpp's comment describes: nothing handled per message within 48 bytes of
  // inbox_ (offsetof on a polymorphic class: supported by g++ and clang).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
  static_assert(offsetof(process, rt_) == 8 && offsetof(process, parent_) == 16);
  static_assert(offsetof(process, inbox_) == 64 && sizeof(detail::inbox) == 16);
  static_assert(offsetof(process, spare_) + sizeof(spare_) == 128 &&
                offsetof(process, pid_) == 128);
#pragma GCC diagnostic pop
}

process::~process() {
  detail::free_list(cache_head_);
  detail::free_list(inbox_.close());
}

void process::on_terminate(const exit_reason&) {}

void process::orphan() noexcept {
  root_task_ = {};
  root_message_.reset();
  detail::free_list(cache_head_);
  cache_head_ = cache_tail_ = nullptr;
  detail::free_list(inbox_.close());
}

void process::stop_self(exit_reason reason) {
  begin_exit(std::move(reason), true);
}

void process::wake() {
  detail::scheduler_of(*rt_).schedule(this);
}

void process::append(envelope* e) noexcept {
  e->next = nullptr;
  if (cache_tail_ != nullptr) {
    cache_tail_->next = e;
  } else {
    cache_head_ = e;
  }
  cache_tail_ = e;
}

bool process::append_own(envelope_ptr& e) noexcept {
  // Only this process's own thread reads in_slice_ (the first test is false everywhere else).
  if (detail::current_process() != this || !in_slice_) return false;
  inbox_.count_own();
  append(e.release());
  return true;
}

envelope_ptr process::pop_message() noexcept {
  envelope* e = cache_head_;
  if (e == nullptr) return nullptr;
  cache_head_ = e->next;
  if (cache_head_ == nullptr) cache_tail_ = nullptr;
  e->next = nullptr;
  consumed_.add(1);
  return envelope_ptr(e);
}

void process::begin_exit(exit_reason reason, bool run_terminate) {
  if (exiting_) return;
  exiting_ = std::make_unique<exit_reason>(std::move(reason));
  run_terminate_ = run_terminate;
}

void process::handle_exit_signal(const pid& from, exit_reason reason, bool via_link) {
  if (!via_link && reason.is_kill()) {
    // Its supervisor ending it (brutal_kill, or after a shutdown timeout) is no crash: the
    // supervisor decided it, and says so itself where it matters.
    if (!exiting_) quiet_exit_ = parent_ && from == parent_;
    begin_exit(exit_reason::killed(), false);
  } else if (!via_link && reason.str() == "mailbox_overflow") {
    begin_exit(std::move(reason), false);  // overload: untrappable, like kill
  } else if (trap_exit_) {
    append(detail::make_message(sig::info, exit_msg{from, std::move(reason)}).release());
    return;  // the signal's count is consumed with the message
  } else if (!reason.is_normal()) {
    begin_exit(std::move(reason), false);
  }
  consumed_.add(1);
}

void process::ingest(envelope* list) {
  while (list != nullptr) {
    envelope* e = list;
    list = e->next;
    e->next = nullptr;
    if (exiting_) {  // delivered before the exit: exit_now answers what needs an answer
      append(e);
      continue;
    }
    switch (e->kind) {
      case sig::info:
      case sig::cast:
      case sig::call:
      case sig::stop_request: append(e); continue;
      case sig::reply:
      case sig::reply_error:
      case sig::call_timeout:
        if (await_ref_ != 0 && e->ref == await_ref_ && !await_done_) {
          if (e->kind != sig::call_timeout) detail::disarm_call_timer(*rt_, call_timer_);
          await_done_ = true;
          await_sink_->complete(envelope_ptr(e));
        } else if (e->kind != sig::call_timeout && rel_ && !rel_->requests.empty()) {
          if (keep_response(envelope_ptr(e))) continue;  // counted with its response_ready
        } else {
          delete e;  // late (after a timeout) or stale: never seen by the process
        }
        break;
      case sig::link:
        if (!rel_) rel_ = std::make_unique<detail::relations>();
        rel_->links.insert(e->from);
        delete e;
        break;
      case sig::unlink:
        if (rel_) rel_->links.erase(e->from);
        delete e;
        break;
      case sig::link_exit: {
        auto* r = static_cast<detail::reason_envelope*>(e);
        if (rel_ && rel_->links.erase(e->from) > 0) {
          handle_exit_signal(e->from, std::move(r->reason), true);
        } else {
          consumed_.add(1);  // we unlinked meanwhile: stale
        }
        delete e;
        continue;
      }
      case sig::exit: {
        auto* r = static_cast<detail::reason_envelope*>(e);
        handle_exit_signal(e->from, std::move(r->reason), false);
        delete e;
        continue;
      }
      case sig::monitor:
        if (!rel_) rel_ = std::make_unique<detail::relations>();
        rel_->monitored_by.emplace(e->ref, e->from);
        delete e;
        break;
      case sig::demonitor:
        if (rel_) rel_->monitored_by.erase(e->ref);
        delete e;
        break;
      case sig::down: {
        auto* r = static_cast<detail::reason_envelope*>(e);
        if (rel_ && rel_->monitors.erase(e->ref) > 0) {
          append(detail::make_message(sig::info, down{e->ref, e->from, std::move(r->reason)})
                     .release());
        } else {
          consumed_.add(1);  // demonitored meanwhile: flushed
        }
        delete e;
        continue;
      }
    }
    consumed_.add(1);
  }
}

// ---- requests (send_request) ----

bool process::keep_response(envelope_ptr e) {
  auto it = rel_->requests.find(e->ref);
  if (it == rel_->requests.end() || it->second) return false;  // forgotten, or a duplicate
  const std::uint64_t ref = e->ref;
  it->second = std::move(e);
  const bool marker = wants_response_messages();
  if (marker) append(detail::make_message(sig::info, response_ready{ref}).release());
  if (await_any_ != nullptr && !await_done_ &&
      std::find(await_any_->begin(), await_any_->end(), ref) != await_any_->end()) {
    detail::disarm_call_timer(*rt_, call_timer_);
    await_done_ = true;
    await_sink_->complete(nullptr);
  }
  return marker;
}

void process::track_request(std::uint64_t ref) {
  if (!rel_) rel_ = std::make_unique<detail::relations>();
  rel_->requests.emplace(ref, nullptr);
}

bool process::request_pending(std::uint64_t ref) const noexcept {
  return rel_ && rel_->requests.count(ref) > 0;
}

bool process::response_arrived(std::uint64_t ref) const noexcept {
  if (!rel_) return false;
  auto it = rel_->requests.find(ref);
  return it != rel_->requests.end() && it->second != nullptr;
}

envelope_ptr process::take_response(std::uint64_t ref) {
  if (!rel_) return nullptr;
  auto it = rel_->requests.find(ref);
  return it == rel_->requests.end() ? nullptr : std::move(it->second);
}

void process::forget_request(std::uint64_t ref) noexcept {
  if (rel_) rel_->requests.erase(ref);
}

void process::await_any_request(const std::vector<std::uint64_t>* refs, detail::reply_sink* sink,
                                std::coroutine_handle<> h,
                                std::chrono::steady_clock::time_point deadline) {
  await_any_ = refs;
  // A ref of its own for the timer, so that a timeout is told apart from every reply.
  await_reply(detail::make_ref(*rt_), sink, h, deadline);
}

void process::keep_until_exit(from&& f) {
  if (!rel_) rel_ = std::make_unique<detail::relations>();
  rel_->orphaned.push_back(std::move(f));
}

void process::await_reply(std::uint64_t ref, detail::reply_sink* sink, std::coroutine_handle<> h,
                          std::chrono::steady_clock::time_point deadline) {
  await_ref_ = ref;
  await_sink_ = sink;
  await_handle_ = h;
  await_done_ = false;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    call_timer_.deadline = deadline;
    call_timer_.target = pid_;
    call_timer_.ref = ref;
    detail::arm_call_timer(*rt_, call_timer_);
  }
}

void process::cancel_await() noexcept {
  detail::disarm_call_timer(*rt_, call_timer_);
  await_any_ = nullptr;
  await_ref_ = 0;
  await_sink_ = nullptr;
  await_handle_ = {};
  await_done_ = false;
}

void process::run_task(task<void> t, envelope_ptr message) {
  root_task_ = std::move(t);
  root_message_ = std::move(message);
  root_task_.handle().resume();
  if (root_task_.handle().done()) finish_task();
}

void process::finish_task() {
  std::exception_ptr failure = root_task_.handle().promise().exception;
  if (failure) {
    // The process ends with the exception's message; frames destroyed now (and the `from`s
    // they hold) already see that reason.
    begin_exit(reason_of(failure), true);
    const exit_reason* saved = detail::tl_exit_reason;
    detail::tl_exit_reason = exiting_.get();
    root_task_ = {};
    root_message_.reset();
    detail::tl_exit_reason = saved;
    return;
  }
  root_task_ = {};
  root_message_.reset();
}

void process::resume_awaiting() {
  auto h = await_handle_;
  await_any_ = nullptr;
  await_ref_ = 0;
  await_sink_ = nullptr;
  await_handle_ = {};
  await_done_ = false;
  h.resume();  // a task keeps its exceptions in its promise: resume does not throw
  if (root_task_ && root_task_.handle().done()) finish_task();
}

namespace {
// Adds the time from its construction to its destruction to the worker's call histogram.
struct call_timer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  call_timer() = default;
  call_timer(const call_timer&) = delete;
  call_timer& operator=(const call_timer&) = delete;
  ~call_timer() { detail::scheduler::note_call_time(std::chrono::steady_clock::now() - start); }
};
}  // namespace

void process::dispatch(envelope_ptr e) {
  try {
    if (e->kind == sig::stop_request) {
      auto* r = static_cast<detail::reason_envelope*>(e.get());
      if (!rel_) rel_ = std::make_unique<detail::relations>();
      rel_->stop_waiters.emplace_back(e->from, e->ref);
      begin_exit(std::move(r->reason), true);
      return;
    }
    handled_.store(handled_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    detail::scheduler::note_dispatch(e->kind == sig::call);
    std::optional<call_timer> timer;  // a call's handling time, even when its handler throws
    if (e->kind == sig::call) timer.emplace();
    if (e->kind == sig::call && detail::holds_message<sys_get_status>(*e)) {
      answer_status(*e);  // a system message, answered by the runtime (OTP's sys)
      return;
    }
    note_message(*e);
    handle_envelope(std::move(e));
  } catch (...) {
    begin_exit(reason_of(std::current_exception()), true);
  }
}

namespace {
void pause(int n) noexcept {
  for (int k = 0; k < n; ++k) _mm_pause();
}

// Polls `in` briefly while the worker has nothing else to do: true if a message came.
bool linger(const detail::inbox& in) noexcept {
  for (int i = 0; i < defaults::linger_polls; ++i) {
    if (!detail::scheduler::may_linger()) return false;
    // Looking at the inbox takes the cache line its sender writes: seldom, not in a tight loop.
    pause(defaults::linger_poll_pauses);
    if (in.has_items()) return true;
  }
  return false;
}
}  // namespace

process::slice_result process::run_slice() {
  detail::current_process_scope scope(this);
  // in_slice_ is cleared before try_block hands the process back: once it returns true another
  // worker may run this process, so nothing here may touch it after that.
  struct in_slice {
    bool& flag;
    bool armed = true;
    explicit in_slice(bool& f) : flag(f) { flag = true; }
    ~in_slice() {
      if (armed) flag = false;
    }
  } running(in_slice_);
  int budget = defaults::activation_budget;
  int since_take = 0;
  std::uint32_t taken = 0;  // by the last take
  for (;;) {
    // The shared inbox is taken when what was taken before is handled, while a reply is awaited,
    // and at least every inbox_take_every messages (exit signals wait no longer). Looking at it
    // before each message took the cache line a sender on another core was writing, each time.
    if (cache_head_ == nullptr || root_task_ || ++since_take >= defaults::inbox_take_every) {
      // A stream whose last take was small: let a batch gather first, or the receiver, faster
      // than its sender, takes the line the sender writes every message or two. (One message
      // a take is a request and its answer, or a trickle: nothing to gather.)
      if (taken > 1 && taken < defaults::linger_batch && cache_head_ == nullptr && !root_task_ &&
          detail::scheduler::may_linger()) {
        pause(defaults::linger_poll_pauses);
      }
      since_take = 0;
      if (envelope* list = inbox_.take_all(taken)) ingest(list);
    }
    if (exiting_) {
      exit_now();
      return slice_result::dead;
    }
    if (await_done_) {
      resume_awaiting();
      continue;
    }
    if (continue_pending_ && !root_task_) {
      if (--budget < 0) return slice_result::yield;
      continue_pending_ = false;
      try {
        run_continue();
      } catch (...) {
        begin_exit(reason_of(std::current_exception()), true);
      }
      continue;
    }
    if (root_task_ || cache_head_ == nullptr) {
      // Waiting for a reply (other messages stay queued), or nothing to do. A message due soon
      // costs less to wait for than going idle and being woken (a sender streaming from
      // another core would otherwise schedule us again and again).
      // Counted against the budget like a failed try_block: what lingering finds may be only
      // signals, or messages queued behind an awaited reply, which dispatch nothing.
      if (linger(inbox_)) {
        if (--budget <= 0) return slice_result::yield;
        continue;
      }
      in_slice_ = false;
      if (inbox_.try_block()) {
        running.armed = false;
        return slice_result::idle;
      }
      in_slice_ = true;
      if (--budget <= 0) return slice_result::yield;
      continue;
    }
    if (--budget < 0) return slice_result::yield;
    dispatch(pop_message());
  }
}

void process::exit_from_owner_thread(exit_reason reason) {
  begin_exit(std::move(reason), false);
  exit_now();
}

void process::note_message(const detail::envelope& e) {
  last_kind_ = e.kind;
  last_type_ = e.type;
  if (e.type == &detail::remote_message_type()) {
    // The name lives in the envelope: copied into a buffer kept for the next ones.
    if (!last_remote_type_) last_remote_type_ = std::make_unique<std::string>();
    last_remote_type_->assign(e.type_name());
  }
}

void process::report_crash(const exit_reason& reason) const {
  if (reason.is_normal() || reason.is_shutdown() || quiet_exit_) return;
  spdlog::logger& log = detail::log();
  if (!log.should_log(spdlog::level::warn)) return;
  std::vector<std::string> names;
  if (has_name_.load()) {
    if (std::string local = rt_->name_of(pid_); !local.empty()) names.push_back(std::move(local));
  }
  for (auto& g : detail::global_names_of(*rt_, pid_)) names.push_back(std::move(g));
  std::string named;
  for (const auto& n : names) named += (named.empty() ? " '" : ", '") + n + "'";
  std::string last = "none";
  if (last_type_ != nullptr) {
    std::string_view type = last_type_ == &detail::remote_message_type()
                                ? std::string_view(*last_remote_type_)
                                : last_type_->name;
    if (type.empty()) type = "untyped";  // a dynamic value (from a tool, or otter::dynamic)
    last = std::string(detail::to_string(last_kind_)) + " '" + std::string(type) + "'";
  }
  std::string all_names;
  for (const auto& n : names) all_names += (all_names.empty() ? "" : ",") + n;
  log_fields fields{{"pid", otter::to_string(pid_)},
                    {"behaviour", std::string(behaviour())},
                    {"name", all_names},
                    {"reason", reason.str()},
                    {"last_message", last}};
  log.warn("crash report: {} {}{} exited with reason '{}' (last message: {})", behaviour(),
           otter::to_string(pid_), named, reason.str(), last);
}

void process::exit_now() {
  const exit_reason reason = *exiting_;
  // Before process_exited: its local names are still registered (global ones go later, when
  // the registry hears of the exit).
  report_crash(reason);
  const exit_reason* saved = detail::tl_exit_reason;
  detail::tl_exit_reason = &reason;
  if (run_terminate_) {
    try {
      on_terminate(reason);
    } catch (...) {
      // terminate's own failure does not change the exit reason (as in OTP, it is logged).
    }
  }
  cancel_await();
  root_task_ = {};  // destroys the suspended handler; its `from`s answer their callers
  root_message_.reset();
  // Everything that reached the mailbox before it closed gets its answer. Closing first, then
  // dropping names: a register_name racing with this exit either sees the mailbox closed, or
  // its name is seen here (both sides seq_cst).
  envelope* rest = inbox_.close();
  detail::process_exited(*rt_, *this);
  while (rest != nullptr) {
    envelope* e = rest;
    rest = e->next;
    append(e);
  }
  const pid me = pid_;
  const error gone{errc::exited, "process " + detail::describe(me) + " exited: " + reason.str(),
                   reason};
  while (envelope* raw = cache_head_) {
    cache_head_ = raw->next;
    envelope_ptr e(raw);
    if (e->kind == sig::stop_request) {
      from(rt_, e->from, e->ref).reply(ok_reply{});  // it did stop
    } else {
      detail::answer_for(*rt_, e->kind, e->from, me, e->ref, gone);
    }
  }
  cache_tail_ = nullptr;

  if (rel_) {
    for (const pid& l : rel_->links) {
      detail::deliver(*rt_, l, detail::make_signal(sig::link_exit, me, 0, reason));
    }
    for (const auto& [ref, who] : rel_->monitored_by) {
      detail::deliver(*rt_, who, detail::make_signal(sig::down, me, ref, reason));
    }
    for (const auto& [ref, target] : rel_->monitors) {
      detail::deliver(*rt_, target, detail::make_signal(sig::demonitor, me, ref));
    }
    for (const auto& [who, ref] : rel_->stop_waiters) from(rt_, who, ref).reply(ok_reply{});
    rel_.reset();
  }
  detail::tl_exit_reason = saved;
}

process_row process::row() const {
  process_row r;
  r.id = pid_;
  r.behaviour = std::string(behaviour());
  r.mailbox = inbox_.length(consumed_);
  r.handled = messages_handled();
  r.dropped = messages_dropped();
  // The allocation of the whole (derived) object, plus a typical envelope per queued message.
  r.memory_bytes = ::malloc_usable_size(const_cast<void*>(dynamic_cast<const void*>(this))) +
                   std::uint64_t{r.mailbox} * 64;
  r.status = inbox_.closed() ? "exiting" : inbox_.idle() ? "waiting" : "running";
  r.parent = parent_;
  if (rt_ != nullptr) r.name = rt_->name_of(pid_);
  return r;
}

void process::answer_status(const detail::envelope& e) {
  process_info info;
  info.row = row();
  info.row.status = "running";  // it is answering
  info.trap_exit = trap_exit_;
  if (rel_) {
    info.links.assign(rel_->links.begin(), rel_->links.end());
    for (const auto& [ref, target] : rel_->monitors) info.monitors.push_back(target);
    for (const auto& [ref, who] : rel_->monitored_by) info.monitored_by.push_back(who);
  }
  from(rt_, e.from, e.ref).reply(std::move(info));
}

void process::fail_init(const exit_reason& reason) {
  ingest(inbox_.take_all());  // links and monitors made during init count
  // The starter gets the failure as a value (and a supervisor logs a restart that failed):
  // no crash report for a process that never ran.
  quiet_exit_ = true;
  begin_exit(reason, false);
  exit_now();
}

void process::discard() noexcept {
  try {
    const pid me = pid_;
    envelope* rest = inbox_.close();
    detail::process_exited(*rt_, *this);
    while (rest != nullptr) {
      envelope* e = rest;
      rest = e->next;
      append(e);
    }
    // As for a process that never existed: calls fail noproc, monitors fire noproc.
    const error never = detail::noproc_error(me);
    while (envelope* raw = cache_head_) {
      cache_head_ = raw->next;
      envelope_ptr e(raw);
      detail::answer_for(*rt_, e->kind, e->from, me, e->ref, never);
    }
    cache_tail_ = nullptr;
    if (rel_) {
      // Nothing ran: no exit signal, no DOWN but noproc for a process that never existed.
      for (const pid& l : rel_->links) {
        detail::deliver(*rt_, l, detail::make_signal(sig::unlink, me));
      }
      for (const auto& [ref, target] : rel_->monitors) {
        detail::deliver(*rt_, target, detail::make_signal(sig::demonitor, me, ref));
      }
      for (const auto& [ref, who] : rel_->monitored_by) {
        detail::deliver(*rt_, who, detail::make_signal(sig::down, me, ref, exit_reason::noproc()));
      }
      rel_.reset();
    }
  } catch (...) {
  }
}

}  // namespace otter
