// gen_server: OTP's generic server behaviour.
//
//   struct get { MSGPACK_DEFINE(); };           OTTER_MESSAGE(get);
//   struct incr { std::int64_t by; MSGPACK_DEFINE(by); };  OTTER_MESSAGE(incr);
//
//   class counter : public otter::gen_server<counter> {
//    public:
//     using calls = otter::msgs<get>;     // the request types handle_call takes
//     using casts = otter::msgs<incr>;    // ... handle_cast
//     using infos = otter::msgs<>;        // ... handle_info (exit_msg and down need no entry)
//     std::int64_t handle_call(const get&, otter::from&) { return n_; }
//     void handle_cast(const incr& i) { n_ += i.by; }
//    private:
//     std::int64_t n_ = 0;
//   };
//   auto pid = rt.start<counter>();
//
// Callbacks (all optional but the handlers of listed types):
// - `init()`: void or result<void>; runs before start returns, after the start's name (if
//   any) is registered: a start whose name is taken fails with already_registered and never
//   runs init. An error (or a throw) makes start fail with init_failed, and the process exits
//   with the error's reason as any process does (terminate is not called): processes it
//   linked to get the exit signal, monitors fire, its name goes. Its starter is not linked yet
//   and gets only the error (as OTP's start_link since OTP 26).
// - `handle_call(const T&, from&)`: returns the reply (any message type), `otter::noreply`
//   (the handler moved `from` and replies later), void (replies ok_reply), or a task<R>.
// - `handle_cast(const T&)`, `handle_info(const T&)`: void or task<void>.
// - `terminate(const exit_reason&)`: when the server stops itself, crashes, is stopped with
//   otter::stop, or (trapping exits) its parent exits. Not when killed by an untrapped signal.
// - `handle_continue(const T&)`: void or task<void>; runs after a callback (init, a handler,
//   another handle_continue) called `continue_with(T{...})`, before any other message (OTP's
//   {continue, Arg}). A stop() in it ends the server with that reason (normal by default).
// - `handle_timeout()`: void or task<void>; runs when the callback before it called
//   `set_timeout(d)` and no message arrived within d (OTP's Timeout in a callback's return;
//   d = 0 fires at once unless messages are already queued, which cancel it). A server that
//   defines `std::chrono::milliseconds idle_timeout() const` gets that timeout after init and
//   every callback that set none (negative or milliseconds::max(): none). System messages
//   (sys_get_status, get_state, replace_state) do not cancel it.
// - `state()` const, `set_state(S)`, `format_status()` const: what otter::get_state and
//   otter::replace_state (sys.hpp) read and write, and what the node tool shows (`otterctl
//   state`: format_status() if defined, to redact or summarise, else state()). state() returns
//   any msgpack-serialisable S; format_status() a string or any such value.
// - `handle_info(const otter::response_ready&)`: a reply to one of its send_request requests
//   has arrived (request.hpp: check_response).
// A handler that throws ends the server with the exception's message as the reason. A call
// of a type not listed fails with badarg for the caller; the server keeps running.
//
// Checked at compile time: every listed type has its handler; a handler whose message type is
// not listed is an error (it would never run); a request that declares its reply_type
// (message.hpp) is answered with that type. (A handler that is a template, or two unlisted
// handlers of one kind at once, escape the unlisted check.)
#pragma once

#include <any>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "otter/api.hpp"
#include "otter/call.hpp"
#include "otter/process.hpp"
#include "otter/request.hpp"
#include "otter/sys.hpp"
#include "otter/task.hpp"

