#include "otter/call.hpp"

#include "otter/log.hpp"

#include "otter/api.hpp"
#include "otter/gen_server.hpp"
#include "runtime_access.hpp"

namespace otter {

namespace detail {
const exit_reason* exiting_reason() noexcept;
}

namespace detail {

std::string describe(const pid& p) {
  return otter::to_string(p);
}

error noproc_error(const dest& d) {
  if (d.as_name_at() != nullptr) {
    return error{errc::noproc, "no process " + d.describe(), exit_reason::noproc()};
  }
  if (const std::string* name = d.as_name()) {
    return error{errc::noproc, "no process registered as '" + *name + "' on this node or globally",
                 exit_reason::noproc()};
  }
  return error{errc::noproc, "no process " + d.describe() + " (it exited or never existed)",
               exit_reason::noproc()};
}

error reply_type_error(const envelope& e, std::string_view expected) {
  return error{errc::badarg, "reply of type '" + std::string(e.type_name()) + "' where '" +
                                 std::string(expected) + "' was expected"};
}

error error_of(const envelope& e) {
  if (e.kind == sig::reply_error) return static_cast<const error_envelope&>(e).err;
  if (e.kind == sig::call_timeout) return error{errc::timeout, "no reply before the timeout"};
  return error{errc::badarg, std::string("unexpected ") + to_string(e.kind) + " for a call"};
}

dynamic to_dynamic(envelope& e) {
  if (dynamic* d = payload_as<dynamic>(e)) {
    dynamic out = *d;
    out.set_type_name(std::string(e.type_name()));
    return out;
  }
  // A local typed value: its msgpack form.
  msgpack::sbuffer buf;
  e.pack_payload(buf);
  auto handle = msgpack::unpack(buf.data(), buf.size());
  dynamic out(handle.get());
  out.set_type_name(std::string(e.type_name()));
  return out;
}

void log_no_timeout_handler(const process& p) {
  otter::detail::log().warn("{} {} set a timeout but has no handle_timeout(): ignored",
                            p.behaviour(), otter::to_string(p.self()));
}

error no_state_hook_error(const process& p, std::string_view what) {
  return error{errc::badarg, std::string(p.behaviour()) + " " + otter::to_string(p.self()) +
                                 " has no " + std::string(what) +
                                 " hook (gen_server.hpp: state, set_state, format_status)"};
}

void log_unhandled(const process& p, const envelope& e) {
  std::uint64_t more = 0;
  if (!runtime_access::unhandled_log(p).allow(more)) return;
  otter::detail::log().warn(
      "{} {} dropped a {} of unhandled type '{}'{}", p.behaviour(), otter::to_string(p.self()),
      to_string(e.kind), e.type_name(),
      more > 0 ? " (and " + std::to_string(more) + " more unhandled since the last such line)"
               : std::string());
}

}  // namespace detail

void from::send_reply(detail::envelope_ptr e) {
  e->ref = ref_;
  if (process* self = detail::current_process()) e->from = self->self();
  runtime* rt = std::exchange(rt_, nullptr);
  ref_ = 0;
  detail::deliver(*rt, caller_, std::move(e));
}

void from::reply_error(error err) {
  if (!valid()) return;
  send_reply(std::make_unique<detail::error_envelope>(std::move(err)));
}

void from::drop() noexcept {
  if (!valid()) return;
  try {
    const exit_reason* dying = detail::exiting_reason();
    process* self = detail::current_process();
    const std::string who = self ? otter::to_string(self->self()) : std::string("the server");
    if (dying != nullptr) {
      reply_error(error{errc::exited, "process " + who + " exited: " + dying->str(), *dying});
    } else {
      reply_error(error{errc::exited, "process " + who + " dropped the call without replying",
                        exit_reason("noreply")});
    }
  } catch (...) {
    rt_ = nullptr;
  }
}

}  // namespace otter
