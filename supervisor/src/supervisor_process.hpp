// Internal: the process behind supervisor and dynamic_supervisor (one class, two modes).
//
// Everything runs on the supervisor's own handlers; nothing blocks. Stopping children is an
// *operation* (termination): exit signals sent, then the children's EXITs (trapped, as
// exit_msg) and shutdown timers (send_after to itself) drive it to completion. While an
// operation runs, calls and restart decisions wait in `pending_` and run afterwards in
// arrival order, as they would wait in the mailbox of an OTP supervisor blocked in its
// receive. Bookkeeping of an EXIT (the child's Pid is forgotten) is done at once, so an
// operation never waits for a child that is already gone.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "otter/dynamic_supervisor.hpp"
#include "otter/gen_server.hpp"
#include "otter/supervisor.hpp"

namespace otter::detail {

// A failed restart is retried through this message to itself (OTP's try_again_restart).
struct supervisor_try_again {
  std::uint64_t key = 0;
  MSGPACK_DEFINE(key);
};
OTTER_MESSAGE_AS(supervisor_try_again, "supervisor_try_again");

// A shutdown timeout of termination `op` fired: kill what is still alive. `arg` is the index
// of the child (one-at-a-time terminations) or the timeout in ms (all-at-once terminations).
struct supervisor_shutdown_timeout {
  std::uint64_t op = 0;
  std::int64_t arg = 0;
  MSGPACK_DEFINE(op, arg);
};
OTTER_MESSAGE_AS(supervisor_shutdown_timeout, "supervisor_shutdown_timeout");

// A move-only deferred piece of work (std::function needs copyable closures; ours hold `from`s).
class supervisor_job {
 public:
  supervisor_job() = default;
  template <class F>
  explicit supervisor_job(F f) : impl_(std::make_unique<impl<F>>(std::move(f))) {}
  void operator()() { impl_->run(); }
  explicit operator bool() const noexcept { return impl_ != nullptr; }

 private:
  struct base {
    virtual ~base() = default;
    virtual void run() = 0;
  };
  template <class F>
  struct impl final : base {
    explicit impl(F fn) : f(std::move(fn)) {}
    void run() override { f(); }
    F f;
  };
  std::unique_ptr<base> impl_;
};

class supervisor_process final : public gen_server<supervisor_process> {
 public:
  using calls = msgs<start_child_request, terminate_child_request, terminate_child_pid_request,
                     restart_child_request, delete_child_request, which_children_request,
                     count_children_request, stop_supervisor_request>;
  using infos = msgs<supervisor_try_again, supervisor_shutdown_timeout>;

  // `label`: its child id under its parent (supervisor::child, dynamic_supervisor::child), for
  // the reports; empty for one started on its own.
  supervisor_process(std::string label, supervisor_flags flags, std::vector<child_spec> children);
  supervisor_process(std::string label, dynamic_supervisor_options options);

  std::string_view behaviour() const noexcept override {
    return dynamic_ ? "dynamic_supervisor" : "supervisor";
  }

  // Flags and specs checked before a supervisor process exists: badarg, as documented.
  static result<void> validate(int max_restarts, std::chrono::seconds max_seconds,
                               const std::vector<child_spec>& children);
  result<void> init();
  void terminate(const exit_reason& reason);

  noreply_t handle_call(start_child_request& r, from& f);
  noreply_t handle_call(const terminate_child_request& r, from& f);
  noreply_t handle_call(const terminate_child_pid_request& r, from& f);
  noreply_t handle_call(const restart_child_request& r, from& f);
  noreply_t handle_call(const delete_child_request& r, from& f);
  noreply_t handle_call(const which_children_request& r, from& f);
  noreply_t handle_call(const count_children_request& r, from& f);
  noreply_t handle_call(const stop_supervisor_request& r, from& f);

  void handle_info(const exit_msg& x);
  void handle_info(const supervisor_try_again& t);
  void handle_info(const supervisor_shutdown_timeout& t);

