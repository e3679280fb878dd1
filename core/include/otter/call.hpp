// Calls, and `from`: the caller's half of a call.
//
// Inside a coroutine handler:   result<pong> r = co_await otter::call<pong>("srv", ping{});
// From a thread that owns an otter::scoped_process:   auto r = me.await(otter::call<pong>(...));
// The calling process takes no other message until the reply, the timeout or a failure; the
// worker thread is free meanwhile. Errors are values: timeout, noproc, nodedown, calling_self,
// badarg (the reply had another type), exited (the server ended mid-call; error::reason says
// why), shutting_down (the caller's runtime has stopped). A reply that arrives after the
// timeout is discarded, never seen as a stray message. Matching a reply never scans the
// mailbox.
#pragma once

#include <chrono>
#include <coroutine>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "otter/defaults.hpp"
#include "otter/detail/envelope.hpp"
#include "otter/error.hpp"
#include "otter/process.hpp"
#include "otter/runtime.hpp"

namespace otter {

// The caller of a call: reply through it, now or later (a deferred reply: move it into the
// server's state, return otter::noreply, and reply from another handler). Move-only. If it is
// destroyed without a reply, the caller gets `exited` at once (with the server's exit reason
// when the server is ending) instead of waiting for its timeout.
class from {
 public:
  from() = default;
  from(runtime* rt, const pid& caller, std::uint64_t ref) noexcept
      : rt_(rt), caller_(caller), ref_(ref) {}
  from(from&& o) noexcept
      : rt_(std::exchange(o.rt_, nullptr)), caller_(o.caller_), ref_(std::exchange(o.ref_, 0)) {}
  from& operator=(from&& o) noexcept {
    if (this != &o) {
      drop();
      rt_ = std::exchange(o.rt_, nullptr);
      caller_ = o.caller_;
      ref_ = std::exchange(o.ref_, 0);
    }
    return *this;
  }
  from(const from&) = delete;
  from& operator=(const from&) = delete;
  ~from() { drop(); }

  bool valid() const noexcept { return rt_ != nullptr; }
  const pid& caller() const noexcept { return caller_; }

  template <class R>
  void reply(R&& value) {
    if (!valid()) return;
    auto e = detail::make_message(detail::sig::reply, std::forward<R>(value));
    send_reply(std::move(e));
  }
  void reply_error(error e);

 private:
  void send_reply(detail::envelope_ptr e);
  void drop() noexcept;

  runtime* rt_ = nullptr;
  pid caller_;
  std::uint64_t ref_ = 0;
};

struct noreply_t {};
// Returned by handle_call when the reply is deferred (the handler moved its `from`).
inline constexpr noreply_t noreply{};

namespace detail {
// Errors that do not depend on the reply type.
error noproc_error(const dest& d);
error reply_type_error(const envelope& e, std::string_view expected);
error error_of(const envelope& e);
std::string describe(const pid& p);
// Any reply as a dynamic (packed when it is a local typed value), with its type name.
dynamic to_dynamic(envelope& e);

// A reply (or failure) envelope as the result a caller asking for R gets.
template <class R>
result<R> result_of_reply(envelope& e) {
  if (e.kind != sig::reply) {
    return error_of(e);
  } else if constexpr (std::is_void_v<R>) {
    return ok();
  } else if constexpr (std::is_same_v<R, dynamic>) {
    return to_dynamic(e);
  } else if (R* v = payload_as<R>(e)) {
    return std::move(*v);
  } else {
    return reply_type_error(e, message_traits<R>::name);
  }
}
}  // namespace detail

// The awaitable returned by otter::call. R = void accepts any reply.
template <class R>
class [[nodiscard]] call_awaiter final : detail::reply_sink {
 public:
  call_awaiter(dest to, detail::envelope_ptr request, std::chrono::milliseconds timeout)
      : to_(std::move(to)), request_(std::move(request)), timeout_(timeout) {}
  call_awaiter(call_awaiter&&) = default;

  bool await_ready() {
    self_ = detail::current_process();
    if (self_ == nullptr) {
      result_.emplace(error{errc::no_process_context,
                            "otter::call used outside a process; use scoped_process::await"});
      return true;
    }
    if (self_->rt().stopped()) {
      result_.emplace(error{errc::shutting_down,
                            "the runtime of node " + self_->rt().node_name() + " has shut down"});
      return true;
    }
    if (auto* at = to_.as_name_at(); at != nullptr && at->node != self_->rt().node_name()) {
      return false;  // resolved by its node
    }
    auto target = self_->rt().resolve(to_);
    if (!target) {
      result_.emplace(detail::noproc_error(to_));
      return true;
    }
    if (*target == self_->self()) {
      result_.emplace(
          error{errc::calling_self, "process " + detail::describe(*target) + " called itself"});
      return true;
    }
    target_ = *target;
    return false;
  }

  bool await_suspend(std::coroutine_handle<> h) {
    runtime& rt = self_->rt();
    const std::uint64_t ref = detail::make_ref(rt);
    request_->from = self_->self();
    request_->ref = ref;
    // Registered before sending: the reply may be pushed before deliver() returns.
    const auto deadline = timeout_ == std::chrono::milliseconds::max()
                              ? std::chrono::steady_clock::time_point::max()
                              : detail::now(rt) + timeout_;
    self_->await_reply(ref, this, h, deadline);
    const bool sent = target_ ? detail::deliver(rt, target_, std::move(request_))
                              : detail::deliver_to(rt, to_, std::move(request_));
    if (!sent) {
      self_->cancel_await();
      result_.emplace(target_ ? detail::noproc_error(target_) : detail::noproc_error(to_));
      return false;
    }
    return true;
  }

  result<R> await_resume() { return std::move(*result_); }

 private:
  void complete(detail::envelope_ptr e) override {
    result_.emplace(detail::result_of_reply<R>(*e));
  }

  dest to_;
  detail::envelope_ptr request_;
  std::chrono::milliseconds timeout_;
  process* self_ = nullptr;
  pid target_;
  std::optional<result<R>> result_;
};

}  // namespace otter
