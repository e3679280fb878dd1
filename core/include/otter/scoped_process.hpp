// scoped_process: a process owned by an ordinary thread (main, a test, a tool), so code outside
// the runtime can call servers, receive messages, link and monitor. It traps exits, so a
// linked process's death arrives as an exit_msg. When it goes out of scope it exits `normal`.
//
// Everything a handler would co_await, it awaits with await(), blocking its thread until the
// result is there; there is one form of each operation, the awaitable:
//
//   otter::scoped_process me(node->rt());
//   auto v = me.await(otter::call<value>("kv", get{"a"}));          // result<value>
//   me.await(otter::register_global("kv", *pid));                   // result<void>
//   me.await(otter::supervisor::which_children(sup));               // result<vector<...>>
//   me.await(otter::stop(server));                                  // result<void>
//
// Lifetime: it may outlive its runtime's shutdown (node::shutdown) and even the runtime object.
// It then is a dead handle: await() gives `shutting_down`, sends fail, receive() gives
// nothing, and destroying it is harmless.
//
// Not thread-safe: use it from the thread that created it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "otter/call.hpp"
#include "otter/detail/envelope.hpp"
#include "otter/runtime.hpp"
#include "otter/task.hpp"

namespace otter {

namespace detail {
class blocking_process;

template <class A>
using await_result_t = decltype(std::declval<A&>().await_resume());

template <class>
struct is_result : std::false_type {};
template <class T>
struct is_result<result<T>> : std::true_type {};
}  // namespace detail

class scoped_process {
 public:
  explicit scoped_process(runtime& rt);
  ~scoped_process();
  scoped_process(const scoped_process&) = delete;
  scoped_process& operator=(const scoped_process&) = delete;

  // Its Pid (nil for a dead handle made on a stopped runtime).
  const pid& self() const noexcept;
  // The runtime it was made on; valid while that object lives.
  runtime& rt() const noexcept { return *rt_; }
  // False once its runtime has shut down, or it was killed.
  bool alive() const noexcept;

  // Runs `awaitable` (otter::call, otter::stop, register_global, a supervisor operation, any
  // otter::task) to completion as this process, blocking the thread meanwhile; returns what
  // `co_await awaitable` would. Messages that arrive meanwhile stay queued for receive(). A
  // dead handle, or one killed while waiting, gives `shutting_down` / `exited` when the result
  // type is a result<...> (and throws std::logic_error otherwise).
  template <class A>
  detail::await_result_t<A> await(A&& awaitable) {
    using R = detail::await_result_t<A>;
    if constexpr (std::is_void_v<R>) {
      bool done = false;
      auto t = [](std::decay_t<A> a, bool* out) -> task<void> {
        co_await std::move(a);
        *out = true;
      }(std::forward<A>(awaitable), &done);
      if (auto e = drive(t); !e.ok()) throw std::logic_error(e.err().message);
      return;
    } else {
      std::optional<R> out;
      auto t = [](std::decay_t<A> a, std::optional<R>* o) -> task<void> {
        o->emplace(co_await std::move(a));
      }(std::forward<A>(awaitable), &out);
      if (auto e = drive(t); !e.ok()) {
        if constexpr (detail::is_result<R>::value) {
          return R(e.err());
        } else {
          throw std::logic_error(e.err().message);
        }
      }
      return std::move(*out);
    }
  }

  template <class T>
  result<void> send(const dest& to, T&& msg) {
    return send_envelope(to, detail::make_message(detail::sig::info, std::forward<T>(msg)));
  }
  template <class T>
  result<void> cast(const dest& to, T&& msg) {
    return send_envelope(to, detail::make_message(detail::sig::cast, std::forward<T>(msg)));
  }

  void link(const pid& other);
  void unlink(const pid& other);
  monitor_ref monitor(const dest& target);
  void demonitor(monitor_ref ref);
  void exit(const dest& target, exit_reason reason);

  // The oldest queued message of type T (info or cast, including exit_msg and down), waiting
  // up to `timeout`; messages of other types stay queued.
  template <class T>
  std::optional<T> receive(std::chrono::milliseconds timeout = defaults::call_timeout) {
    std::optional<T> out;
    receive_envelope(
        [](detail::envelope& e) { return detail::payload_as<T>(e) != nullptr; },
        [&](detail::envelope& e) { out.emplace(std::move(*detail::payload_as<T>(e))); }, timeout);
    return out;
  }

 private:
  // Runs `t` to completion; rethrows what it threw. An error when it could not run or finish.
  result<void> drive(task<void>& t);
  result<void> send_envelope(const dest& to, detail::envelope_ptr e);
  void receive_envelope(const std::function<bool(detail::envelope&)>& match,
                        const std::function<void(detail::envelope&)>& take,
                        std::chrono::milliseconds timeout);
  bool usable() const noexcept;

  runtime* rt_;
  std::shared_ptr<detail::runtime_state> state_;  // outlives the runtime object if need be
  detail::blocking_process* proc_ = nullptr;      // null: made on a stopped runtime
};

}  // namespace otter
