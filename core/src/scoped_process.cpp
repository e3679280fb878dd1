#include "otter/scoped_process.hpp"

#include <condition_variable>
#include <mutex>

#include "runtime_access.hpp"

namespace otter {

namespace detail {

void link(process& me, const pid& other);
void unlink(process& me, const pid& other);
monitor_ref monitor(process& me, const dest& target);
void demonitor(process& me, monitor_ref ref);

class blocking_process final : public process {
 public:
  explicit blocking_process(std::shared_ptr<runtime_state> state) : state_(std::move(state)) {
    trap_exit(true);
  }

  std::string_view behaviour() const noexcept override { return "scoped_process"; }

  // Takes in what arrives until `done()` holds or `deadline` passes; true if `done()`. False
  // at once when the process was killed or its runtime shut down.
  template <class Done>
  bool wait_until(Done&& done, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (!running(*state_)) return false;
      ingest_inbox();
      if (done()) return true;
      if (exiting()) return false;
      if (!inbox().try_block()) continue;  // something arrived meanwhile
      std::unique_lock<std::mutex> l(mutex_);
      if (deadline == std::chrono::steady_clock::time_point::max()) {
        cv_.wait(l, [&] { return woken_; });
      } else if (!cv_.wait_until(l, deadline, [&] { return woken_; })) {
        l.unlock();
        ingest_inbox();  // the inbox may have been woken just now; unblocks it either way
        return done();
      }
      woken_ = false;
    }
  }

  // Runs the coroutine `t` as this process's work, resuming it as its awaited replies arrive.
  // An error when the process was killed, or its runtime shut down, before it finished.
  result<void> run(task<void>& t) {
    t.handle().resume();
    while (!t.handle().done()) {
      if (!wait_until([&] { return await_done(); }, std::chrono::steady_clock::time_point::max())) {
        if (running(*state_)) cancel_await();  // (a stopped runtime has no timers left)
        return running(*state_)
                   ? error{errc::exited, "this scoped_process was killed"}
                   : error{errc::shutting_down, "this scoped_process's runtime has shut down"};
      }
      resume_awaited();
    }
    return ok();
  }

  bool dead() const noexcept { return exiting(); }
  void finish() { exit_from_owner_thread(exit_reason::normal()); }

 private:
  void handle_envelope(envelope_ptr) override {}
  // The runtime is shutting down: its owner thread is told, and frees what it holds itself.
  void orphan() noexcept override { wake(); }
  void wake() override {
    {
      std::lock_guard<std::mutex> l(mutex_);
      woken_ = true;
    }
    cv_.notify_one();
  }

  std::shared_ptr<runtime_state> state_;
  std::mutex mutex_;  // protects woken_
  std::condition_variable cv_;
  bool woken_ = false;
};

}  // namespace detail

using detail::runtime_access;

scoped_process::scoped_process(runtime& rt) : rt_(&rt), state_(detail::state_of(rt)) {
  auto owned = std::make_unique<detail::blocking_process>(state_);
  detail::blocking_process* p = owned.get();
  if (auto r = detail::spawn(rt, std::move(owned), start_options{}); r) {
    proc_ = p;
    detail::add_ref(rt, proc_);  // ours, on top of the table's
  }
}

scoped_process::~scoped_process() {
  if (proc_ == nullptr) return;
  if (detail::running(*state_)) {
    detail::current_process_scope scope(proc_);
    proc_->finish();
    detail::release(*state_, proc_);  // the table's reference, dropped at exit
  }
  // Ours. After a shutdown the runtime dropped the table's and this frees the process.
  detail::release(*state_, proc_);
}

const pid& scoped_process::self() const noexcept {
  static const pid nil{};
  return proc_ != nullptr ? proc_->self() : nil;
}

bool scoped_process::usable() const noexcept {
  return proc_ != nullptr && detail::running(*state_);
}

bool scoped_process::alive() const noexcept {
  return usable() && !proc_->dead();
}

result<void> scoped_process::drive(task<void>& t) {
  if (!usable()) {
    return error{errc::shutting_down, "this scoped_process's runtime has shut down"};
  }
  if (proc_->dead()) return error{errc::exited, "this scoped_process was killed"};
  {
    detail::current_process_scope scope(proc_);
    if (auto r = proc_->run(t); !r) return r;
  }
  if (auto& failure = t.handle().promise().exception) std::rethrow_exception(failure);
  return ok();
}

result<void> scoped_process::send_envelope(const dest& to, detail::envelope_ptr e) {
  if (!usable()) {
    return error{errc::shutting_down, "this scoped_process's runtime has shut down"};
  }
  e->from = self();
  return detail::send_envelope(*rt_, to, std::move(e));
}

void scoped_process::receive_envelope(const std::function<bool(detail::envelope&)>& match,
                                      const std::function<void(detail::envelope&)>& take,
                                      std::chrono::milliseconds timeout) {
  if (!usable()) return;
  detail::current_process_scope scope(proc_);
  detail::envelope_ptr got;
  proc_->wait_until(
      [&] {
        got = runtime_access::take_matching(*proc_, match);
        return got != nullptr;
      },
      std::chrono::steady_clock::now() + timeout);
  if (got) take(*got);
}

void scoped_process::link(const pid& other) {
  if (!usable()) return;
  detail::current_process_scope scope(proc_);
  detail::link(*proc_, other);
}
void scoped_process::unlink(const pid& other) {
  if (!usable()) return;
  detail::current_process_scope scope(proc_);
  detail::unlink(*proc_, other);
}
monitor_ref scoped_process::monitor(const dest& target) {
  if (!usable()) return 0;
  detail::current_process_scope scope(proc_);
  return detail::monitor(*proc_, target);
}
void scoped_process::demonitor(monitor_ref ref) {
  if (!usable()) return;
  detail::current_process_scope scope(proc_);
  detail::demonitor(*proc_, ref);
}
void scoped_process::exit(const dest& target, exit_reason reason) {
  if (!usable()) return;
  detail::current_process_scope scope(proc_);
  (void)rt_->exit(target, std::move(reason));
}

}  // namespace otter
