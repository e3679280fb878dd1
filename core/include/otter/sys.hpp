// OTP's sys:get_state and sys:replace_state for gen_servers (gen_server.hpp: the hooks).
//
//   auto n = co_await otter::get_state<std::int64_t>("counter");          // result<int64_t>
//   auto m = co_await otter::replace_state<std::int64_t>("counter",
//                                                        [](std::int64_t v) { return v + 1; });
//
// Both are system messages: the server answers them between two of its own messages, and they
// do not count as messages for its idle timeout. get_state works across nodes (the state
// travels as msgpack); replace_state carries a function, so it works on the caller's own node
// only (badarg otherwise). A replacement that throws leaves the state unchanged and fails with
// badarg naming the exception (OTP's callback_failed). A server without the hooks answers
// badarg.
#pragma once

#include <any>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <msgpack.hpp>

#include "otter/api.hpp"
#include "otter/call.hpp"
#include "otter/dynamic.hpp"
#include "otter/introspection.hpp"
#include "otter/message.hpp"
#include "otter/task.hpp"

namespace otter {

namespace detail {
// A replacement of a server's state, applied on the server's thread to a copy of its state.
struct state_replacer {
  virtual ~state_replacer() = default;
  virtual result<void> apply(std::any& state) = 0;
};

template <class S>
struct typed_replacer final : state_replacer {
  explicit typed_replacer(std::function<S(S)> f) : fn(std::move(f)) {}
  result<void> apply(std::any& state) override {
    S* current = std::any_cast<S>(&state);
    if (current == nullptr) {
      return error{errc::badarg, "replace_state: the server's state is not of the type asked for"};
    }
    try {
      *current = fn(std::move(*current));
    } catch (const std::exception& e) {
      return error{errc::badarg, std::string("replace_state: the replacement threw: ") + e.what()};
    } catch (...) {
      return error{errc::badarg, "replace_state: the replacement threw"};
    }
    return ok();
  }
  std::function<S(S)> fn;
};

// What a state hook returned, as a sys_state: text for strings, msgpack for anything else.
template <class V>
sys_state to_sys_state(const V& v) {
  sys_state s;
  if constexpr (std::is_convertible_v<const V&, std::string_view>) {
    s.is_text = true;
    s.text = std::string(std::string_view(v));
  } else {
    s.value = dynamic::of(v);
  }
  return s;
}
}  // namespace detail

// The request replace_state sends: a function, so it never crosses nodes (packed as nil).
struct sys_replace_state {
  std::shared_ptr<detail::state_replacer> fn;
  template <class Packer>
  void msgpack_pack(Packer& pk) const {
    pk.pack_nil();
  }
  void msgpack_unpack(const msgpack::object&) {}
};
OTTER_MESSAGE_AS(sys_replace_state, "sys_replace_state");

// The server's state as its state() hook returns it, converted to T (dynamic: as sent).
template <class T>
task<result<T>> get_state(dest server, std::chrono::milliseconds timeout = defaults::call_timeout) {
  auto r = co_await call<sys_state>(server, sys_get_state{false}, timeout);
  if (!r) co_return r.err();
  if constexpr (std::is_same_v<T, std::string>) {
    if (r->is_text) co_return r->text;
  }
  if (r->is_text) {
    co_return error{errc::badarg,
                    "the state of " + server.describe() + " is text: ask for std::string"};
  }
  if constexpr (std::is_same_v<T, dynamic>) {
    co_return r->value;
  } else {
    try {
      co_return r->value.template as<T>();
    } catch (const std::exception& e) {
      co_return error{errc::badarg, "the state of " + server.describe() +
                                        " does not convert to the type asked for: " + e.what()};
    }
  }
}

// Replaces the state of a server on this node with fn(state); returns the new state.
template <class S, class F>
task<result<S>> replace_state(dest server, F fn,
                              std::chrono::milliseconds timeout = defaults::call_timeout) {
  if (auto* at = server.as_name_at(); at != nullptr && at->node != this_runtime().node_name()) {
    co_return error{errc::badarg,
                    "replace_state carries a function: it works on this node only, "
                    "not on " +
                        server.describe()};
  }
  if (auto p = this_runtime().resolve(server); p && !this_runtime().is_local(*p)) {
    co_return error{errc::badarg,
                    "replace_state carries a function: it works on this node only, "
                    "not on " +
                        server.describe()};
  }
  sys_replace_state m;
  m.fn = std::make_shared<detail::typed_replacer<S>>(std::function<S(S)>(std::move(fn)));
  auto r = co_await call<sys_state>(server, std::move(m), timeout);
  if (!r) co_return r.err();
  try {
    co_return r->value.template as<S>();
  } catch (const std::exception& e) {
    co_return error{errc::badarg, std::string("the new state does not convert back: ") + e.what()};
  }
}

}  // namespace otter