namespace otter {

template <class... Ts>
struct msgs {};

namespace detail {
void log_unhandled(const process& p, const envelope& e);
void log_no_timeout_handler(const process& p);
error no_state_hook_error(const process& p, std::string_view what);

// A server's timeout (set_timeout, idle_timeout), as the message its timer delivers.
struct gen_timeout {
  std::uint64_t generation = 0;
  MSGPACK_DEFINE(generation);
};
OTTER_MESSAGE_AS(gen_timeout, "otter.gen_timeout");

template <class S>
auto calls_of() {
  if constexpr (requires { typename S::calls; })
    return typename S::calls{};
  else
    return msgs<>{};
}
template <class S>
auto casts_of() {
  if constexpr (requires { typename S::casts; })
    return typename S::casts{};
  else
    return msgs<>{};
}
template <class S>
auto infos_of() {
  if constexpr (requires { typename S::infos; })
    return typename S::infos{};
  else
    return msgs<>{};
}

// Converts to any type not in the list (nor a built-in message): a handler overload that accepts
// it takes a type the server did not list.
template <class List>
struct unlisted_probe;
template <class... Ts>
struct unlisted_probe<msgs<Ts...>> {
  template <class T>
  requires(!(std::is_same_v<std::remove_cv_t<T>, Ts> || ...) &&
           !std::is_same_v<std::remove_cv_t<T>, exit_msg> &&
           !std::is_same_v<std::remove_cv_t<T>, down> &&
           !std::is_same_v<std::remove_cv_t<T>, from> &&
           !std::is_same_v<std::remove_cv_t<T>, response_ready>)
  operator T&() const;
};
// Converts to nothing: only a handler template accepts it.
struct template_probe {};

template <class S, class List>
constexpr bool has_unlisted_call = requires(S& s, from& f) {
  s.handle_call(unlisted_probe<List>{}, f);
}
&&!requires(S & s, from& f) {
  s.handle_call(template_probe{}, f);
};
template <class S, class List>
constexpr bool has_unlisted_cast = requires(S& s) {
  s.handle_cast(unlisted_probe<List>{});
}
&&!requires(S & s) {
  s.handle_cast(template_probe{});
};
template <class S, class List>
constexpr bool has_unlisted_info = requires(S& s) {
  s.handle_info(unlisted_probe<List>{});
}
&&!requires(S & s) {
  s.handle_info(template_probe{});
};

template <class>
struct task_value {
  using type = void;
};
template <class T>
struct task_value<task<T>> {
  using type = T;
};

// What a handle_call for request T may return when T declares its reply_type.
template <class T, class R>
constexpr bool answers_with_reply_type() {
  using Reply = typename T::reply_type;
  using V = std::conditional_t<is_task<R>::value, typename task_value<R>::type, R>;
  return std::is_same_v<V, Reply> || std::is_same_v<V, noreply_t> ||
         (std::is_void_v<V> && std::is_same_v<Reply, ok_reply>);
}

template <class R>
task<void> reply_when_done(task<R> inner, std::unique_ptr<from> f) {
  if constexpr (std::is_same_v<R, noreply_t>) {
    co_await std::move(inner);
  } else if constexpr (std::is_void_v<R>) {
    co_await std::move(inner);
    f->reply(ok_reply{});
  } else {
    f->reply(co_await std::move(inner));
  }
}
}  // namespace detail

template <class Derived>
class gen_server : public process {
 public:
  std::string_view behaviour() const noexcept override { return "gen_server"; }

 protected:
  // Ends this server with `reason` after the current handler returns (OTP's {stop, ...}).
  void stop(exit_reason reason = exit_reason::normal()) { stop_self(std::move(reason)); }

  // After this callback returns, handle_continue(arg) runs before any other message (OTP's
  // {continue, Arg}). A second call in one callback replaces the first.
  template <class T>
  void continue_with(T arg) {
    static_assert(
        requires(Derived & d, T & a) { d.handle_continue(a); },
        "gen_server: continue_with(T) needs a handle_continue(const T&) for that T");
    auto held = std::make_shared<T>(std::move(arg));
    extras().cont = [held](Derived& d) {
      using R = decltype(d.handle_continue(*held));
      if constexpr (detail::is_task<R>::value) {
        d.run_task([](std::shared_ptr<T> h,
                      Derived& s) -> task<void> { co_await s.handle_continue(*h); }(held, d),
                   nullptr);
      } else {
        d.handle_continue(*held);
      }
    };
    schedule_continue();
  }

