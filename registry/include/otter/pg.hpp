// Process groups (Erlang's pg): named groups of processes across the cluster, for fan-out.
//
//   co_await otter::pg::join("room:42", otter::self());            // this node's process
//   auto members = otter::pg::get_members("room:42");              // every node's, no call
//   otter::pg::broadcast("room:42", chat{"hi"});                   // a cast to each member
//
// - A scope is an independent set of groups with a server on each node that runs it
//   (`otter.pg.SCOPE`); otter::start_node starts the default scope "pg" on every visible node,
//   pg::start_scope(node, name) any other. Operations name their scope last (default "pg").
// - A process joins and leaves groups of its own node only (join/leave take Pids of this node:
//   badarg otherwise). It may join one group any number of times and is then listed that many
//   times; each leave removes one. A process that exits leaves every group; the members of a
//   node that goes down leave on every other node.
// - Each node owns its own processes' memberships and tells the others (as OTP's pg): there is
//   no agreement protocol, so views are eventually consistent. A join returns once this node's
//   view has it; other nodes see it one message later (node up: each side sends the other its
//   memberships). get_members / get_local_members / which_groups read this node's view without
//   a call (thread-safe, from any thread).
// - monitor_scope / monitor(group) return the current members and then deliver `pg_event`
//   info messages to the caller on every join and leave (local or remote), until
//   pg::demonitor or the caller's exit.
// - broadcast(group, msg) casts msg to every member: a copy to each member on this node, and
//   one message per other node, whose scope server casts it to that node's members (as
//   Phoenix.PubSub fans out per node). Members are those of each member's own node when the
//   message gets there. Casts of one sender's broadcasts keep their order for each member.
// docs/PROTOCOL.md lists the messages between scope servers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "otter/api.hpp"
#include "otter/call.hpp"
#include "otter/dynamic.hpp"
#include "otter/message.hpp"
#include "otter/pid.hpp"
#include "otter/runtime.hpp"
#include "otter/task.hpp"

