#include "otter/api.hpp"

#include <stdexcept>

#include "runtime_access.hpp"

namespace otter {

using detail::runtime_access;

namespace {
process& current_or_throw(const char* what) {
  process* p = detail::current_process();
  if (p == nullptr) throw std::logic_error(std::string("otter::") + what + " outside a process");
  return *p;
}
}  // namespace

pid self() noexcept {
  process* p = detail::current_process();
  return p ? p->self() : pid{};
}

runtime& this_runtime() {
  return current_or_throw("this_runtime").rt();
}

call_awaiter<void> stop(const dest& server, exit_reason reason, std::chrono::milliseconds timeout) {
  return call_awaiter<void>(
      server,
      std::make_unique<detail::reason_envelope>(detail::sig::stop_request, std::move(reason)),
      timeout);
}

namespace detail {

void link(process& me, const pid& other) {
  if (other == me.self()) return;
  runtime_access::rel(me).links.insert(other);
  if (!detail::deliver(me.rt(), other, detail::make_signal(sig::link, me.self()))) {
    // As in Erlang: linking to a process that does not exist gets an exit signal `noproc`.
    detail::deliver(me.rt(), me.self(),
                    detail::make_signal(sig::link_exit, other, 0, exit_reason::noproc()));
  }
}

void unlink(process& me, const pid& other) {
  runtime_access::rel(me).links.erase(other);
  detail::deliver(me.rt(), other, detail::make_signal(sig::unlink, me.self()));
}

monitor_ref monitor(process& me, const dest& target) {
  runtime& rt = me.rt();
  const monitor_ref ref = detail::make_ref(rt);
  auto resolved = rt.resolve(target);
  const pid who = resolved.value_or(pid{});
  runtime_access::rel(me).monitors.emplace(ref, who);
  bool sent = false;
  if (resolved) {
    sent = detail::deliver(rt, who, detail::make_signal(sig::monitor, me.self(), ref));
  }
  if (!sent) {
    detail::deliver(rt, me.self(), detail::make_signal(sig::down, who, ref, exit_reason::noproc()));
  }
  return ref;
}

void demonitor(process& me, monitor_ref ref) {
  auto& rel = runtime_access::rel(me);
  auto it = rel.monitors.find(ref);
  if (it == rel.monitors.end()) return;
  const pid target = it->second;
  rel.monitors.erase(it);
  detail::deliver(me.rt(), target, detail::make_signal(sig::demonitor, me.self(), ref));
}

}  // namespace detail

void link(const pid& other) {
  detail::link(current_or_throw("link"), other);
}
void unlink(const pid& other) {
  detail::unlink(current_or_throw("unlink"), other);
}
monitor_ref monitor(const dest& target) {
  return detail::monitor(current_or_throw("monitor"), target);
}
void demonitor(monitor_ref ref) {
  detail::demonitor(current_or_throw("demonitor"), ref);
}
void exit(const dest& target, exit_reason reason) {
  (void)current_or_throw("exit").rt().exit(target, std::move(reason));
}
void trap_exit(bool on) {
  current_or_throw("trap_exit").trap_exit(on);
}
bool cancel_timer(std::uint64_t timer) {
  return this_runtime().cancel_timer(timer);
}

}  // namespace otter
