// Internal: what the deterministic simulator (tests/sim) needs of the net layer: a node on a
// manual runtime (core/src/simulation.hpp) and a network of the simulator's (link_io), its
// transport to look into between steps, and a crash that says no goodbye.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "link_io.hpp"
#include "otter/node.hpp"

namespace otter {
class transport;
}

namespace otter::net_detail {

// Makes the network of a node whose routing id is `routing_id` (<name>#<creation>).
using io_factory = std::function<std::unique_ptr<link_io>(const std::string& routing_id)>;

result<std::unique_ptr<node>> start_simulated_node(node_options options,
                                                   const detail::manual_clock& clock,
                                                   const io_factory& make_io);
transport& transport_of(node& n);
// Stops the node as SIGKILL would: no goodbye, no shutdown hooks, its processes just vanish.
void crash(node& n);

}  // namespace otter::net_detail
