// scoped_process: a process owned by an ordinary thread (main, a test, a tool), so code outside
// the runtime can call servers, receive messages, link and monitor. Its calls block the
// owning thread (unlike otter::call inside a handler). It traps exits, so a linked process's
// death arrives as an exit_msg. When it goes out of scope it exits `normal`.
//
// Not thread-safe: use it from the thread that created it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "otter/call.hpp"
#include "otter/envelope.hpp"
#include "otter/runtime.hpp"

namespace otter {

namespace detail {
class blocking_process;
}

class scoped_process {
 public:
  explicit scoped_process(runtime& rt);
  ~scoped_process();
  scoped_process(const scoped_process&) = delete;
  scoped_process& operator=(const scoped_process&) = delete;

  const pid& self() const noexcept;
  runtime& rt() const noexcept { return rt_; }

  template <class R, class T>
  result<R> call(const dest& to, T&& request,
                 std::chrono::milliseconds timeout = defaults::call_timeout) {
    result<R> out = error{errc::timeout, ""};
    call_envelope(
        to, detail::make_message(detail::sig::call, std::forward<T>(request)), timeout,
        [&](detail::envelope_ptr e) {
          if (e->kind != detail::sig::reply) {
            out = detail::error_of(*e);
          } else if constexpr (std::is_void_v<R>) {
            out = result<void>{};
          } else if (R* v = detail::payload_as<R>(*e)) {
            out = std::move(*v);
          } else {
            out = detail::reply_type_error(*e, message_traits<R>::name);
          }
        },
        [&](error err) { out = std::move(err); });
    return out;
  }

  template <class T>
  result<void> send(const dest& to, T&& msg) {
    auto e = detail::make_message(detail::sig::info, std::forward<T>(msg));
    e->from = self();
    return rt_.send_envelope(to, std::move(e));
  }
  template <class T>
  result<void> cast(const dest& to, T&& msg) {
    auto e = detail::make_message(detail::sig::cast, std::forward<T>(msg));
    e->from = self();
    return rt_.send_envelope(to, std::move(e));
  }

  // Synchronous stop of a server (OTP's gen_server:stop).
  result<void> stop(const dest& server, exit_reason reason = exit_reason::normal(),
                    std::chrono::milliseconds timeout = defaults::call_timeout);

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

  // Plumbing for tools: a call whose request envelope is built by hand (an untyped body, as
  // otterctl sends); the reply envelope as it came (its payload packs as msgpack).
  result<detail::envelope_ptr> call_raw(const dest& to, detail::envelope_ptr request,
                                        std::chrono::milliseconds timeout) {
    result<detail::envelope_ptr> out = error{errc::timeout, "no reply"};
    call_envelope(
        to, std::move(request), timeout,
        [&](detail::envelope_ptr e) {
          if (e->kind != detail::sig::reply) {
            out = detail::error_of(*e);
          } else {
            out = std::move(e);
          }
        },
        [&](error err) { out = std::move(err); });
    return out;
  }

 private:
  void call_envelope(const dest& to, detail::envelope_ptr request,
                     std::chrono::milliseconds timeout,
                     const std::function<void(detail::envelope_ptr)>& on_reply,
                     const std::function<void(error)>& on_error);
  void receive_envelope(const std::function<bool(detail::envelope&)>& match,
                        const std::function<void(detail::envelope&)>& take,
                        std::chrono::milliseconds timeout);

  runtime& rt_;
  detail::blocking_process* proc_;
};

}  // namespace otter
