// Internal: what travels through a mailbox. In the headers only because templates build
// envelopes; user code never touches it.
//
// An envelope is one allocation holding the routing header and, for a message, the value
// itself (value_envelope<T>). Signals (links, monitors, exits) share the same queue so that
// signals and messages from one sender stay in the order sent, as in Erlang.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "otter/dynamic.hpp"
#include "otter/error.hpp"
#include "otter/exit_reason.hpp"
#include "otter/message.hpp"
#include "otter/pid.hpp"

namespace otter::detail {

enum class sig : std::uint8_t {
  info,          // plain message (send), payload set
  cast,          // gen_server cast, payload set
  call,          // gen_server call, payload set, ref = call reference
  reply,         // reply to call `ref`, payload set
  reply_error,   // failed call `ref` (error_envelope)
  call_timeout,  // the caller's own timer for call `ref` fired
  link,          // `from` linked to us
  unlink,        // `from` unlinked from us
  link_exit,     // linked process `from` exited (reason_envelope)
  exit,          // otter::exit(to, reason) from `from` (reason_envelope)
  monitor,       // `from` monitors us under `ref`
  demonitor,     // `from` removed monitor `ref`
  down,          // monitor `ref` on `from` fired (reason_envelope)
  stop_request,  // synchronous stop: terminate with reason, then reply ok to `ref`
};

const char* to_string(sig s) noexcept;

struct envelope {
  envelope* next = nullptr;
  const message_type* type = nullptr;  // set when the envelope carries a message value
  pid from;
  std::uint64_t ref = 0;
  sig kind;

  explicit envelope(sig k) noexcept : kind(k) {}
  envelope(const envelope&) = delete;
  envelope& operator=(const envelope&) = delete;
  virtual ~envelope() = default;
  virtual void* payload() noexcept { return nullptr; }
  // The message's wire name ("" for signals).
  virtual std::string_view type_name() const noexcept { return type ? type->name : ""; }
  // Appends the msgpack form of the payload (nil for signals).
  virtual void pack_payload(msgpack::sbuffer& out) const {
    if (type != nullptr) {
      type->pack(const_cast<envelope*>(this)->payload(), out);
    } else {
      msgpack::packer<msgpack::sbuffer>(out).pack_nil();
    }
  }
};

using envelope_ptr = std::unique_ptr<envelope>;

template <class T>
struct value_envelope final : envelope {
  T value;
  template <class U>
  value_envelope(sig k, U&& v) : envelope(k), value(std::forward<U>(v)) {
    type = &type_of<T>();
  }
  void* payload() noexcept override { return &value; }
};

struct reason_envelope final : envelope {
  exit_reason reason;
  reason_envelope(sig k, exit_reason r) : envelope(k), reason(std::move(r)) {}
};

struct error_envelope final : envelope {
  error err;
  explicit error_envelope(error e) : envelope(sig::reply_error), err(std::move(e)) {}
};

// A signal (link, monitor, exit, down, ...) concerning process `from`, under reference `ref`.
inline envelope_ptr make_signal(sig k, const pid& from, std::uint64_t ref = 0) {
  auto e = std::make_unique<envelope>(k);
  e->from = from;
  e->ref = ref;
  return e;
}
inline envelope_ptr make_signal(sig k, const pid& from, std::uint64_t ref, exit_reason reason) {
  auto e = std::make_unique<reason_envelope>(k, std::move(reason));
  e->from = from;
  e->ref = ref;
  return e;
}

// The descriptor of messages that arrived from another node as msgpack.
const message_type& remote_message_type() noexcept;

// A message from another node: its wire type name and msgpack body, decoded on first use into
// the type the receiver asks for (a handler's parameter type, a call's reply type). A body that
// does not convert is no match, never a crash.
struct remote_envelope final : envelope {
 private:
  std::string owned_name_;  // when the name is not in `zone`

 public:
  std::string_view name;                // the wire type name: in owned_name_ or in `zone`
  msgpack::object body;                 // lives in `zone`
  std::shared_ptr<msgpack::zone> zone;  // shared by the envelopes of one frame

  remote_envelope(sig k, std::string type_name, msgpack::object b, std::shared_ptr<msgpack::zone> z)
      : envelope(k),
        owned_name_(std::move(type_name)),
        name(owned_name_),
        body(b),
        zone(std::move(z)) {
    type = &remote_message_type();
  }
  // `type_name` lies in `z` (a decoded frame's bytes): not copied (one allocation less for
  // each message from another node).
  struct name_in_zone {};
  remote_envelope(sig k, name_in_zone, std::string_view type_name, msgpack::object b,
                  std::shared_ptr<msgpack::zone> z)
      : envelope(k), name(type_name), body(b), zone(std::move(z)) {
    type = &remote_message_type();
  }
  ~remote_envelope() override {
    if (decoded_ != nullptr) destroy_(decoded_);
  }
  void* payload() noexcept override { return &body; }
  std::string_view type_name() const noexcept override { return name; }
  void pack_payload(msgpack::sbuffer& out) const override { msgpack::pack(out, body); }

  template <class T>
  T* decode() noexcept {
    if (decoded_type_ == &type_of<T>()) return static_cast<T*>(decoded_);
    constexpr std::string_view want = message_traits<T>::name;
    // Untyped bodies (from tools and other languages) may match any type that accepts them.
    if (!name.empty() && name != want && want != "dynamic") return nullptr;
    if constexpr (std::is_default_constructible_v<T>) {
      try {
        auto v = std::make_unique<T>();
        body.convert(*v);
        if constexpr (std::is_same_v<T, dynamic>) v->set_type_name(std::string(name));
        if (decoded_ != nullptr) destroy_(decoded_);
        decoded_ = v.release();
        decoded_type_ = &type_of<T>();
        destroy_ = [](void* p) { delete static_cast<T*>(p); };
        return static_cast<T*>(decoded_);
      } catch (const std::exception&) {
        return nullptr;
      }
    } else {
      return nullptr;
    }
  }

 private:
  const message_type* decoded_type_ = nullptr;
  void* decoded_ = nullptr;
  void (*destroy_)(void*) = nullptr;
};

template <class T>
envelope_ptr make_message(sig k, T&& value) {
  if constexpr (std::is_same_v<std::decay_t<T>, dynamic>) {
    // Untyped, locally as across nodes: the receiver takes the first of its types that fits.
    return std::make_unique<remote_envelope>(k, std::string(), value.get(), value.zone());
  } else {
    return std::make_unique<value_envelope<std::decay_t<T>>>(k, std::forward<T>(value));
  }
}

// The payload as a T, or nullptr when the envelope holds another type (or, from another node,
// a body that does not decode as T).
template <class T>
T* payload_as(envelope& e) noexcept {
  if (e.type == &type_of<T>()) return static_cast<T*>(e.payload());
  if (e.type == &remote_message_type()) return static_cast<remote_envelope&>(e).decode<T>();
  return nullptr;
}

// Whether `e` holds a T by its type, never by conversion (an untyped body from a tool is not a
// system message): a pointer compare locally, a name compare for a message from another node.
template <class T>
bool holds_message(const envelope& e) noexcept {
  if (e.type == &type_of<T>()) return true;
  return e.type == &remote_message_type() && e.type_name() == message_traits<T>::name;
}

}  // namespace otter::detail
