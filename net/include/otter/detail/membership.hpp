// Internal: what the layers above the network (the global registry, the simulator) know of a
// node's membership, without depending on the node object: node::start installs one as a
// service of its runtime (detail::find_service<membership_view>). After the node has shut
// down it answers as a node alone: no members, not joined.
#pragma once

#include <string>
#include <vector>

#include <otter/node.hpp>

namespace otter::detail {

class membership_view {
 public:
  virtual ~membership_view() = default;
  virtual const std::string& node_name() const noexcept = 0;
  // Connected visible members (not this node, not hidden ones).
  virtual std::vector<node_info> members() const = 0;
  // Whether `node` is one of them (without copying the list: a nodeup is checked this way, and
  // N nodes joining at once bring N nodeups to each).
  virtual bool is_member(const std::string& node) const = 0;
  // No member is still shaking hands: every member this node learnt of is up, was given up on,
  // or was reported down by another member (a node alone has joined its cluster of one).
  virtual bool joined() const = 0;
  // False once the node has shut down.
  virtual bool active() const = 0;
  // `subscriber` receives nodeup / nodedown (or stops, with on = false).
  virtual void monitor_nodes(const pid& subscriber, bool on) = 0;
};

}  // namespace otter::detail
