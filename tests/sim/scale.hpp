// The scale run of the simulator: N nodes (up to thousands) in the simulated world
// (world.hpp), through a join, an idle period, a crash wave, a partition and its heal, and an
// idle period under packet loss. It measures rather than checks: each figure is a
// `name value unit` line (otter-bench's format), the same seed giving the same figures.
//
// The phases, in simulated time:
// 1. join: nodes start 8 at a time every 100 ms, each through a random node started before it;
//    converged when every node has every other up (`sim_scale_join_converged_s`). Then one
//    more node joins a settled cluster: until it has every member up and every member has it
//    (`sim_scale_join_one_s`).
// 2. idle, 10 s: frames each node sends a second (`sim_scale_idle_frames_per_node_s`).
// 3. crash wave: 10 % of the nodes die at once (SIGKILL): until every live node has each of
//    them down, the slowest and the median (`sim_scale_detect_max_ms`, `_p50_ms`).
// 4. partition: the live nodes split into two random halves, both ways, until each side has
//    the other down (`sim_scale_partition_detect_ms`); then the cut heals and the crashed nodes
//    restart, until every node has every other up again (`sim_scale_heal_converged_s`).
// 5. loss: 1 % of TCP segments lost (each a 200 ms retransmission, holding up its connection)
//    for 60 s of idle: member pairs declared down though both lived and could talk
//    (`sim_scale_false_downs`, and per node-hour).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <otter/node.hpp>

namespace otter::sim {

struct scale_options {
  std::uint64_t seed = 1;
  int nodes = 1000;
  std::size_t watch_neighbours = net_defaults::watch_neighbours;
  double loss_percent = 1.0;
  int loss_seconds = 60;
  bool progress = false;  // a line on stderr per phase, with the wall time it took
};

struct scale_figure {
  std::string name;
  double value = 0;
  std::string unit;
};

struct scale_report {
  std::vector<scale_figure> figures;
  std::string failure;  // a phase that did not converge within its bound (empty: none)
};

scale_report run_scale(const scale_options& o);

}  // namespace otter::sim
