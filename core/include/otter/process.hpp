// A process: an object with a mailbox, run by the runtime's worker threads (M:N), never a
// thread of its own. A process runs one handler at a time, so its state needs no locks.
//
// Guarantees:
// - Messages (and signals) from one sender arrive in the order sent.
// - A process handles at most defaults::activation_budget messages per activation, then
//   yields, so a process that floods itself cannot starve others.
// - Exit signals follow Erlang: `kill` via otter::exit is untrappable (the process ends with
//   `killed`); a `normal` signal from a linked process is ignored unless exits are trapped;
//   any other reason ends the process unless it traps exits, in which case it becomes an
//   exit_msg for handle_info.
// - When a process ends, linked processes get an exit signal, monitors fire `down`, its names
//   are unregistered, and calls still queued fail with `exited` and the reason.
//
// Behaviours (gen_server, supervisors) derive from this class; users derive from them.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "otter/detail/envelope.hpp"
#include "otter/detail/log_limiter.hpp"
#include "otter/detail/mailbox.hpp"
#include "otter/introspection.hpp"
#include "otter/task.hpp"

namespace otter {

class runtime;
class process;
class from;

// The exit reason for a handler's exception: its what(), or "unknown exception".
exit_reason reason_of(const std::exception_ptr& e) noexcept;

namespace detail {

class scheduler;
class timer_service;
struct relations;
class runtime_access;
struct request_ops;

// Where an awaited call's reply (or failure) goes.
class reply_sink {
 public:
  virtual void complete(envelope_ptr e) = 0;

 protected:
  ~reply_sink() = default;
};

// A timer entry: in the timer service's heap while armed.
struct timer_node {
  std::chrono::steady_clock::time_point deadline{};
  // Written under the timer service's mutex; the owner may read it without (relaxed): only the
  // owner arms a node, so an owner that reads "not armed" is right.
  std::atomic<std::uint32_t> heap_index{~std::uint32_t{0}};
  std::uint64_t id = 0;  // send_after timers: the handle; call timers: 0
  pid target;
  std::uint64_t ref = 0;  // call timers: the call awaited
  envelope_ptr message;   // send_after timers: what to deliver
  bool armed() const noexcept {
    return heap_index.load(std::memory_order_relaxed) != ~std::uint32_t{0};
  }
};

// The process whose handler runs on this thread, or nullptr.
process* current_process() noexcept;

// Makes `p` the current process for the lifetime of the scope (used to run a new server's
// init in its starter's thread).
class current_process_scope {
 public:
  explicit current_process_scope(process* p) noexcept;
  ~current_process_scope();
  current_process_scope(const current_process_scope&) = delete;
  current_process_scope& operator=(const current_process_scope&) = delete;

 private:
  process* saved_;
};

}  // namespace detail

class process {
 public:
  process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  virtual ~process();

  const pid& self() const noexcept { return pid_; }
  runtime& rt() const noexcept { return *rt_; }

  void trap_exit(bool on) noexcept { trap_exit_ = on; }
  bool trapping_exits() const noexcept { return trap_exit_; }

  // The process that started and linked it (start_link), or nil.
  const pid& parent() const noexcept { return parent_; }

  std::uint32_t mailbox_length() const noexcept { return inbox_.length(consumed_); }
  // Messages refused because the mailbox was at its limit (start_options::mailbox_limit).
  std::uint64_t messages_dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }
  std::uint64_t messages_handled() const noexcept {
    return handled_.load(std::memory_order_relaxed);
  }
  // Any thread: pid, name, behaviour, counters, status (see otter/introspection.hpp).
  process_row row() const;

  virtual std::string_view behaviour() const noexcept { return "process"; }

 protected:
  // One message (info, cast or call), on this process's thread.
  virtual void handle_envelope(detail::envelope_ptr e) = 0;

  // The process is ending by its own decision or a crash, with `reason`. Not called when an
  // untrapped exit signal ends it (as in OTP).
  virtual void on_terminate(const exit_reason& reason);

  // Ends this process with `reason` once the current handler returns.
  void stop_self(exit_reason reason);