  // After this callback returns, handle_timeout() runs unless a message arrives within `d`
  // (OTP's Timeout); applies to this callback's return only.
  void set_timeout(std::chrono::milliseconds d) {
    auto& x = extras();
    x.next_timeout = d;
    x.has_next_timeout = true;
  }

 private:
  Derived& derived() noexcept { return static_cast<Derived&>(*this); }

  result<void> init_process() override {
    if constexpr (requires(Derived & d) { d.init(); }) {
      using R = decltype(derived().init());
      if constexpr (std::is_void_v<R>) {
        derived().init();
      } else {
        if (auto r = derived().init(); !r) return r;
      }
    }
    end_callback();
    return ok();
  }

  void run_continue() override {
    begin_callback();
    std::function<void(Derived&)> f;
    if (x_) f = std::exchange(x_->cont, nullptr);
    if (f) f(derived());
    end_callback();
  }

  bool wants_response_messages() const noexcept override {
    return requires(Derived & d, const response_ready& r) {
      d.handle_info(r);
    };
  }

  // ---- timeouts ----
  void begin_callback() {
    if (!x_) return;  // no timeout was ever armed
    if (x_->timer != 0) {
      (void)otter::cancel_timer(x_->timer);
      x_->timer = 0;
    }
    ++x_->generation;
    x_->has_next_timeout = false;
  }
  void end_callback() {
    if (exiting() || (x_ && x_->cont)) return;  // a continue runs first; its own return decides
    std::chrono::milliseconds d{-1};
    if (x_ && x_->has_next_timeout) {
      d = x_->next_timeout;
      x_->has_next_timeout = false;
    } else if constexpr (requires(const Derived& c) { c.idle_timeout(); }) {
      d = static_cast<const Derived&>(*this).idle_timeout();
    }
    if (d.count() < 0 || d == std::chrono::milliseconds::max()) return;
    auto& x = extras();
    x.timer = otter::send_after(d, self(), detail::gen_timeout{x.generation});
  }
  void on_timeout(const detail::gen_timeout& t) {
    if (!x_ || t.generation != x_->generation || x_->timer == 0) return;  // cancelled meanwhile
    x_->timer = 0;
    begin_callback();
    if constexpr (requires(Derived & d) { d.handle_timeout(); }) {
      using R = decltype(derived().handle_timeout());
      if constexpr (detail::is_task<R>::value) {
        run_task(derived().handle_timeout(), nullptr);
      } else {
        derived().handle_timeout();
      }
    } else {
      detail::log_no_timeout_handler(*this);
    }
    end_callback();
  }

  // ---- system messages: state ----
  void answer_get_state(detail::envelope& e) {
    from f(&rt(), e.from, e.ref);
    const auto* req = detail::payload_as<sys_get_state>(e);
    if (req != nullptr && req->formatted) {
      if constexpr (requires(const Derived& c) { c.format_status(); }) {
        f.reply(detail::to_sys_state(static_cast<const Derived&>(*this).format_status()));
        return;
      }
    }
    if constexpr (requires(const Derived& c) { c.state(); }) {
      f.reply(detail::to_sys_state(static_cast<const Derived&>(*this).state()));
    } else {
      f.reply_error(detail::no_state_hook_error(*this, "state() const"));
    }
  }
  void answer_replace_state(detail::envelope& e) {
    from f(&rt(), e.from, e.ref);
    if constexpr (requires(Derived & d) { d.set_state(std::declval<const Derived&>().state()); }) {
      using S = std::decay_t<decltype(static_cast<const Derived&>(*this).state())>;
      auto* req = detail::payload_as<sys_replace_state>(e);
      if (req == nullptr || !req->fn) {
        f.reply_error(error{errc::badarg,
                            "replace_state carries a function: it works on the "
                            "server's own node only"});
        return;
      }
      std::any current = S(static_cast<const Derived&>(*this).state());
      if (auto r = req->fn->apply(current); !r) {
        f.reply_error(r.err());  // the state is unchanged
        return;
      }
      derived().set_state(std::move(*std::any_cast<S>(&current)));
      f.reply(detail::to_sys_state(static_cast<const Derived&>(*this).state()));
    } else {
      f.reply_error(detail::no_state_hook_error(*this, "state() const and set_state(S)"));
    }
  }

