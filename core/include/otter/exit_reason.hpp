// Why a process ended, as in Erlang: `normal`, `shutdown`, `kill`/`killed`, `noproc`,
// `noconnection`, or any user reason. Reasons are short strings so that they print, compare
// and travel over the wire unchanged; `shutdown:<detail>` is OTP's {shutdown, Detail}.
//
// Semantics (same as Erlang): a `normal` exit signal does not kill a linked process; `kill`
// sent with otter::exit is untrappable and the victim exits with `killed`.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <msgpack.hpp>

namespace otter {

class exit_reason {
 public:
  exit_reason() : text_("normal") {}
  exit_reason(std::string text) : text_(std::move(text)) {}  // NOLINT: implicit by design
  exit_reason(const char* text) : text_(text) {}             // NOLINT: implicit by design

  static exit_reason normal() { return exit_reason("normal"); }
  static exit_reason shutdown() { return exit_reason("shutdown"); }
  static exit_reason kill() { return exit_reason("kill"); }
  static exit_reason killed() { return exit_reason("killed"); }
  static exit_reason noproc() { return exit_reason("noproc"); }
  static exit_reason noconnection() { return exit_reason("noconnection"); }

  const std::string& str() const noexcept { return text_; }
  bool is_normal() const noexcept { return text_ == "normal"; }
  bool is_kill() const noexcept { return text_ == "kill"; }
  // normal, shutdown and shutdown:<detail>: the exits a transient child is not restarted for.
  bool is_shutdown() const noexcept {
    return text_ == "shutdown" || std::string_view(text_).starts_with("shutdown:");
  }

  friend bool operator==(const exit_reason&, const exit_reason&) = default;
  friend std::ostream& operator<<(std::ostream& os, const exit_reason& r) { return os << r.text_; }

  MSGPACK_DEFINE(text_);

 private:
  std::string text_;
};

}  // namespace otter