  // Runs `t` as this process's current work. Until it completes the process handles no other
  // message; `message` (the envelope the task's handler refers to) lives as long as the task.
  void run_task(task<void> t, detail::envelope_ptr message);

  // Keeps a caller waiting until this process has exited; it then gets `exited` with the
  // reason (a handler that threw before replying).
  void keep_until_exit(from&& f);

  // A behaviour's work that runs before the next message (gen_server's handle_continue):
  // run_continue() is called once, after the current handler (or init) returns.
  void schedule_continue() noexcept { continue_pending_ = true; }
  virtual void run_continue() {}
  // Whether replies to this process's pending requests (send_request) should also arrive as
  // a `detail::response_ready` message (for a server that checks them in handle_info).
  virtual bool wants_response_messages() const noexcept { return false; }

  // Called by call awaiters: the current task waits for the reply to `ref`.
  void await_reply(std::uint64_t ref, detail::reply_sink* sink, std::coroutine_handle<> h,
                   std::chrono::steady_clock::time_point deadline);
  void cancel_await() noexcept;

 private:
  friend class runtime;
  friend class detail::scheduler;
  friend class detail::runtime_access;
  template <class>
  friend class call_awaiter;
  friend struct detail::request_ops;

  // Requests sent with otter::send_request, on this process's thread (request.hpp): a pending
  // request's reply is kept here until taken, and a late one of a forgotten request dropped.
  void track_request(std::uint64_t ref);
  bool request_pending(std::uint64_t ref) const noexcept;
  bool response_arrived(std::uint64_t ref) const noexcept;
  // The reply (or failure) that arrived for `ref`, if any; the request stays pending until
  // forgotten.
  detail::envelope_ptr take_response(std::uint64_t ref);
  void forget_request(std::uint64_t ref) noexcept;
  // Waits for the reply of any pending request in `refs` (call_awaiter's machinery): the sink
  // gets nullptr once one of them has arrived (take_response has it), or the timeout
  // envelope at the deadline.
  void await_any_request(const std::vector<std::uint64_t>* refs, detail::reply_sink* sink,
                         std::coroutine_handle<> h, std::chrono::steady_clock::time_point deadline);

  enum class slice_result { idle, yield, dead };

  // Scheduler entry: runs up to one activation budget of work.
  slice_result run_slice();
  // Consumes a FIFO list from the inbox: signals act now, messages go to the cache.
  void ingest(detail::envelope* list);
  void handle_exit_signal(const pid& from, exit_reason reason, bool via_link);
  void append(detail::envelope* e) noexcept;
  // A message this process sends itself while it runs goes straight to its mailbox (as in
  // Erlang: a self-send is an append), never through the inbox a wake would have to ingest.
  bool append_own(detail::envelope_ptr& e) noexcept;
  // A reply to a pending request: kept; true if it was queued as a response_ready too.
  bool keep_response(detail::envelope_ptr e);
  void resume_awaiting();
  void finish_task();
  void dispatch(detail::envelope_ptr e);
  void begin_exit(exit_reason reason, bool run_terminate);
  void exit_now();
  // Releases a process that never ran (its start lost the name): calls and monitors that
  // found it meanwhile get noproc.
  void discard() noexcept;
  // Its init failed: it exits with `reason`, without terminate (OTP's init_fail).
  void fail_init(const exit_reason& reason);
  // Remembers what kind and type of message the process is about to handle (crash reports).
  void note_message(const detail::envelope& e);
  // OTP's crash report: one warning for a process ending abnormally (see exit_now).
  void report_crash(const exit_reason& reason) const;
  // Asks the runtime to run this process (it became runnable).
  virtual void wake();
  // The runtime shuts down with this process still alive (its workers are gone): drop what it
  // holds, silently. A process owned by another thread (scoped_process) only wakes it.
  virtual void orphan() noexcept;
  // Runs once, in the starter's thread with this process current, its name (if any) already
  // registered; an error aborts the start: the process exits with the error's reason.
  virtual result<void> init_process() { return ok(); }

