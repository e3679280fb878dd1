// The node agent: the `otter.node` server every node runs, answering the node tool (otterctl)
// and anything else that wants to look inside a live node. Plain calls, so any client of
// docs/PROTOCOL.md can use them:
//   node_status_q -> node_status   (identity, members, counters: `otterctl nodes|stats|ping`)
//   ps_q          -> ps_reply      (every process: `otterctl ps|top`)
// One process in detail is asked of the process itself: a `sys_get_status` call
// (otter/introspection.hpp).
#pragma once

#include <string>
#include <vector>

#include <otter/core.hpp>
#include <otter/node.hpp>

namespace otter {

inline constexpr const char* agent_name = "otter.node";

struct node_status_q {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(node_status_q, "node_status_q");
struct node_status {
  node_info self;                  // up_ms: how long this node has run
  std::vector<node_info> members;  // connected visible members (not this node)
  runtime_stats runtime;
  net_stats net;
  MSGPACK_DEFINE(self, members, runtime, net);
};
OTTER_MESSAGE_AS(node_status, "node_status");

struct ps_q {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(ps_q, "ps_q");
struct ps_reply {
  std::string node;
  std::vector<process_row> processes;
  MSGPACK_DEFINE(node, processes);
};
OTTER_MESSAGE_AS(ps_reply, "ps_reply");

}  // namespace otter
