// otter: Erlang/OTP's process model for C++. One header for applications.
//
//   otter::node_options o;
//   o.name = "shop-1";
//   o.seeds = {"tcp://10.0.0.2:7001"};
//   auto n = otter::start_node(o);       // joined, registry synced: names resolve at once
//   if (!n) ... n.err().message says why ...
//   otter::scoped_process me((*n)->rt());
//   auto v = me.await(otter::call<value>("kv", get{"a"}));   // a global name, any node
//   (*n)->shutdown();  // the supervision tree stops in order, then the node leaves
//
// Logging goes through otter's own spdlog logger (<otter/log.hpp>), never the application's.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "otter/core.hpp"
#include "otter/dynamic_supervisor.hpp"
#include "otter/global.hpp"
#include "otter/metrics.hpp"
#include "otter/node.hpp"
#include "otter/pg.hpp"
#include "otter/secret.hpp"
#include "otter/spawn.hpp"
#include "otter/supervisor.hpp"

namespace otter {

// How long node::shutdown waits for the supervision tree before killing what is left.
inline constexpr std::chrono::milliseconds tree_shutdown_timeout{30000};

// node::start plus what every application node runs: the global registry and the default
// process-group scope (not on hidden nodes, which are tools) and a root supervisor that
// node::shutdown stops, in order, first. With seeds and options.join_timeout > 0 (the default), it
// returns once the node has joined one of its seeds and its registry holds every member's names, so
// that a call by name works right away; when that does not happen within join_timeout it stops the
// node and fails (nodedown: no seed answered; timeout: the names did not all arrive).
inline result<std::unique_ptr<node>> start_node(node_options options) {
  const bool hidden = options.hidden;
  const auto join_timeout = options.join_timeout;
  const bool join = !options.seeds.empty() && join_timeout.count() > 0;
  const auto deadline = std::chrono::steady_clock::now() + join_timeout;
  auto n = node::start(std::move(options));
  if (!n) return n;
  std::shared_ptr<global_registry> registry;
  if (!hidden) {
    auto g = global_registry::start(**n);
    if (!g) return g.err();
    registry = *g;
    if (auto s = pg::start_scope(**n); !s) return s.err();
  }
  (*n)->on_shutdown(
      [](node& self) { (void)shutdown_root_supervisor(self.rt(), tree_shutdown_timeout); });
  if (join) {
    auto left = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
    };
    if (!(*n)->wait_joined(left())) {
      const std::string name = (*n)->name();
      (*n)->shutdown();
      return error{errc::nodedown, "node " + name + " could not join any of its seeds within " +
                                       std::to_string(join_timeout.count()) + " ms"};
    }
    if (registry && !registry->wait_synced(std::max(left(), std::chrono::milliseconds(1)))) {
      const std::string name = (*n)->name();
      (*n)->shutdown();
      return error{errc::timeout, "node " + name +
                                      " joined, but its registry did not receive every member's "
                                      "names within " +
                                      std::to_string(join_timeout.count()) + " ms"};
    }
  }
  return n;
}

}  // namespace otter
