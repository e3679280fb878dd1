// The messages registry servers send each other (casts to `otter.global` on a node), as
// documented in docs/PROTOCOL.md ("The global registry"). A change here changes the protocol.
//
// Who decides what (docs/REGISTRY.md):
// - a node is the authority on the names its own processes hold: only it adds or removes
//   them, numbering its changes (seq), and it tells every member it is connected to;
// - a name's arbiter (rendezvous hash over the members) only decides between concurrent
//   registrations of that name, before the holder's node applies the winner.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <otter/global.hpp>
#include <otter/pid.hpp>

namespace otter::registry_protocol {

// Registrant -> arbiter: may `entry` have its name? (answer: greg_commit to the holder's node,
// or greg_outcome to the registrant)
struct greg_claim {
  std::uint64_t txn = 0;  // numbers the request on `origin`
  std::string origin;     // the registrant's node
  global_entry entry;
  MSGPACK_DEFINE(txn, origin, entry);
};
OTTER_MESSAGE_AS(greg_claim, "greg_claim");

// Arbiter -> the holder's node: apply `entry` (answer: greg_update to every member and
// greg_applied to `origin`, or greg_outcome to `origin` and greg_release to the arbiter).
struct greg_commit {
  std::uint64_t txn = 0;
  std::string origin;
  std::string arbiter;
  global_entry entry;
  MSGPACK_DEFINE(txn, origin, arbiter, entry);
};
OTTER_MESSAGE_AS(greg_commit, "greg_commit");

// Any node -> the holder's node: remove `name` from `holder` (an unregistration, or the undoing
// of a registration another member refused). Answered like a commit; txn 0: no answer.
struct greg_unreg {
  std::uint64_t txn = 0;
  std::string origin;
  std::string name;
  pid holder;
  MSGPACK_DEFINE(txn, origin, name, holder);
};
OTTER_MESSAGE_AS(greg_unreg, "greg_unreg");

// A holder's node -> every member it is connected to: change number `seq` of its own names.
// `txn`/`origin`: the request it answers (0/"": none), whose origin waits for the members'
// greg_ack. `add` false: a removal; `exited`: because the holder exited.
struct greg_update {
  std::string node;
  std::uint64_t seq = 0;
  bool add = true;
  global_entry entry;
  std::uint64_t txn = 0;
  std::string origin;
  bool exited = false;
  pid lost_to;  // a removal because another holder keeps the name (a conflict): that holder
  MSGPACK_DEFINE(node, seq, add, entry, txn, origin, exited, lost_to);
};
OTTER_MESSAGE_AS(greg_update, "greg_update");

// A holder's node -> a request's origin: the change is made and was sent to `waiting` (the
// members whose greg_ack the origin waits for).
struct greg_applied {
  std::uint64_t txn = 0;
  std::vector<std::string> waiting;
  MSGPACK_DEFINE(txn, waiting);
};
OTTER_MESSAGE_AS(greg_applied, "greg_applied");

// Member -> origin: greg_update `txn` applied (ok), or the name is held by `holder` here (a
// registration the arbiter could not see: membership was changing).
struct greg_ack {
  std::uint64_t txn = 0;
  std::string node;
  bool ok = true;
  pid holder;
  MSGPACK_DEFINE(txn, node, ok, holder);
};
OTTER_MESSAGE_AS(greg_ack, "greg_ack");

// Arbiter or holder's node -> origin: request `txn` is refused (the name is taken, the holder is
// gone, not registered).
struct greg_outcome {
  std::uint64_t txn = 0;
  global_reply reply;
  MSGPACK_DEFINE(txn, reply);
};
OTTER_MESSAGE_AS(greg_outcome, "greg_outcome");

// Holder's node -> arbiter: it refused the commit of `name` for `holder`; the arbiter stops
// reserving the name for it.
struct greg_release {
  std::string name;
  pid holder;
  MSGPACK_DEFINE(name, holder);
};
OTTER_MESSAGE_AS(greg_release, "greg_release");

// The loser's node -> the winner's node, when a name turns out held by two Pids: does `holder`
// still hold `name`? Asked before the loser gives the name up, because what made the two meet
// may be stale (the winner's removal still on its way). The answer comes after everything the
// winner's node sent before it (one connection, in order).
struct greg_confirm {
  std::string asker;  // the loser's node
  std::string name;
  pid holder;
  MSGPACK_DEFINE(asker, name, holder);
};
OTTER_MESSAGE_AS(greg_confirm, "greg_confirm");

// The winner's node -> the asker: whether `holder` still holds `name` there.
struct greg_confirmed {
  std::string name;
  pid holder;
  bool held = false;
  MSGPACK_DEFINE(name, holder, held);
};
OTTER_MESSAGE_AS(greg_confirmed, "greg_confirmed");

// On connection, each side -> the other: every name its own processes hold, as of change
// number `seq`. It replaces whatever the receiver had of that node's names.
struct greg_sync {
  std::string node;
  std::uint64_t seq = 0;
  std::vector<global_entry> entries;
  // The sender's registry has just started: the receiver answers with its own sync (the one
  // it sent at nodeup may have arrived before there was a registry to take it). Last, so a
  // sync without it (an older node) reads as false.
  bool want_reply = false;
  MSGPACK_DEFINE(node, seq, entries, want_reply);
};
OTTER_MESSAGE_AS(greg_sync, "greg_sync");

// A name's arbiter as `me` sees it: the winner of a rendezvous hash over `me` and the members
// it is connected to (`up`), scoring each node by splitmix64's finaliser of node_id_of(name)
// XOR node_id_of(node); ties go to the smaller name.
inline std::uint64_t arbiter_score(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

template <class Names>
std::string arbiter_among(const std::string& name, const std::string& me, const Names& up) {
  const std::uint64_t h = node_id_of(name);
  std::string best = me;
  std::uint64_t best_score = arbiter_score(h ^ node_id_of(me));
  for (const auto& n : up) {
    const std::uint64_t score = arbiter_score(h ^ node_id_of(n));
    if (score > best_score || (score == best_score && n < best)) {
      best = n;
      best_score = score;
    }
  }
  return best;
}

}  // namespace otter::registry_protocol
