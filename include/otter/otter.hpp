// otter: Erlang/OTP's process model for C++. One header for applications.
//
//   auto n = otter::start_node(options);   // a node with its global registry and root supervisor
//   otter::scoped_process me((*n)->rt());
//   otter::supervisor::start_child(me, *otter::root_supervisor((*n)->rt()), spec);
//   ...
//   (*n)->shutdown();  // the supervision tree stops in order, then the node leaves
#pragma once

#include <chrono>
#include <memory>

#include "otter/core.hpp"
#include "otter/dynamic_supervisor.hpp"
#include "otter/global.hpp"
#include "otter/node.hpp"
#include "otter/secret.hpp"
#include "otter/spawn.hpp"
#include "otter/supervisor.hpp"

namespace otter {

// How long node::shutdown waits for the supervision tree before killing what is left.
inline constexpr std::chrono::milliseconds tree_shutdown_timeout{30000};

// Registers a supervised child's global name (child_spec::global_name) through the node's
// registry. A supervisor cannot wait for the cluster inside its handler, so the request is
// sent and the start goes on; should the name turn out taken, the registry ends the child
// with reason already_registered and the supervisor's restart rules apply. A runtime without
// a registry registers the name locally.
inline result<void> register_child_globally(runtime& rt, const std::string& name, pid child) {
  if (global_registry::of(rt) == nullptr) return rt.register_name(name, child);
  global_register req{name, child, static_cast<std::uint8_t>(conflict_policy::exit),
                      registry_defaults::operation_timeout.count()};
  return cast(global_server_name, std::move(req));
}

// node::start plus what every application node runs: the global registry (not on hidden
// nodes, which are tools) and a root supervisor that node::shutdown stops, in order, first.
inline result<std::unique_ptr<node>> start_node(node_options options) {
  const bool hidden = options.hidden;
  auto n = node::start(std::move(options));
  if (!n) return n;
  if (!hidden) {
    if (auto g = global_registry::start(**n); !g) return g.err();
    set_global_name_registrar(register_child_globally);
  }
  (*n)->on_shutdown(
      [](node& self) { (void)shutdown_root_supervisor(self.rt(), tree_shutdown_timeout); });
  return n;
}

}  // namespace otter
