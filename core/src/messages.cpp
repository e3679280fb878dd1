// Names of error codes and signals, and the remote message descriptor: what the wire codec
// needs from core without the runtime.
#include "otter/detail/envelope.hpp"
#include "otter/error.hpp"

namespace otter {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::timeout: return "timeout";
    case errc::noproc: return "noproc";
    case errc::nodedown: return "nodedown";
    case errc::exited: return "exited";
    case errc::calling_self: return "calling_self";
    case errc::badarg: return "badarg";
    case errc::already_registered: return "already_registered";
    case errc::not_registered: return "not_registered";
    case errc::init_failed: return "init_failed";
    case errc::no_process_context: return "no_process_context";
    case errc::shutting_down: return "shutting_down";
    case errc::mailbox_full: return "mailbox_full";
    case errc::not_found: return "not_found";
    case errc::already_started: return "already_started";
    case errc::already_present: return "already_present";
    case errc::running: return "running";
    case errc::restarting: return "restarting";
    case errc::max_children: return "max_children";
  }
  return "unknown_error";
}

namespace detail {

const char* to_string(sig s) noexcept {
  switch (s) {
    case sig::info: return "info";
    case sig::cast: return "cast";
    case sig::call: return "call";
    case sig::reply: return "reply";
    case sig::reply_error: return "reply_error";
    case sig::call_timeout: return "call_timeout";
    case sig::link: return "link";
    case sig::unlink: return "unlink";
    case sig::link_exit: return "link_exit";
    case sig::exit: return "exit";
    case sig::monitor: return "monitor";
    case sig::demonitor: return "demonitor";
    case sig::down: return "down";
    case sig::stop_request: return "stop_request";
  }
  return "unknown";
}

}  // namespace detail

}  // namespace otter

namespace otter::detail {

const message_type& remote_message_type() noexcept {
  static const message_type t{"<remote>", [](const void* value, msgpack::sbuffer& out) {
                                msgpack::pack(out, *static_cast<const msgpack::object*>(value));
                              }};
  return t;
}

}  // namespace otter::detail