namespace otter {

class node;

namespace pg {

inline constexpr const char* default_scope = "pg";

// The node-local name of a scope's server on every node that runs it.
std::string server_name(std::string_view scope);

// A group and its members (with one entry per join).
struct group_members {
  std::string group;
  std::vector<pid> members;
  MSGPACK_DEFINE(group, members);
};

// Delivered to monitor_scope / monitor subscribers: `pids` joined (or left) `group`.
struct pg_event {
  std::uint64_t ref = 0;  // the subscription
  bool joined = false;    // false: left
  std::string scope;
  std::string group;
  std::vector<pid> pids;
  MSGPACK_DEFINE(ref, joined, scope, group, pids);
};

// What monitor_scope / monitor return: the subscription and the members at that moment.
struct subscription {
  std::uint64_t ref = 0;
  std::vector<group_members> groups;  // monitor(group): that group only (empty: no member)
  MSGPACK_DEFINE(ref, groups);
};

// ---- requests to a scope server (also what otterctl sends; docs/PROTOCOL.md) ----
struct pg_join_request {
  std::string group;
  std::vector<pid> pids;
  MSGPACK_DEFINE(group, pids);
};
struct pg_leave_request {
  std::string group;
  std::vector<pid> pids;
  MSGPACK_DEFINE(group, pids);
};
struct pg_monitor_request {
  bool whole_scope = true;
  std::string group;  // when not whole_scope
  MSGPACK_DEFINE(whole_scope, group);
};
struct pg_demonitor_request {
  std::uint64_t ref = 0;
  MSGPACK_DEFINE(ref);
};
// Every group of the scope as this node sees it (otterctl groups).
struct pg_groups_request {
  MSGPACK_DEFINE();
};
struct pg_groups {
  std::string scope;
  std::string node;
  std::vector<group_members> groups;  // sorted by group name
  MSGPACK_DEFINE(scope, node, groups);
};
// The reply of join, leave, demonitor: ok, or an error code and message.
struct pg_reply {
  bool ok = false;
  std::uint8_t code = 0;  // otter::errc when !ok
  std::string message;
  MSGPACK_DEFINE(ok, code, message);
};

// ---- between scope servers ----
// A node's own memberships, all of them: replaces what the receiver knew of that node.
struct pg_sync {
  std::string node;
  bool reply = false;  // the receiver answers with its own
  std::vector<group_members> groups;
  MSGPACK_DEFINE(node, reply, groups);
};
struct pg_join {
  std::string node;
  std::string group;
  std::vector<pid> pids;
  MSGPACK_DEFINE(node, group, pids);
};
struct pg_leave {
  std::string node;
  std::string group;
  std::vector<pid> pids;
  MSGPACK_DEFINE(node, group, pids);
};
// A broadcast's message for the receiving node's members of `group`, cast to each of them as a
// message of wire type `type`.
struct pg_fanout {
  std::string group;
  std::string type;
  dynamic body;
  MSGPACK_DEFINE(group, type, body);
};

OTTER_MESSAGE_AS(group_members, "pg_group_members");
OTTER_MESSAGE_AS(pg_event, "pg_event");
OTTER_MESSAGE_AS(subscription, "pg_subscription");
OTTER_MESSAGE_AS(pg_join_request, "pg_join_request");
OTTER_MESSAGE_AS(pg_leave_request, "pg_leave_request");
OTTER_MESSAGE_AS(pg_monitor_request, "pg_monitor_request");
OTTER_MESSAGE_AS(pg_demonitor_request, "pg_demonitor_request");
OTTER_MESSAGE_AS(pg_groups_request, "pg_groups_request");
OTTER_MESSAGE_AS(pg_groups, "pg_groups");
OTTER_MESSAGE_AS(pg_reply, "pg_reply");
OTTER_MESSAGE_AS(pg_sync, "pg_sync");
OTTER_MESSAGE_AS(pg_join, "pg_join");
OTTER_MESSAGE_AS(pg_leave, "pg_leave");
OTTER_MESSAGE_AS(pg_fanout, "pg_fanout");

// Starts `scope` on node `n` (once per scope and node; start_node starts the default one).
result<void> start_scope(node& n, std::string scope = default_scope);

// Joins local processes to `group` (each Pid once per call; repeat to join again).
task<result<void>> join(std::string group, std::vector<pid> pids,
                        std::string scope = default_scope);
task<result<void>> join(std::string group, pid p, std::string scope = default_scope);
// Removes one membership of each Pid; not_found if none of them was a member (OTP's
// not_joined); the others leave.
task<result<void>> leave(std::string group, std::vector<pid> pids,
                         std::string scope = default_scope);
task<result<void>> leave(std::string group, pid p, std::string scope = default_scope);

// This node's view, read without a call (empty for an unknown group or scope).
std::vector<pid> get_members(runtime& rt, std::string_view group,
                             std::string_view scope = default_scope);
std::vector<pid> get_local_members(runtime& rt, std::string_view group,
                                   std::string_view scope = default_scope);
std::vector<std::string> which_groups(runtime& rt, std::string_view scope = default_scope);
// The same in a handler (its process's runtime).
std::vector<pid> get_members(std::string_view group, std::string_view scope = default_scope);
std::vector<pid> get_local_members(std::string_view group, std::string_view scope = default_scope);
std::vector<std::string> which_groups(std::string_view scope = default_scope);

// Subscribes the calling process to every join/leave of the scope (or of one group).
task<result<subscription>> monitor_scope(std::string scope = default_scope);
task<result<subscription>> monitor(std::string group, std::string scope = default_scope);
task<result<void>> demonitor(std::uint64_t ref, std::string scope = default_scope);

namespace detail {
// Sends a broadcast's encoded message to the scope servers of `nodes`.
void fan_out(runtime& rt, std::string_view scope, const std::vector<std::string>& nodes,
             const std::string& group, std::string_view type, const otter::dynamic& body);
// The nodes other than this one with members of `group`, and this node's members.
void split_members(runtime& rt, std::string_view scope, std::string_view group,
                   std::vector<pid>& local, std::vector<std::string>& remote_nodes);
}  // namespace detail

// Casts `msg` to every member of `group` (see the top of this file); returns how many of this
// node's members and how many other nodes it was sent to.
struct broadcast_result {
  std::size_t local_members = 0;
  std::size_t nodes = 0;
};
template <class T>
broadcast_result broadcast(runtime& rt, const std::string& group, const T& msg,
                           std::string_view scope = default_scope) {
  std::vector<pid> local;
  std::vector<std::string> nodes;
  detail::split_members(rt, scope, group, local, nodes);
  for (const auto& p : local) (void)rt.cast(p, T(msg));
  if (!nodes.empty()) {
    detail::fan_out(rt, scope, nodes, group, message_traits<T>::name, dynamic::of(msg));
  }
  return {local.size(), nodes.size()};
}
template <class T>
broadcast_result broadcast(const std::string& group, const T& msg,
                           std::string_view scope = default_scope) {
  return broadcast(this_runtime(), group, msg, scope);
}

}  // namespace pg
}  // namespace otter
