// A seeded schedule run in the simulated world (world.hpp), and the invariants checked along
// the way and after it:
// - read-your-writes: when register_global (unregister_global) returns ok, every node that has
//   been connected to both the registrant and the holder's node since before the request
//   answers whereis_global accordingly;
// - nodedown to a node known to be down is immediate (the same simulated instant);
// - every call ends (reply, error or timeout) within its timeout plus a bound;
// - an unregistration or a holder's death is never undone (sampled along the way);
// - after the faults stop, the partitions heal and the cluster is quiet: every node is
//   connected to every other, every node has the same name table, each name's holder is
//   alive and was not unregistered since it registered, every node's registry has synced,
//   and nothing is left open with a node that is not up (calls, monitors, links).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <otter/node.hpp>

namespace otter::sim {

struct schedule_options {
  std::uint64_t seed = 1;
  int nodes = 5;           // 3 to 7 in CI's schedules
  int chaos_seconds = 10;  // of simulated time with faults and operations
  // Ring neighbours each node watches on each side (node_options::watch_neighbours; 0: all).
  std::size_t watch_neighbours = net_defaults::watch_neighbours;
  bool trace = false;  // print every event
  // A deliberately broken invariant (the checker's own test): that many names must be held
  // at the end, which a correct registry does not guarantee.
  bool broken_invariant = false;
  // A directed schedule instead of a random one (directed_schedules()).
  std::string scenario;
};

// The directed schedules, each the shape of a bug found before the simulator existed:
//   lost_unregister    the holder is on s0; s1 and s2 lose each other while s0 sees both; s1
//                      unregisters; the split heals; the holder dies; s2 must register it
//   joiner_after_kill  s2 joins through s0 right after s1 was killed: it must finish syncing
//   known_down_calls   calls to a node already declared down fail at once with nodedown
std::vector<std::string> directed_schedules();

struct schedule_result {
  bool ok = true;
  std::string violation;  // what was violated, and the trace before it
  std::uint64_t events = 0;
  std::uint64_t operations = 0;
  std::uint64_t faults = 0;
};

schedule_result run_schedule(const schedule_options& o);

// The mixed schedule of seed s: 3 + s % 5 nodes, each watching 1 + (s / 5) % 2 ring neighbours
// on each side (so the ring, not only the full mesh, is exercised from 4 nodes up).
schedule_options seeded_schedule(std::uint64_t seed);

// The one-line command that replays `o` deterministically with its event trace.
std::string replay_command(const schedule_options& o);

}  // namespace otter::sim
