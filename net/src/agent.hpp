// Internal: the `otter.node` server (see otter/agent.hpp).
#pragma once

#include "otter/agent.hpp"

namespace otter {

class node_agent : public gen_server<node_agent> {
 public:
  using calls = msgs<node_status_q, ps_q>;
  explicit node_agent(node& n) : node_(n) {}
  node_status handle_call(const node_status_q&, from&) {
    node_status s;
    s.self.name = node_.name();
    s.self.endpoint = node_.endpoint();
    s.self.creation = node_.creation();
    s.runtime = node_.rt().stats();
    s.self.up_ms = s.runtime.uptime_ms;
    s.members = node_.nodes();
    s.net = node_.stats();
    return s;
  }
  ps_reply handle_call(const ps_q&, from&) {
    return ps_reply{node_.name(), node_.rt().processes()};
  }

 private:
  node& node_;
};

}  // namespace otter
