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
  blocking_process() { trap_exit(true); }

  std::string_view behaviour() const noexcept override { return "scoped_process"; }

  // Takes in what arrives until `done()` holds or `deadline` passes; true if `done()`.
  template <class Done>
  bool wait_until(Done&& done, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      ingest_inbox();
      if (done()) return true;
      if (exiting()) return false;
      if (!inbox().try_block()) continue;  // something arrived meanwhile
      std::unique_lock<std::mutex> l(mutex_);
      if (!cv_.wait_until(l, deadline, [&] { return woken_; })) {
        l.unlock();
        ingest_inbox();  // the inbox may have been woken just now; unblocks it either way
        return done();
      }
      woken_ = false;
    }
  }

  void begin_call(std::uint64_t ref, reply_sink* sink) {
    await_reply(ref, sink, {}, std::chrono::steady_clock::time_point::max());
  }
  void end_call() noexcept { cancel_await(); }
  bool call_done() const noexcept { return await_done(); }
  bool dead() const noexcept { return exiting(); }
  void finish() { exit_from_owner_thread(exit_reason::normal()); }

 private:
  void handle_envelope(envelope_ptr) override {}
  void wake() override {
    {
      std::lock_guard<std::mutex> l(mutex_);
      woken_ = true;
    }
    cv_.notify_one();
  }

  std::mutex mutex_;  // protects woken_
  std::condition_variable cv_;
  bool woken_ = false;
};

}  // namespace detail

using detail::runtime_access;

scoped_process::scoped_process(runtime& rt) : rt_(rt) {
  auto owned = std::make_unique<detail::blocking_process>();
  proc_ = owned.get();
  auto r = rt.spawn(std::move(owned), start_options{});
  (void)r;            // a blocking process's init cannot fail
  rt.add_ref(proc_);  // ours, on top of the table's
}

scoped_process::~scoped_process() {
  detail::current_process_scope scope(proc_);
  proc_->finish();
  runtime_access::release(proc_);  // the table's reference, dropped at exit
  runtime_access::release(proc_);  // ours
}

const pid& scoped_process::self() const noexcept {
  return proc_->self();
}

void scoped_process::call_envelope(const dest& to, detail::envelope_ptr request,
                                   std::chrono::milliseconds timeout,
                                   const std::function<void(detail::envelope_ptr)>& on_reply,
                                   const std::function<void(error)>& on_error) {
  detail::current_process_scope scope(proc_);
  if (proc_->dead()) {
    on_error(error{errc::exited, "this scoped_process was killed"});
    return;
  }
  const auto* at = to.as_name_at();
  const bool remote_name = at != nullptr && at->node != rt_.node_name();
  auto target = remote_name ? std::optional<pid>(pid{}) : rt_.resolve(to);
  if (!target) {
    on_error(detail::noproc_error(to));
    return;
  }
  if (!remote_name && *target == self()) {
    on_error(error{errc::calling_self, "process " + to_string(self()) + " called itself"});
    return;
  }
  struct sink final : detail::reply_sink {
    const std::function<void(detail::envelope_ptr)>* fn;
    void complete(detail::envelope_ptr e) override { (*fn)(std::move(e)); }
  } s;
  s.fn = &on_reply;
  const auto ref = rt_.make_ref();
  request->from = self();
  request->ref = ref;
  proc_->begin_call(ref, &s);
  if (!(remote_name ? rt_.deliver_to(to, std::move(request))
                    : rt_.deliver(*target, std::move(request)))) {
    proc_->end_call();
    on_error(detail::noproc_error(to));
    return;
  }
  const auto deadline = timeout == std::chrono::milliseconds::max()
                            ? std::chrono::steady_clock::time_point::max()
                            : std::chrono::steady_clock::now() + timeout;
  const bool done = proc_->wait_until([&] { return proc_->call_done(); }, deadline);
  proc_->end_call();
  if (!done) {
    on_error(error{errc::timeout, "no reply from " + to.describe() + " within " +
                                      std::to_string(timeout.count()) + " ms"});
  }
}

result<void> scoped_process::stop(const dest& server, exit_reason reason,
                                  std::chrono::milliseconds timeout) {
  result<void> out = ok();
  call_envelope(
      server,
      std::make_unique<detail::reason_envelope>(detail::sig::stop_request, std::move(reason)),
      timeout,
      [&](detail::envelope_ptr e) {
        if (e->kind != detail::sig::reply) out = detail::error_of(*e);
      },
      [&](error err) { out = std::move(err); });
  return out;
}

void scoped_process::receive_envelope(const std::function<bool(detail::envelope&)>& match,
                                      const std::function<void(detail::envelope&)>& take,
                                      std::chrono::milliseconds timeout) {
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
  detail::current_process_scope scope(proc_);
  detail::link(*proc_, other);
}
void scoped_process::unlink(const pid& other) {
  detail::current_process_scope scope(proc_);
  detail::unlink(*proc_, other);
}
monitor_ref scoped_process::monitor(const dest& target) {
  detail::current_process_scope scope(proc_);
  return detail::monitor(*proc_, target);
}
void scoped_process::demonitor(monitor_ref ref) {
  detail::current_process_scope scope(proc_);
  detail::demonitor(*proc_, ref);
}
void scoped_process::exit(const dest& target, exit_reason reason) {
  detail::current_process_scope scope(proc_);
  (void)rt_.exit(target, std::move(reason));
}

}  // namespace otter
