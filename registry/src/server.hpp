// Internal: the global registry's server, one per node, named `otter.global` (docs/REGISTRY.md
// has the model, docs/PROTOCOL.md the messages, protocol.hpp who decides what).
//
// - The authority on a name held by a process of node H is H: H alone adds and removes its
//   holders' names (own names), numbers its changes and sends each to every member it is
//   connected to, which keep a replica of H's names. A member that loses H drops its replica;
//   when they connect again H sends all its names (a sync). So a node's copy of H's names is
//   H's own, whatever partitions happened: nothing about H can be stale at a node that hears H.
// - A registration asks the name's arbiter (the highest rendezvous hash of (name, member))
//   whether the name is free; the arbiter reserves it and commits it to the holder's node,
//   which applies it and tells its members; they acknowledge to the registrant, which answers
//   its caller only then (read-your-writes).
// - An unregistration asks the holder's node to remove the name, and answers once that
//   node's members have acknowledged. The holder's node removes a name when its holder exits.
// - A name held by two Pids (a healed partition, two registrations that crossed while
//   membership changed) is resolved by keeps_name on every node alike; the loser's node
//   removes it and tells the loser.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include <otter/detail/membership.hpp>
#include <otter/node.hpp>

#include "name_table.hpp"
#include "otter/global.hpp"
#include "protocol.hpp"

namespace otter::registry_detail {

// Timers of the server (local only).
struct claim_deadline {
  std::uint64_t txn = 0;
  MSGPACK_DEFINE(txn);
};
OTTER_MESSAGE_AS(claim_deadline, "greg_claim_deadline");
struct claim_retry {  // a supervised child's claim, asked again (handle_cast(greg_outcome))
  std::uint64_t txn = 0;
  MSGPACK_DEFINE(txn);
};
OTTER_MESSAGE_AS(claim_retry, "greg_claim_retry");
struct removal_deadline {
  std::uint64_t txn = 0;
  MSGPACK_DEFINE(txn);
};
OTTER_MESSAGE_AS(removal_deadline, "greg_removal_deadline");

class global_server : public gen_server<global_server> {
 public:
  using calls = msgs<global_register, global_unregister, global_list>;
  using casts = msgs<global_register, registry_protocol::greg_claim, registry_protocol::greg_commit,
                     registry_protocol::greg_unreg, registry_protocol::greg_update,
                     registry_protocol::greg_applied, registry_protocol::greg_ack,
                     registry_protocol::greg_outcome, registry_protocol::greg_release,
                     registry_protocol::greg_sync, registry_protocol::greg_confirm,
                     registry_protocol::greg_confirmed>;
  using infos = msgs<nodeup, nodedown, claim_deadline, claim_retry, removal_deadline>;

  global_server(std::shared_ptr<detail::membership_view> members, global_registry::state* s);

  void init();
  void terminate(const exit_reason&);

  // ---- requests of this node's processes (or otterctl) ----
  noreply_t handle_call(const global_register& r, from& f);
  // The same as a cast, for a supervisor registering the child it just started (it cannot
  // wait): a refused registration ends the holder with reason already_registered.
  void handle_cast(const global_register& r);
  noreply_t handle_call(const global_unregister& r, from& f);
  global_names handle_call(const global_list&, from&);

  // ---- between registry servers ----
  void handle_cast(const registry_protocol::greg_claim& c);
  void handle_cast(const registry_protocol::greg_commit& c);
  void handle_cast(const registry_protocol::greg_unreg& u);
  void handle_cast(const registry_protocol::greg_update& u);
  void handle_cast(const registry_protocol::greg_applied& a);
  void handle_cast(const registry_protocol::greg_ack& a);
  void handle_cast(const registry_protocol::greg_outcome& o);
  void handle_cast(const registry_protocol::greg_release& r);
  void handle_cast(const registry_protocol::greg_sync& s);
  void handle_cast(const registry_protocol::greg_confirm& c);
  void handle_cast(const registry_protocol::greg_confirmed& c);

  // ---- membership, timers, holders ----
  void handle_info(const nodeup& u);
  void handle_info(const nodedown& d);
  void handle_info(const claim_deadline& t);
  void handle_info(const claim_retry& t);
  void handle_info(const removal_deadline& t);
  void handle_info(const down& d);

