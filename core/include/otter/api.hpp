// The operations a process uses on others, by Pid or by name, with Erlang's names.
// They act on behalf of the calling process (detail::current_process()); outside a process,
// use runtime's or scoped_process's members instead.
//
// Sends never block and never fail loudly: a message to a dead Pid is dropped, as in Erlang
// (the returned result says noproc when that is known at once, for whoever wants to know).
#pragma once

#include <chrono>
#include <utility>

#include "otter/call.hpp"
#include "otter/detail/envelope.hpp"
#include "otter/runtime.hpp"

namespace otter {

// The calling process's Pid (nil outside a process).
pid self() noexcept;
// The runtime of the calling process; throws std::logic_error outside a process.
runtime& this_runtime();

template <class T>
result<void> send(const dest& to, T&& msg) {
  auto e = detail::make_message(detail::sig::info, std::forward<T>(msg));
  e->from = self();
  return detail::send_envelope(this_runtime(), to, std::move(e));
}

template <class T>
result<void> cast(const dest& to, T&& msg) {
  auto e = detail::make_message(detail::sig::cast, std::forward<T>(msg));
  e->from = self();
  return detail::send_envelope(this_runtime(), to, std::move(e));
}

// co_await otter::call<Reply>(to, request [, timeout]) -> result<Reply>. Reply = void takes
// any reply; Reply = dynamic takes any reply as an untyped value (dynamic::type_name says its
// type). A request that declares its reply_type (message.hpp) may leave Reply out, and must
// not name another.
template <class R, class T>
call_awaiter<R> call(const dest& to, T&& request,
                     std::chrono::milliseconds timeout = defaults::call_timeout) {
  using Req = std::decay_t<T>;
  if constexpr (declares_reply<Req>) {
    static_assert(std::is_same_v<R, typename Req::reply_type> || std::is_void_v<R> ||
                      std::is_same_v<R, dynamic>,
                  "otter::call<R>: R is not the reply_type the request declares (leave R out to "
                  "use the declared one)");
  }
  return call_awaiter<R>(to, detail::make_message(detail::sig::call, std::forward<T>(request)),
                         timeout);
}
template <class T>
requires declares_reply<std::decay_t<T>> call_awaiter<typename std::decay_t<T>::reply_type> call(
    const dest& to, T&& request, std::chrono::milliseconds timeout = defaults::call_timeout) {
  return call<typename std::decay_t<T>::reply_type>(to, std::forward<T>(request), timeout);
}

// A call with an untyped request (what otterctl and foreign clients send): the server takes
// the first of its request types the body converts to; the reply comes back untyped too.
//   auto r = co_await otter::call_untyped("kv", otter::dynamic::of(std::vector<std::string>{"get",
//   "a"}));
inline call_awaiter<dynamic> call_untyped(
    const dest& to, const dynamic& request,
    std::chrono::milliseconds timeout = defaults::call_timeout) {
  return call<dynamic>(to, request, timeout);
}

// co_await otter::stop(server [, reason, timeout]): the server runs terminate and exits with
// `reason`; the result arrives once it has (OTP's gen_server:stop, whose timeout is also
// infinity by default).
call_awaiter<void> stop(const dest& server, exit_reason reason = exit_reason::normal(),
                        std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

// Links the calling process with `other`; if `other` does not exist the caller gets an exit
// signal `noproc` (trapped: an exit_msg).
void link(const pid& other);
void unlink(const pid& other);
// Monitors `target`; a `down` message arrives when it exits (`noproc` at once if it does not
// exist). demonitor also discards a `down` not yet handled.
monitor_ref monitor(const dest& target);
void demonitor(monitor_ref ref);
// Sends an exit signal to `target` (`kill` is untrappable).
void exit(const dest& target, exit_reason reason);
void trap_exit(bool on);

// Delivers `msg` to `to` (as an info message) after `delay`; cancel with cancel_timer.
template <class T>
std::uint64_t send_after(std::chrono::milliseconds delay, const pid& to, T&& msg) {
  auto e = detail::make_message(detail::sig::info, std::forward<T>(msg));
  e->from = self();
  return detail::start_timer(this_runtime(), delay, to, std::move(e));
}
bool cancel_timer(std::uint64_t timer);

template <class S, class... Args>
result<pid> start(Args&&... args) {
  return this_runtime().start<S>(std::forward<Args>(args)...);
}
template <class S, class... Args>
result<pid> start_link(Args&&... args) {
  start_options o;
  o.link = true;
  return this_runtime().start_with<S>(o, std::forward<Args>(args)...);
}

}  // namespace otter
