// The messages registry servers send each other (casts to `otter.global` on a node), as
// documented in docs/PROTOCOL.md ("The global registry"). A change here changes the protocol.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <otter/global.hpp>

namespace otter::registry_protocol {

// Registrant -> arbiter: please register `entry` (answer: greg_commit or greg_outcome).
struct greg_claim {
  std::uint64_t txn = 0;
  std::string origin;  // the registrant's node
  global_entry entry;
  MSGPACK_DEFINE(txn, origin, entry);
};
OTTER_MESSAGE_AS(greg_claim, "greg_claim");

// Arbiter -> every member, the registrant (`origin`) included: `entry` is registered. Every
// member but the registrant acknowledges to the registrant (greg_ack with the claim's `txn`);
// the registrant's copy lists in `waiting` whose acknowledgements to wait for.
struct greg_commit {
  std::uint64_t txn = 0;
  std::string origin;
  std::string arbiter;
  global_entry entry;
  std::vector<std::string> waiting;
  MSGPACK_DEFINE(txn, origin, arbiter, entry, waiting);
};
OTTER_MESSAGE_AS(greg_commit, "greg_commit");

// Any node -> every member: `name` is no longer held by `holder` (answer: greg_ack unless txn 0).
// `exited`: the holder has exited, so no commit for it may be applied any more (a commit
// from the arbiter can arrive after this removal from the holder's node).
struct greg_remove {
  std::uint64_t txn = 0;
  std::string origin;
  std::string name;
  pid holder;
  bool exited = false;
  MSGPACK_DEFINE(txn, origin, name, holder, exited);
};
OTTER_MESSAGE_AS(greg_remove, "greg_remove");

// Member -> origin: applied (ok), or refused because `holder` keeps the name (a conflict the
// arbiter could not see).
struct greg_ack {
  std::uint64_t txn = 0;
  std::string node;
  bool ok = true;
  pid holder;
  MSGPACK_DEFINE(txn, node, ok, holder);
};
OTTER_MESSAGE_AS(greg_ack, "greg_ack");

// Arbiter -> registrant: greg_claim `txn` is refused (the name is taken).
struct greg_outcome {
  std::uint64_t txn = 0;
  global_reply reply;
  MSGPACK_DEFINE(txn, reply);
};
OTTER_MESSAGE_AS(greg_outcome, "greg_outcome");

// On connection, each side -> the other: every name held by a process of `node`, and the
// members `node` is connected to (a joiner is ready once it has the names of all of them).
struct greg_sync {
  std::string node;
  std::vector<global_entry> entries;
  std::vector<std::string> members;
  MSGPACK_DEFINE(node, entries, members);
};
OTTER_MESSAGE_AS(greg_sync, "greg_sync");

}  // namespace otter::registry_protocol
