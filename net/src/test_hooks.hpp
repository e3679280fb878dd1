// Internal test hooks of the net layer (tests and the fuzzers include net/src).
#pragma once

#include <string_view>

#include "otter/node.hpp"

namespace otter::test_hooks {

// Treat `node_name` as unreachable (drop its traffic both ways) or reachable again: a
// partition without touching the network.
void set_blocked(node& n, std::string_view node_name, bool blocked);

}  // namespace otter::test_hooks