  // What continue and timeouts keep between callbacks, allocated by the first server that uses
  // them (most servers never do, and a server's size is the per-process memory figure).
  struct otp_extras {
    std::function<void(Derived&)> cont;  // continue_with's pending handle_continue
    std::uint64_t generation = 0;        // a gen_timeout of an older generation is stale
    std::uint64_t timer = 0;             // the armed timeout's timer, 0 when none
    std::chrono::milliseconds next_timeout{0};
    bool has_next_timeout = false;  // set_timeout was called in this callback
  };
  otp_extras& extras() {
    if (!x_) x_ = std::make_unique<otp_extras>();
    return *x_;
  }
  std::unique_ptr<otp_extras> x_;

  void on_terminate(const exit_reason& reason) override {
    if constexpr (requires(Derived & d) { d.terminate(reason); }) derived().terminate(reason);
  }

  void handle_envelope(detail::envelope_ptr e) override {
    static_assert(!detail::has_unlisted_call<Derived, decltype(detail::calls_of<Derived>())>,
                  "gen_server: a handle_call overload takes a request type that is not listed in "
                  "`using calls = otter::msgs<...>`: list it (or remove the handler)");
    static_assert(!detail::has_unlisted_cast<Derived, decltype(detail::casts_of<Derived>())>,
                  "gen_server: a handle_cast overload takes a message type that is not listed in "
                  "`using casts = otter::msgs<...>`: list it (or remove the handler)");
    static_assert(!detail::has_unlisted_info<Derived, decltype(detail::infos_of<Derived>())>,
                  "gen_server: a handle_info overload takes a message type that is not listed in "
                  "`using infos = otter::msgs<...>`: list it (or remove the handler)");
    // System and internal messages first: they are not the server's messages (no timeout
    // cancelled, no handler run).
    if (e->kind == detail::sig::call) {
      if (detail::holds_message<sys_get_state>(*e)) return answer_get_state(*e);
      if (detail::holds_message<sys_replace_state>(*e)) return answer_replace_state(*e);
    } else if (e->kind == detail::sig::info) {
      if (detail::holds_message<detail::gen_timeout>(*e)) {
        if (auto* t = detail::payload_as<detail::gen_timeout>(*e)) on_timeout(*t);
        return;
      }
      if (auto* r = detail::payload_as<response_ready>(*e);
          r && !detail::request_ops::arrived(*this, r->ref)) {
        return;  // taken meanwhile by receive_response: nothing to tell
      }
    }
    begin_callback();
    dispatch_user(e);
    end_callback();
  }

  void dispatch_user(detail::envelope_ptr& e) {
    switch (e->kind) {
      case detail::sig::call:
        if (!dispatch_call(e, detail::calls_of<Derived>())) {
          from(&rt(), e->from, e->ref)
              .reply_error(error{errc::badarg, std::string("server ") + detail::describe(self()) +
                                                   " does not handle calls of type '" +
                                                   std::string(e->type_name()) + "'"});
        }
        break;
      case detail::sig::cast:
        if (!dispatch_async<true>(e, detail::casts_of<Derived>())) detail::log_unhandled(*this, *e);
        break;
      default:
        if (!dispatch_async<false>(e, detail::infos_of<Derived>()) && !builtin_info(e)) {
          detail::log_unhandled(*this, *e);
        }
        break;
    }
  }