 private:
  struct request {  // a registration or unregistration this node asked for
    from caller;
    global_entry entry;
    std::string arbiter;            // registrations: where the claim went
    bool applied = false;           // the holder's node applied it (greg_applied)
    bool committed = false;         // this node is the holder's and applied it (own_add)
    std::set<std::string> waiting;  // members whose greg_ack is still due
    std::set<std::string> acked;    // acknowledgements (they may beat greg_applied)
    std::optional<pid> refused_by;  // a member knows a holder that keeps the name
    std::uint64_t timer = 0;
    bool async = false;  // cast by a supervisor: a refusal ends the holder
    int retries = 0;     // after refusals for a dead holder of ours
    std::chrono::milliseconds timeout{0};
    int patience = 0;  // async: timeouts waited through (handle_info(claim_deadline))
    int unseen = 0;    // async: arbiters' nodedown about this node, asked again after
  };
  struct reservation {  // as arbiter: a name promised to a holder, not yet applied
    pid holder;
    std::chrono::steady_clock::time_point until;
  };
  struct holder_state {  // a local process holding names
    monitor_ref ref = 0;
    std::set<std::string> names;
  };

  // Registration.
  void start_claim(const global_register& r, from f);
  void send_claim(std::uint64_t txn, request& c);
  void arbitrate(std::uint64_t txn, const std::string& origin, const global_entry& entry);
  void commit(const registry_protocol::greg_commit& c);
  void finish_claim(std::uint64_t txn);
  void answer(request& c, global_reply reply);
  // Unregistration and removals, at the holder's node.
  void remove(std::uint64_t txn, const std::string& origin, const std::string& name,
              const pid& holder, bool exited);
  void finish_removal(std::uint64_t txn);
  // This node's own names.
  void own_add(const global_entry& e, std::uint64_t txn, const std::string& origin);
  bool own_remove(const std::string& name, const pid& holder, std::uint64_t txn,
                  const std::string& origin, bool exited, const pid& lost_to = {});
  void announce(bool add, const global_entry& e, std::uint64_t txn, const std::string& origin,
                bool exited, const pid& lost_to = {});
  // A registration of ours whose holder lost the name to `winner` before it was answered.
  void lost(const std::string& name, const pid& holder, const pid& winner);
  void applied(std::uint64_t txn, const std::string& origin);
  // A name held by a process of ours that has exited, whose DOWN is still on its way: free it
  // now (everywhere), so a restarted server can take it over at once.
  void drop_if_dead_local(const std::string& name);
  // Our names to `node` (a sync); `want_reply`: this server has just started and asks for
  // theirs.
  void sync_with(const std::string& node, bool want_reply);
  // Ends the reservation of `name` for `holder`, if it has one here.
  void release(const std::string& name, const pid& holder);
  // Publishes what changed to the resolved view and settles conflicts.
  void refresh();
  // An own holder of `name` loses it to `winner` by the rule: gives it up, and tells it.
  void give_up(const std::string& name, const global_entry& loser, const global_entry& winner);

  std::string node_name_of(const pid& p) const;
  std::string arbiter_of(const std::string& name) const;
  template <class M>
  void send_to(const std::string& node, M&& m);
  template <class M>
  void broadcast(const M& m);
  void refuse(const std::string& origin, std::uint64_t txn, global_reply reply);
  bool first_commit(
      const registry_protocol::greg_commit& c);  // false: this claim was committed here already

  std::shared_ptr<detail::membership_view> members_;
  global_registry::state& s_;
  const std::string me_;
  name_table table_;
  std::set<std::string> up_;  // connected visible members
  // Numbers this node's requests; starts at creation << 32, so that a request of an earlier
  // incarnation of this node name never shares a number with one of this incarnation.
  std::uint64_t txn_ = 0;
  std::map<std::uint64_t, request> claims_;          // by our txn
  std::map<std::uint64_t, request> removals_;        // by our txn
  std::map<std::uint64_t, global_entry> abandoned_;  // claims answered timeout: undo if applied
  std::unordered_map<std::string, reservation> reserved_;
  std::unordered_map<pid, holder_state> local_;
  std::map<std::string, global_entry> confirming_;  // name -> the winner we asked about
  // Another node's registrations committed here, by (origin, txn), oldest first in the deque:
  // the commit of an arbiter this node had given up on may still arrive, late, and must not
  // apply a claim twice (after an unregister it would bring the name back).
  std::set<std::pair<std::string, std::uint64_t>> committed_;
  std::deque<std::pair<std::string, std::uint64_t>> committed_order_;
  static constexpr std::size_t remembered_commits = 65536;
  // A supervised child's registration (async) waits this many timeouts more before it is
  // undone and the child ended (handle_info(claim_deadline)).
  static constexpr int async_patience = 5;
  // An arbiter that has not seen this node up yet (it is joining, its links come up one by
  // one) refuses its claims with nodedown: a supervised child's claim is asked again after
  // `unseen_retry`, this many times at most (30 s).
  static constexpr int async_unseen_retries = 150;
  static constexpr std::chrono::milliseconds unseen_retry{200};
};

}  // namespace otter::registry_detail
