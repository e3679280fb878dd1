// The global registry's API and its per-node object; the server is in server.cpp.
#include "otter/global.hpp"

#include <algorithm>

#include <otter/detail/membership.hpp>
#include <otter/node.hpp>

#include "server.hpp"
#include "state.hpp"

namespace otter {

std::string_view to_string(conflict_policy p) noexcept {
  switch (p) {
    case conflict_policy::exit: return "exit";
    case conflict_policy::notify: return "notify";
  }
  return "unknown";
}

global_registry::global_registry(node& n) : s_(std::make_unique<state>()) {
  s_->members = detail::find_service<detail::membership_view>(n.rt());
}
global_registry::~global_registry() = default;

namespace {
// Registers a supervised child's global name (child_spec::global_name). A supervisor cannot
// wait for the cluster inside its handler, so the request is sent and the start goes on;
// should the name turn out taken, the registry ends the child with reason already_registered
// and the supervisor's restart rules apply (slow members do not end it: server.cpp,
// handle_info(claim_deadline)).
result<void> register_child_globally(runtime&, const std::string& name, const pid& child) {
  global_register req{name, child, static_cast<std::uint8_t>(conflict_policy::exit),
                      registry_defaults::operation_timeout.count()};
  return cast(global_server_name, std::move(req));
}
}  // namespace

result<std::shared_ptr<global_registry>> global_registry::start(node& n) {
  runtime& rt = n.rt();
  if (global_registry::of(rt) != nullptr) {
    return error{errc::already_registered, "the global registry already runs on " + n.name()};
  }
  std::shared_ptr<global_registry> g(new global_registry(n));
  if (!g->s_->members) return error{errc::badarg, "node " + n.name() + " has no membership"};
  start_options so;
  so.name = global_server_name;
  // The node's mailbox limit is for user processes: a dropped registry message would leave
  // the replicas apart.
  so.mailbox_limit = defaults::unlimited_mailbox;
  auto p = rt.start_with<registry_detail::global_server>(so, g->s_->members, g->s_.get());
  if (!p) return p.err();
  // Kept by the runtime until it stops; the resolver and the registrar go with it.
  detail::set_service(rt, g);
  detail::set_service(rt, std::make_shared<detail::global_name_registrar>(
                              detail::global_name_registrar{register_child_globally}));
  detail::set_name_resolver(rt, g.get());
  return g;
}

std::shared_ptr<global_registry> global_registry::of(const runtime& rt) {
  return detail::find_service<global_registry>(rt);
}

std::optional<pid> global_registry::whereis(std::string_view name) const {
  std::shared_lock<std::shared_mutex> l(s_->mutex);
  auto it = s_->names.find(name);
  if (it == s_->names.end()) return std::nullopt;
  return it->second.holder;
}

std::vector<std::string> global_registry::names_of(const pid& holder) {
  // A scan: asked only for a crash report, never on a hot path.
  std::vector<std::string> out;
  std::shared_lock<std::shared_mutex> l(s_->mutex);
  for (const auto& [name, e] : s_->names) {
    if (e.holder == holder) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<global_entry> global_registry::registered() const {
  return s_->sorted_entries();
}

registry_stats global_registry::stats() const {
  return s_->stats();
}

bool global_registry::wait_synced(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::shared_lock<std::shared_mutex> l(s_->mutex);
  for (;;) {
    if (!s_->members->active()) return false;  // the node has shut down
    if (s_->synced_now()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Re-checked at least every 10 ms: membership changes do not signal this variable.
    s_->synced_cv.wait_for(l, std::chrono::milliseconds(10));
  }
}

namespace {
result<void> to_result(result<global_reply> r) {
  if (!r) return r.err();
  if (r->ok) return ok();
  error e{static_cast<errc>(r->code), r->message};
  e.holder = r->holder;
  return e;
}
// The registry of a running node; null once it has stopped; a node without one is a mistake.
std::shared_ptr<global_registry> registry_of(const runtime& rt) {
  auto g = global_registry::of(rt);
  if (g == nullptr && !rt.stopped()) {
    throw std::logic_error("the global registry does not run on node " + rt.node_name() +
                           " (start it with otter::start_node)");
  }
  return g;
}
}  // namespace

task<result<void>> register_global(std::string name, pid holder, register_options o) {
  global_register req{std::move(name), holder, static_cast<std::uint8_t>(o.on_conflict),
                      o.timeout.count()};
  const dest server = global_server_name;
  co_return to_result(
      co_await call<global_reply>(server, std::move(req), o.timeout + std::chrono::seconds(1)));
}

// The requests are locals, not temporaries inside the co_await expression: g++ 12 destroys
// such temporaries twice (GCC bug 100611).
task<result<void>> unregister_global(std::string name, std::chrono::milliseconds timeout) {
  global_unregister req{std::move(name), timeout.count()};
  const dest server = global_server_name;
  co_return to_result(
      co_await call<global_reply>(server, std::move(req), timeout + std::chrono::seconds(1)));
}

std::optional<pid> whereis_global(runtime& rt, std::string_view name) {
  // Through the runtime's resolver (the registry itself), without a services lookup: this is
  // the hot read (otter_whereis_global_per_s).
  bool served = false;
  auto p = detail::resolve_global(rt, name, &served);
  if (!served) (void)registry_of(rt);  // throws for a running node without a registry
  return p;
}

std::optional<pid> whereis_global(std::string_view name) {
  return whereis_global(this_runtime(), name);
}

std::vector<global_entry> registered_global(runtime& rt) {
  auto g = registry_of(rt);
  return g ? g->registered() : std::vector<global_entry>{};
}

}  // namespace otter