 private:
  struct child {
    child_spec spec;
    pid proc;                       // nil unless running
    std::uint64_t key = 0;          // unique in this supervisor
    std::uint64_t incarnation = 0;  // bumped by every start and by terminate_child
    bool restarting = false;        // a restart failed; a try_again is on its way
    // Part of the current termination: waiting for its turn, signalled, killed.
    bool stopping = false;
    bool signalled = false;
    bool killed = false;
  };
  using child_iter = std::list<child>::iterator;

  struct termination {
    // User-provided: clang 14 otherwise judges it not default-constructible while the
    // enclosing class is being defined (its default member initializers are not parsed yet).
    termination() noexcept {}  // NOLINT(modernize-use-equals-default)
    std::uint64_t serial = 0;
    std::vector<child_iter> order;
    bool concurrent = false;            // all signalled at once (dynamic) or one at a time
    std::size_t next = 0;               // one at a time: the next to signal
    std::size_t outstanding = 0;        // signalled, EXIT not yet seen
    std::uint64_t timer = 0;            // one at a time: the current child's kill timer
    std::vector<std::uint64_t> timers;  // all at once: one per distinct timeout
    supervisor_job then;
  };

  // Runs `f` now, or after the current operation and the work queued before it.
  template <class F>
  void submit(F&& f) {
    if (stopping_) return;
    if (busy_ || !pending_.empty()) {
      pending_.emplace_back(std::forward<F>(f));
      return;
    }
    f();
  }
  void drain();

  // Children.
  child_iter add_child(child_spec spec);
  void erase_child(child_iter c);
  std::optional<child_iter> find_id(std::string_view id);
  std::optional<child_iter> stopped_child(const std::string& id, from& f);
  std::optional<child_iter> find_key(std::uint64_t key);
  result<void> start_process(child_iter c);
  result<void> on_child_started(const child_spec& spec, const pid& p);
  child_info info_of(const child& c) const;

  // Restarts.
  void on_child_exit(child_iter c, std::uint64_t incarnation, const pid& was,
                     const exit_reason& reason);
  bool add_restart();
  // Restarts `c` if the intensity allows, else shuts the supervisor down; `cause` (what made
  // the restart necessary) goes into the report either way.
  void restart(child_iter c, const std::string& cause);
  // "supervisor <pid>", with its names if it has any (for the reports).
  std::string describe_self() const;
  void restart_group(child_iter failed);
  void start_from(child_iter first);
  void schedule_retry(child_iter c);

  // Terminations.
  void terminate_then(std::vector<child_iter> order, supervisor_job then);
  void signal(child& c);
  void advance();
  void child_stopped(child_iter c);
  void finish_termination();
  std::vector<child_iter> shutdown_order();
  void shut_down(exit_reason reason, std::optional<from> waiter);
  // Without waiting (init failure, a supervisor ended by otter::stop or a crash): `shutdown`
  // now, `kill` after the timeout by a timer; or `kill` now.
  void signal_and_forget(child& c);

  const bool dynamic_;
  const std::string label_;
  restart_strategy strategy_ = restart_strategy::one_for_one;
  int max_restarts_;
  std::chrono::seconds max_seconds_;
  std::size_t max_children_ = 0;

  std::list<child> children_;  // in start order
  std::unordered_map<pid, child_iter> by_pid_;
  std::unordered_map<std::uint64_t, child_iter> restarting_;  // by key
  std::uint64_t next_key_ = 1;
  std::deque<std::chrono::steady_clock::time_point> restarts_;  // within max_seconds_

  std::deque<supervisor_job> pending_;
  std::optional<termination> term_;
  std::uint64_t term_serial_ = 0;
  bool busy_ = false;      // a termination is in progress
  bool draining_ = false;  // drain() is on the stack
  bool stopping_ = false;  // the supervisor is shutting down: queued work never runs
};

}  // namespace otter::detail
