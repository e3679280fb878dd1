// Internal: what travels through a mailbox. Public only because templates build envelopes;
// user code never touches it.
//
// An envelope is one allocation holding the routing header and, for a message, the value
// itself (value_envelope<T>). Signals (links, monitors, exits) share the same queue so that
// signals and messages from one sender stay in the order sent, as in Erlang.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

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

template <class T>
envelope_ptr make_message(sig k, T&& value) {
  return std::make_unique<value_envelope<std::decay_t<T>>>(k, std::forward<T>(value));
}

// The payload as a T, or nullptr when the envelope holds another type.
template <class T>
T* payload_as(envelope& e) noexcept {
  return e.type == &type_of<T>() ? static_cast<T*>(e.payload()) : nullptr;
}

}  // namespace otter::detail
