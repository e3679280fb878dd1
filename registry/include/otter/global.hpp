// The global name registry: one name, one Pid, across every connected node (Erlang's
// `global`, without its cluster-wide lock).
//
//   // in a coroutine handler (or me.await(...) from a thread owning a scoped_process):
//   auto r = co_await otter::register_global("kv", otter::self());
//   if (!r && r.err().code == otter::errc::already_registered) ... r.err().holder ...
//   // anywhere, a local read (no network):
//   std::optional<otter::pid> p = otter::whereis_global(rt, "kv");
//   // and every operation that takes a Pid takes the name:
//   auto v = co_await otter::call<value>("kv", get{"a"});
//
// Guarantees (docs/REGISTRY.md has the whole consistency model):
// - Among connected nodes at most one Pid holds a name. Of concurrent registrations of one
//   name exactly one wins; the others get already_registered with the winner in error::holder.
// - When register_global / unregister_global return success, whereis_global on every
//   connected node already answers accordingly (read-your-writes across the cluster).
// - They never hang: they complete or fail within register_options::timeout, whatever a peer
//   does (a dead arbiter is replaced; a registration a member has not confirmed in time is
//   undone and fails with timeout). A supervised child's name, which no caller waits for,
//   waits for slow members 5 timeouts more before it is undone (docs/REGISTRY.md).
// - A removal (unregister, holder exit) is decided by the holder's node and never undone, even
//   across partial partitions (no lost unregister); a name can be registered again once its
//   holder is gone.
// - A name disappears everywhere when its process exits, and when its node goes down (within
//   the failure-detection bound; at once when the node shuts down cleanly).
// - A joining node receives every member's names; wait_synced() says when it has them (it is
//   not held up by a member that died as it joined).
// - After a partition heals, a name registered on both sides keeps the registration whose
//   node name is lower (then the newer incarnation, then the lower Pid id), on every node.
//   The loser receives a `name_conflict` info message naming the winner and, unless it was
//   registered with conflict_policy::notify, an exit signal with reason `name_conflict`
//   (trappable: a process trapping exits can hand its state over, then stop).
//
// Thread-safety: whereis_global / registered_global from any thread; registration goes
// through the node's `otter.global` server and is awaited in a handler (co_await) or from a
// thread owning a scoped_process (scoped_process::await).
//
// Lifetime: otter::start_node starts the registry with its node; it stops with the node's
// runtime. A shared_ptr from global_registry::of() stays a valid object after that: whereis
// then finds nothing and wait_synced() returns false.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>
#include <otter/core.hpp>

namespace otter {

class node;

// The node-local name of every node's registry server.
inline constexpr const char* global_server_name = "otter.global";

namespace registry_defaults {
// How long register_global / unregister_global may take at most: enough for a dead arbiter
// to be detected (about 1.7 s) and the request to be retried with the next one.
inline constexpr std::chrono::milliseconds operation_timeout{5000};
// How long an arbiter keeps a name promised to a registration it accepted, until the holder's
// node applies it or refuses it (the failure-detection bound plus slack).
inline constexpr std::chrono::milliseconds reservation_timeout{2500};
}  // namespace registry_defaults

// What happens to the process that loses its name when a partition heals.
enum class conflict_policy : std::uint8_t {
  exit = 0,    // name_conflict message, then an exit signal `name_conflict` (the default)
  notify = 1,  // name_conflict message only: the process keeps running without the name
};
std::string_view to_string(conflict_policy p) noexcept;

struct register_options {
  conflict_policy on_conflict = conflict_policy::exit;
  std::chrono::milliseconds timeout = registry_defaults::operation_timeout;
};

// Sent to a process that lost `name` to `winner` when a partition healed.
struct name_conflict {
  std::string name;
  pid winner;
  MSGPACK_DEFINE(name, winner);
};
OTTER_MESSAGE_AS(name_conflict, "name_conflict");

struct global_entry {
  std::string name;
  pid holder;
  std::string node;         // the holder's node
  std::uint8_t policy = 0;  // conflict_policy
  MSGPACK_DEFINE(name, holder, node, policy);
};

struct registry_stats {
  std::uint64_t names = 0;
  std::uint64_t registered = 0;    // registrations this node's server committed or applied
  std::uint64_t unregistered = 0;  // names removed (unregister, exit, node down, conflict)
  std::uint64_t conflicts = 0;     // conflicts resolved here
  MSGPACK_DEFINE(names, registered, unregistered, conflicts);
};

// ---- requests to a node's `otter.global` server (also usable from other nodes) ----
struct global_register {
  std::string name;
  pid holder;
  std::uint8_t policy = 0;
  std::int64_t timeout_ms = registry_defaults::operation_timeout.count();
  MSGPACK_DEFINE(name, holder, policy, timeout_ms);
};
OTTER_MESSAGE_AS(global_register, "global_register");
struct global_unregister {
  std::string name;
  std::int64_t timeout_ms = registry_defaults::operation_timeout.count();
  MSGPACK_DEFINE(name, timeout_ms);
};
OTTER_MESSAGE_AS(global_unregister, "global_unregister");
// Answer to both: ok, or an error code (errc) with a message and, for already_registered, the
// holder.
struct global_reply {
  bool ok = false;
  std::uint8_t code = 0;
  std::string message;
  pid holder;
  MSGPACK_DEFINE(ok, code, message, holder);
};
OTTER_MESSAGE_AS(global_reply, "global_reply");
// Lists every name (answer: global_names); what `otterctl names` asks.
struct global_list {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(global_list, "global_list");
struct global_names {
  std::vector<global_entry> entries;
  registry_stats stats;
  MSGPACK_DEFINE(entries, stats);
};
OTTER_MESSAGE_AS(global_names, "global_names");

// One per node: the local replica, read without a message; its server keeps it up to date.
namespace registry_detail {
struct inspect;  // the simulator's view of a registry's state (registry/src/state.hpp)
}  // namespace registry_detail

class global_registry final : private detail::name_resolver {
 public:
  // Starts the registry on `n` (once; otter::start_node does it for every visible node).
  static result<std::shared_ptr<global_registry>> start(node& n);
  // The registry of the node `rt` belongs to, or null.
  static std::shared_ptr<global_registry> of(const runtime& rt);
  ~global_registry() override;

  std::optional<pid> whereis(std::string_view name) const;
  std::vector<global_entry> registered() const;
  registry_stats stats() const;
  // True once a synchronisation has arrived from every connected visible member, waiting up to
  // `timeout`: a node that joins reports itself ready after this.
  bool wait_synced(std::chrono::milliseconds timeout) const;

  struct state;  // shared with the server (global.cpp)

 private:
  friend struct registry_detail::inspect;
  explicit global_registry(node& n);
  std::optional<pid> resolve(std::string_view name) override { return whereis(name); }
  std::vector<std::string> names_of(const pid& holder) override;
  std::unique_ptr<state> s_;
};

// ---- the API ----
// Awaitables: co_await in a handler, or scoped_process::await.
task<result<void>> register_global(std::string name, pid holder, register_options o = {});
task<result<void>> unregister_global(
    std::string name, std::chrono::milliseconds timeout = registry_defaults::operation_timeout);
// Local reads.
std::optional<pid> whereis_global(runtime& rt, std::string_view name);
std::optional<pid> whereis_global(std::string_view name);  // in a handler: its node's replica
std::vector<global_entry> registered_global(runtime& rt);

}  // namespace otter