  template <class... Ts>
  bool dispatch_call(detail::envelope_ptr& e, msgs<Ts...>) {
    return (try_call<Ts>(e) || ...);
  }

  template <class T>
  bool try_call(detail::envelope_ptr& e) {
    static_assert(
        requires(Derived & d, T & m, from & f) { d.handle_call(m, f); },
        "gen_server: a type listed in `calls` has no handle_call(const T&, otter::from&)");
    T* m = detail::payload_as<T>(*e);
    if (m == nullptr) return false;
    using R = decltype(derived().handle_call(*m, std::declval<from&>()));
    if constexpr (declares_reply<T>) {
      static_assert(detail::answers_with_reply_type<T, R>(),
                    "gen_server: this handle_call returns another type than its request's "
                    "reply_type (return reply_type, task<reply_type>, or otter::noreply)");
    }
    if constexpr (detail::is_task<R>::value) {
      // The task may outlive this frame: `from` and the message live as long as it does.
      auto f = std::make_unique<from>(&rt(), e->from, e->ref);
      auto t = derived().handle_call(*m, *f);
      run_task(detail::reply_when_done(std::move(t), std::move(f)), std::move(e));
    } else {
      from f(&rt(), e->from, e->ref);
      try {
        if constexpr (std::is_same_v<R, noreply_t>) {
          derived().handle_call(*m, f);
        } else if constexpr (std::is_void_v<R>) {
          derived().handle_call(*m, f);
          f.reply(ok_reply{});
        } else {
          f.reply(derived().handle_call(*m, f));
        }
      } catch (...) {
        // The server ends with this exception; the caller learns the reason once it has.
        keep_until_exit(std::move(f));
        throw;
      }
    }
    return true;
  }

  template <bool Cast, class... Ts>
  bool dispatch_async(detail::envelope_ptr& e, msgs<Ts...>) {
    return (try_async<Cast, Ts>(e) || ...);
  }

  template <bool Cast, class T>
  bool try_async(detail::envelope_ptr& e) {
    if constexpr (Cast) {
      static_assert(
          requires(Derived & d, T & m) { d.handle_cast(m); },
          "gen_server: a type listed in `casts` has no handle_cast(const T&)");
    } else {
      static_assert(
          requires(Derived & d, T & m) { d.handle_info(m); },
          "gen_server: a type listed in `infos` has no handle_info(const T&)");
    }
    T* m = detail::payload_as<T>(*e);
    if (m == nullptr) return false;
    auto invoke = [&] {
      if constexpr (Cast)
        return derived().handle_cast(*m);
      else
        return derived().handle_info(*m);
    };
    using R = decltype(invoke());
    if constexpr (detail::is_task<R>::value) {
      run_task(invoke(), std::move(e));
    } else {
      invoke();
    }
    return true;
  }

  // exit_msg and down reach handle_info when the server defines an overload for them.
  bool builtin_info(detail::envelope_ptr& e) {
    if (auto* x = detail::payload_as<exit_msg>(*e)) {
      if constexpr (requires(Derived & d) { d.handle_info(*x); }) {
        return try_async<false, exit_msg>(e);
      } else {
        // OTP: a server trapping exits stops when its parent exits.
        if (x->from == parent()) stop(x->reason);
        return true;
      }
    }
    if (auto* d = detail::payload_as<down>(*e)) {
      if constexpr (requires(Derived & s) { s.handle_info(*d); }) return try_async<false, down>(e);
    }
    if (auto* r = detail::payload_as<response_ready>(*e)) {
      if constexpr (requires(Derived & s) { s.handle_info(*r); }) {
        return try_async<false, response_ready>(e);
      }
      return true;
    }
    return false;
  }
};

}  // namespace otter