  // Cache lines. Senders on other cores write inbox_ (16 bytes, at offset 64), a process
  // handles messages in the fields from offset 128 on (and reads its vtable pointer, at 0).
  // Allocation aligns a process to 16 bytes only (an over-aligned one made spawning a million
  // gen_servers 40 % slower), so the line holding inbox_ may start 48 bytes before it or end
  // 48 after it: those 96 bytes hold only what neither side touches per message (written at
  // spawn, at exit, on registering a name, on a link or monitor, on an overflow or an
  // unhandled message), so handling a message never takes the line a sender is writing. A
  // sender reads mailbox_limit_, rt_ and, near the limit, consumed_. Keep this order; offsets
  // are checked by a static_assert in process.cpp. (A user class deriving from another
  // polymorphic base before gen_server shifts the process by 8 bytes: still correct, only
  // the separation is lost.)
  runtime* rt_ = nullptr;  // 8
  // 16..63: before inbox_.
  pid parent_;
  std::unique_ptr<detail::relations> rel_;  // links and monitors, created on first use
  std::atomic<std::uint64_t> dropped_{0};   // by senders, on an overflow
  std::uint32_t mailbox_limit_ = 0;  // 0: unlimited (overload: set at spawn, read by senders)
  bool exit_on_overflow_ = false;
  std::atomic<bool> overflowed_{false};  // by senders, on an overflow
  std::atomic<bool> has_name_{false};    // set by register_name, read at exit (seq_cst)
  bool quiet_exit_ = false;  // killed by its parent (a supervisor's brutal_kill): no crash report
  detail::inbox inbox_;      // 64
  // 80..127: after inbox_.
  detail::log_limiter drop_log_, unhandled_log_;  // what it dropped: a line per period
  bool run_terminate_ = false;
  bool trap_exit_ = false;
  char spare_[14] = {};  // room for a field neither side touches per message
  // 128..: what handling a message reads and writes.
  pid pid_;
  detail::consumed_count consumed_;  // inbox_'s consumer count
  // The last message handled, for a crash report: its kind, and its type (local messages: a
  // static descriptor; from another node: the wire name, kept in a string reused after that).
  detail::sig last_kind_ = detail::sig::info;
  bool await_done_ = false;
  bool continue_pending_ = false;
  bool in_slice_ = false;                   // run_slice is running it (on this thread)
  detail::envelope* cache_head_ = nullptr;  // drained, not yet handled messages (FIFO)
  detail::envelope* cache_tail_ = nullptr;
  std::atomic<std::uint64_t> handled_{0};  // written by the owner only (relaxed load + store)
  const message_type* last_type_ = nullptr;
  std::unique_ptr<std::string> last_remote_type_;
  std::unique_ptr<exit_reason> exiting_;  // set once the process must end

  // The task being run (the root of this process's current coroutine work), if any.
  task<void> root_task_;
  detail::envelope_ptr root_message_;
  // The awaited call: reply `await_ref_` goes to `await_sink_`, then `await_handle_` resumes.
  std::uint64_t await_ref_ = 0;
  detail::reply_sink* await_sink_ = nullptr;
  std::coroutine_handle<> await_handle_{};
  const std::vector<std::uint64_t>* await_any_ = nullptr;  // await_any_request's refs
  detail::timer_node call_timer_;

 protected:
  // For blocking (scoped) processes: ingestion without the scheduler.
  void ingest_inbox() { ingest(inbox_.take_all()); }
  bool await_done() const noexcept { return await_done_; }
  // The awaited reply has arrived: resume the coroutine that waits for it.
  void resume_awaited() { resume_awaiting(); }
  void clear_await() noexcept {
    await_ref_ = 0;
    await_sink_ = nullptr;
    await_done_ = false;
  }
  detail::envelope_ptr pop_message() noexcept;
  detail::inbox& inbox() noexcept { return inbox_; }
  bool exiting() const noexcept { return exiting_ != nullptr; }
  // Answers a sys_get_status call (on this process's thread).
  void answer_status(const detail::envelope& e);
  void exit_from_owner_thread(exit_reason reason);
};

}  // namespace otter
