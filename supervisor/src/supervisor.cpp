// The public entry points of supervisor.hpp, dynamic_supervisor.hpp and child_spec.hpp.
#include "otter/supervisor.hpp"

#include <mutex>

#include "otter/scoped_process.hpp"

#include "otter/dynamic_supervisor.hpp"
#include "supervisor_process.hpp"

namespace otter {

std::string_view to_string(restart_type t) noexcept {
  switch (t) {
    case restart_type::permanent: return "permanent";
    case restart_type::transient: return "transient";
    case restart_type::temporary: return "temporary";
  }
  return "unknown";
}

std::string_view to_string(child_type t) noexcept {
  switch (t) {
    case child_type::worker: return "worker";
    case child_type::supervisor: return "supervisor";
  }
  return "unknown";
}

std::string_view to_string(child_status s) noexcept {
  switch (s) {
    case child_status::running: return "running";
    case child_status::restarting: return "restarting";
    case child_status::undefined: return "undefined";
  }
  return "unknown";
}

std::string_view to_string(restart_strategy s) noexcept {
  switch (s) {
    case restart_strategy::one_for_one: return "one_for_one";
    case restart_strategy::one_for_all: return "one_for_all";
    case restart_strategy::rest_for_one: return "rest_for_one";
  }
  return "unknown";
}

std::string shutdown_policy::to_string() const {
  if (is_brutal_kill()) return "brutal_kill";
  if (is_infinity()) return "infinity";
  return std::to_string(ms_) + " ms";
}

namespace {

result<void> validate(const supervisor_flags& flags, const std::vector<child_spec>& children) {
  return detail::supervisor_process::validate(flags.max_restarts, flags.max_seconds, children);
}
result<void> validate(const dynamic_supervisor_options& o) {
  return detail::supervisor_process::validate(o.max_restarts, o.max_seconds, {});
}

// `label`: the child id it is started under, if any (for its reports).
template <class... Args>
result<pid> start_supervisor(runtime& rt, bool link, std::string name, std::string label,
                             Args&&... args) {
  if (auto v = validate(args...); !v) return v.err();
  start_options o;
  o.link = link;
  o.name = std::move(name);
  // A supervisor must see every exit of its children, whatever the node's mailbox limit.
  o.mailbox_limit = defaults::unlimited_mailbox;
  return rt.start_with<detail::supervisor_process>(o, std::move(label),
                                                   std::forward<Args>(args)...);
}

}  // namespace

namespace supervisor {

result<pid> start_link(supervisor_flags flags, std::vector<child_spec> children, std::string name) {
  return start_supervisor(this_runtime(), true, std::move(name), {}, flags, std::move(children));
}

result<pid> start(runtime& rt, supervisor_flags flags, std::vector<child_spec> children,
                  std::string name) {
  return start_supervisor(rt, false, std::move(name), {}, flags, std::move(children));
}

child_spec child(std::string id, supervisor_flags flags, std::vector<child_spec> children) {
  child_spec s;
  s.id = std::move(id);
  s.type = child_type::supervisor;
  s.start = [flags, children = std::move(children), label = s.id]() -> result<pid> {
    return start_supervisor(this_runtime(), true, {}, label, flags, children);
  };
  return s;
}

}  // namespace supervisor

namespace dynamic_supervisor {

result<pid> start_link(dynamic_supervisor_options options, std::string name) {
  return start_supervisor(this_runtime(), true, std::move(name), {}, options);
}

result<pid> start(runtime& rt, dynamic_supervisor_options options, std::string name) {
  return start_supervisor(rt, false, std::move(name), {}, options);
}

child_spec child(std::string id, dynamic_supervisor_options options) {
  child_spec s;
  s.id = std::move(id);
  s.type = child_type::supervisor;
  s.start = [options, label = s.id]() -> result<pid> {
    return start_supervisor(this_runtime(), true, {}, label, options);
  };
  return s;
}

}  // namespace dynamic_supervisor

result<pid> root_supervisor(runtime& rt) {
  const std::string name(supervisor_defaults::root_name);
  // The name is the lock: of concurrent first uses, one registers it, the others' starts fail
  // with already_registered (leaving no trace) and find the winner.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (auto p = rt.whereis(name)) return *p;
    auto r = start_supervisor(rt, false, name, {}, supervisor_flags{}, std::vector<child_spec>{});
    if (r || r.code() != errc::already_registered) return r;
  }
  return error{errc::already_registered,
               "the root supervisor's name '" + name + "' keeps being taken and released"};
}

result<void> shutdown_root_supervisor(runtime& rt, std::chrono::milliseconds timeout) {
  if (detail::current_process() != nullptr) {
    return error{errc::badarg,
                 "shutdown_root_supervisor blocks: call it from a thread that is not running a "
                 "process's handler"};
  }
  auto root = rt.whereis(supervisor_defaults::root_name);
  if (!root) return ok();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  scoped_process me(rt);
  me.monitor(*root);
  // Its result does not matter: the DOWN says when the root is gone (the call fails with
  // `exited` if the root died meanwhile, `noproc` if it was already gone).
  (void)me.await(supervisor::stop(*root, exit_reason::shutdown(), timeout));
  auto remaining = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  if (me.receive<down>(remaining())) return ok();
  me.exit(*root, exit_reason::kill());
  (void)me.receive<down>(supervisor_defaults::worker_shutdown);
  return error{errc::timeout, "the supervision tree of node " + rt.node_name() +
                                  " did not shut down within " + std::to_string(timeout.count()) +
                                  " ms; its root was killed"};
}

}  // namespace otter
