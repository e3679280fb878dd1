#include "server.hpp"

#include <algorithm>

#include "otter/log.hpp"
#include "state.hpp"

namespace otter::registry_detail {

using namespace registry_protocol;

namespace {

global_reply ok_reply_of() {
  global_reply r;
  r.ok = true;
  return r;
}

global_reply error_reply(errc code, std::string message, pid holder = {}) {
  global_reply r;
  r.code = static_cast<std::uint8_t>(code);
  r.message = std::move(message);
  r.holder = holder;
  return r;
}

global_reply taken(const std::string& name, const global_entry& holder) {
  return error_reply(errc::already_registered,
                     "name '" + name + "' is already registered to " + to_string(holder.holder) +
                         " on " + holder.node,
                     holder.holder);
}

}  // namespace

global_server::global_server(std::shared_ptr<detail::membership_view> members,
                             global_registry::state* s)
    : members_(std::move(members)), s_(*s), me_(members_->node_name()), table_(me_) {}

void global_server::init() {
  txn_ = std::uint64_t{rt().creation()} << 32;
  members_->monitor_nodes(self(), true);
  // Members already up sent their syncs at their nodeup, maybe before this server existed:
  // ours asks for theirs again.
  for (const auto& m : members_->members()) sync_with(m.name, true);
}

void global_server::terminate(const exit_reason&) {
  members_->monitor_nodes(self(), false);
}

template <class M>
void global_server::send_to(const std::string& node, M&& m) {
  (void)cast(dest::at(global_server_name, node), std::forward<M>(m));
}

template <class M>
void global_server::broadcast(const M& m) {
  for (const auto& n : up_) send_to(n, m);
}

std::string global_server::node_name_of(const pid& p) const {
  if (p.node == node_id_of(me_)) return me_;
  for (const auto& n : up_) {
    if (node_id_of(n) == p.node) return n;
  }
  return {};
}

std::string global_server::arbiter_of(const std::string& name) const {
  return arbiter_among(name, me_, up_);
}

// ---- registration ----

noreply_t global_server::handle_call(const global_register& r, from& f) {
  start_claim(r, std::move(f));
  return noreply;
}

void global_server::handle_cast(const global_register& r) {
  start_claim(r, from{});
}

void global_server::start_claim(const global_register& r, from f) {
  request c;
  c.async = !f.valid();
  c.caller = std::move(f);
  c.entry = global_entry{r.name, r.holder, node_name_of(r.holder), r.policy};
  if (r.name.empty() || !r.holder) {
    answer(c, error_reply(errc::badarg, "a global name needs a name and a Pid"));
    return;
  }
  if (r.policy > static_cast<std::uint8_t>(conflict_policy::notify)) {
    answer(c, error_reply(errc::badarg, "unknown conflict policy " + std::to_string(r.policy)));
    return;
  }
  if (c.entry.node.empty()) {
    answer(c, error_reply(errc::nodedown, "cannot register '" + r.name + "' to " +
                                              to_string(r.holder) + ": its node is not connected"));
    return;
  }
  drop_if_dead_local(r.name);
  const std::uint64_t txn = ++txn_;
  const auto timeout = std::chrono::milliseconds(std::max<std::int64_t>(r.timeout_ms, 1));
  c.timeout = timeout;
  c.timer = send_after(timeout, self(), claim_deadline{txn});
  request& stored = claims_[txn] = std::move(c);
  send_claim(txn, stored);
}

void global_server::send_claim(std::uint64_t txn, request& c) {
  c.arbiter = arbiter_of(c.entry.name);
  if (c.arbiter == me_) {
    arbitrate(txn, me_, c.entry);  // may answer (and erase) the claim
  } else {
    send_to(c.arbiter, greg_claim{txn, me_, c.entry});
  }
}

void global_server::handle_cast(const greg_claim& c) {
  arbitrate(c.txn, c.origin, c.entry);
}

// As arbiter: the one place where concurrent registrations of a name meet. A refusal goes
// back to the registrant at once; an acceptance reserves the name and is committed to the
// holder's node, its authority.
void global_server::arbitrate(std::uint64_t txn, const std::string& origin,
                              const global_entry& entry) {
  drop_if_dead_local(entry.name);
  if (auto held = table_.winner(entry.name); held && held->holder != entry.holder) {
    refuse(origin, txn, taken(entry.name, *held));
    return;
  }
  const auto now = detail::now(rt());
  if (auto r = reserved_.find(entry.name);
      r != reserved_.end() && r->second.holder != entry.holder && now < r->second.until) {
    global_entry other{entry.name, r->second.holder, node_name_of(r->second.holder), 0};
    refuse(origin, txn, taken(entry.name, other));
    return;
  }
  if (entry.node != me_ && !up_.contains(entry.node)) {
    refuse(origin, txn,
           error_reply(errc::nodedown, "cannot register '" + entry.name + "': the node of " +
                                           to_string(entry.holder) + " is down"));
    return;
  }
  reserved_[entry.name] = reservation{entry.holder, now + registry_defaults::reservation_timeout};
  greg_commit c{txn, origin, me_, entry};
  if (entry.node == me_) {
    commit(c);
  } else {
    send_to(entry.node, std::move(c));
  }
}

void global_server::handle_cast(const greg_commit& c) {
  commit(c);
}

// As the holder's node: applies a registration the arbiter accepted, unless this node knows
// better (the holder has exited; another holder the arbiter could not see).
void global_server::commit(const greg_commit& c) {
  const global_entry& e = c.entry;
  if (e.node != me_) return;
  auto refused = [&](global_reply reply) {
    refuse(c.origin, c.txn, std::move(reply));
    if (c.arbiter == me_) {
      handle_cast(greg_release{e.name, e.holder});
    } else {
      send_to(c.arbiter, greg_release{e.name, e.holder});
    }
  };
  if (!rt().alive(e.holder)) {
    refused(error_reply(
        errc::noproc, "cannot register '" + e.name + "': " + to_string(e.holder) + " has exited"));
    return;
  }
  if (auto held = table_.winner(e.name); held && held->holder != e.holder) {
    refused(taken(e.name, *held));
    return;
  }
  if (!first_commit(c)) {
    // A second commit of one claim (a late one from an arbiter given up on, which a retry
    // asked again): the claim is over or already applied; applying it again could bring
    // back a name unregistered since.
    detail::log().debug("global {}: ignored a second commit of '{}' (txn {} of {}, from {})", me_,
                        e.name, c.txn, c.origin, c.arbiter);
    if (c.arbiter != me_) send_to(c.arbiter, greg_release{e.name, e.holder});
    return;
  }
  own_add(e, c.txn, c.origin);
}

bool global_server::first_commit(const greg_commit& c) {
  if (c.origin == me_) {
    auto it = claims_.find(c.txn);
    if (it == claims_.end() || it->second.applied || it->second.committed) return false;
    it->second.committed = true;  // its greg_applied comes through the mailbox
    return true;
  }
  auto key = std::make_pair(c.origin, c.txn);
  if (!committed_.insert(key).second) return false;
  committed_order_.push_back(std::move(key));
  if (committed_order_.size() > remembered_commits) {
    committed_.erase(committed_order_.front());
    committed_order_.pop_front();
  }
  return true;
}

void global_server::handle_cast(const greg_release& r) {
  release(r.name, r.holder);
}

void global_server::release(const std::string& name, const pid& holder) {
  if (auto it = reserved_.find(name); it != reserved_.end() && it->second.holder == holder) {
    reserved_.erase(it);
  }
}

void global_server::handle_cast(const greg_outcome& o) {
  auto it = claims_.find(o.txn);
  if (it == claims_.end()) {
    if (auto rit = removals_.find(o.txn); rit != removals_.end()) {
      cancel_timer(rit->second.timer);
      rit->second.caller.reply(o.reply);
      removals_.erase(rit);
    }
    return;
  }
  request& c = it->second;
  if (c.async && !o.reply.ok && o.reply.code == static_cast<std::uint8_t>(errc::nodedown) &&
      c.entry.node == me_ && rt().alive(c.entry.holder) && ++c.unseen <= async_unseen_retries) {
    // The arbiter has not seen this node up yet (membership is forming): asked again shortly
    // rather than end the child with nodedown (the deadline waits meanwhile).
    cancel_timer(c.timer);
    c.timer = send_after(unseen_retry, self(), claim_retry{o.txn});
    return;
  }
  const pid holder = o.reply.holder;
  if (holder && holder.node == rt().node_id() && !rt().alive(holder) && ++it->second.retries <= 3) {
    // Refused for a process of ours that has exited (its DOWN is on its way): remove its
    // name now, then ask again (FIFO puts the removal first at the arbiter).
    own_remove(it->second.entry.name, holder, 0, {}, true);
    send_claim(o.txn, it->second);
    return;
  }
  cancel_timer(it->second.timer);
  answer(it->second, o.reply);
  claims_.erase(it);
}

void global_server::handle_cast(const greg_applied& a) {
  request* r = nullptr;
  if (auto it = claims_.find(a.txn); it != claims_.end()) {
    r = &it->second;
  } else if (auto rit = removals_.find(a.txn); rit != removals_.end()) {
    r = &rit->second;
  } else {
    if (auto ab = abandoned_.find(a.txn); ab != abandoned_.end()) {
      // A registration answered `timeout` that happened after all: undo it.
      remove(0, {}, ab->second.name, ab->second.holder, false);
      abandoned_.erase(ab);
    }
    return;
  }
  r->applied = true;
  r->waiting.clear();
  for (const auto& n : a.waiting) {
    if ((n == me_ || up_.contains(n)) && !r->acked.contains(n)) r->waiting.insert(n);
  }
  if (claims_.count(a.txn) > 0) {
    finish_claim(a.txn);
  } else {
    finish_removal(a.txn);
  }
}

void global_server::handle_cast(const greg_ack& a) {
  if (auto it = claims_.find(a.txn); it != claims_.end()) {
    request& c = it->second;
    c.acked.insert(a.node);
    c.waiting.erase(a.node);
    if (!a.ok && !c.refused_by) {
      // Another holder is known there. Of the two, the rule decides; only the loser undoes
      // (the winner's registrant ignores the same refusal about it).
      const global_entry other{c.entry.name, a.holder, node_name_of(a.holder), 0};
      if (!other.node.empty() && keeps_name(other, c.entry)) c.refused_by = a.holder;
    }
    finish_claim(a.txn);
  } else if (auto rit = removals_.find(a.txn); rit != removals_.end()) {
    rit->second.acked.insert(a.node);
    rit->second.waiting.erase(a.node);
    finish_removal(a.txn);
  }  // else late: finished without it
}

void global_server::finish_claim(std::uint64_t txn) {
  auto it = claims_.find(txn);
  if (it == claims_.end() || !it->second.applied || !it->second.waiting.empty()) return;
  request c = std::move(it->second);
  claims_.erase(it);
  cancel_timer(c.timer);
  if (c.refused_by) {
    // A member knew of a holder that keeps the name (membership was changing): undo.
    remove(0, {}, c.entry.name, c.entry.holder, false);
    answer(c, error_reply(errc::already_registered,
                          "name '" + c.entry.name + "' is already registered to " +
                              to_string(*c.refused_by),
                          *c.refused_by));
    return;
  }
  answer(c, ok_reply_of());
}

void global_server::answer(request& c, global_reply reply) {
  if (c.async && !reply.ok) {
    detail::log().warn("global: cannot register '{}' to {}: {}", c.entry.name,
                       to_string(c.entry.holder), reply.message);
    // The reason says why: taken (already_registered, what a supervisor's restart rules
    // expect), or another failure (timeout, nodedown, ...).
    if (c.entry.holder) {
      otter::exit(c.entry.holder,
                  exit_reason(std::string(to_string(static_cast<errc>(reply.code)))));
    }
  }
  c.caller.reply(std::move(reply));
}

void global_server::refuse(const std::string& origin, std::uint64_t txn, global_reply reply) {
  if (txn == 0) return;
  greg_outcome o{txn, std::move(reply)};
  if (origin == me_) {
    handle_cast(o);
  } else {
    send_to(origin, std::move(o));
  }
}

// ---- unregistration and removals ----

noreply_t global_server::handle_call(const global_unregister& r, from& f) {
  auto held = table_.winner(r.name);
  if (!held) {
    f.reply(error_reply(errc::not_registered, "no name '" + r.name + "' is registered globally"));
    return noreply;
  }
  const std::uint64_t txn = ++txn_;
  request& c = removals_[txn];
  c.caller = std::move(f);
  c.entry = *held;
  c.timer = send_after(std::chrono::milliseconds(std::max<std::int64_t>(r.timeout_ms, 1)), self(),
                       removal_deadline{txn});
  if (held->node == me_) {
    remove(txn, me_, r.name, held->holder, false);
  } else {
    send_to(held->node, greg_unreg{txn, me_, r.name, held->holder});
  }
  return noreply;
}

void global_server::handle_cast(const greg_unreg& u) {
  remove(u.txn, u.origin, u.name, u.holder, false);
}

// As the holder's node (or on the way to it): removes `name` from `holder`.
void global_server::remove(std::uint64_t txn, const std::string& origin, const std::string& name,
                           const pid& holder, bool exited) {
  const std::string owner = node_name_of(holder);
  if (owner.empty()) {
    refuse(origin, txn,
           error_reply(errc::nodedown, "cannot unregister '" + name + "': the node of " +
                                           to_string(holder) + " is not connected"));
    return;
  }
  if (owner != me_) {
    send_to(owner, greg_unreg{txn, origin, name, holder});
    return;
  }
  if (!own_remove(name, holder, txn, origin, exited)) {
    refuse(origin, txn,
           error_reply(errc::not_registered,
                       "'" + name + "' is not registered to " + to_string(holder) + " any more"));
  }
}

void global_server::finish_removal(std::uint64_t txn) {
  auto it = removals_.find(txn);
  if (it == removals_.end() || !it->second.applied || !it->second.waiting.empty()) return;
  request r = std::move(it->second);
  removals_.erase(it);
  cancel_timer(r.timer);
  global_reply done = ok_reply_of();
  done.holder = r.entry.holder;  // the holder it was removed from
  r.caller.reply(std::move(done));
}

// ---- this node's own names ----

void global_server::own_add(const global_entry& e, std::uint64_t txn, const std::string& origin) {
  table_.own_add(e);
  release(e.name, e.holder);  // applied: the table answers from now on
  detail::log().debug("global {}: own add '{}' {} (seq {}, txn {} of {})", me_, e.name,
                      to_string(e.holder), table_.seq(), txn, origin);
  s_.registered.fetch_add(1, std::memory_order_relaxed);
  auto [it, fresh] = local_.try_emplace(e.holder);
  if (fresh) it->second.ref = monitor(e.holder);
  it->second.names.insert(e.name);
  announce(true, e, txn, origin, false);
  refresh();
}

bool global_server::own_remove(const std::string& name, const pid& holder, std::uint64_t txn,
                               const std::string& origin, bool exited, const pid& lost_to) {
  auto e = table_.own(name);
  if (!e || e->holder != holder || !table_.own_remove(name, holder)) return false;
  detail::log().debug("global {}: own remove '{}' {} (seq {}, txn {} of {}{})", me_, name,
                      to_string(holder), table_.seq(), txn, origin, exited ? ", exited" : "");
  s_.unregistered.fetch_add(1, std::memory_order_relaxed);
  // Its reservation too, when this node arbitrated it: a successor (a restarted child) must
  // not be refused for a holder that is gone.
  release(name, holder);
  if (auto it = local_.find(holder); it != local_.end()) {
    it->second.names.erase(name);
    if (it->second.names.empty()) {
      demonitor(it->second.ref);
      local_.erase(it);
    }
  }
  announce(false, *e, txn, origin, exited, lost_to);
  if (lost_to) lost(name, holder, lost_to);
  refresh();
  return true;
}

void global_server::lost(const std::string& name, const pid& holder, const pid& winner) {
  for (auto& [txn, c] : claims_) {
    if (c.entry.name == name && c.entry.holder == holder && !c.refused_by) c.refused_by = winner;
  }
}

// Sends change number seq of our own names to every member, then, for a request, tells its
// origin which members it waits for.
void global_server::announce(bool add, const global_entry& e, std::uint64_t txn,
                             const std::string& origin, bool exited, const pid& lost_to) {
  broadcast(greg_update{me_, table_.seq(), add, e, txn, origin, exited, lost_to});
  if (txn != 0) applied(txn, origin);
}

void global_server::applied(std::uint64_t txn, const std::string& origin) {
  std::vector<std::string> waiting(up_.begin(), up_.end());
  if (origin == me_) {
    // Through the mailbox, not a direct call: the change reaches this node's readers (refresh,
    // at the end of own_add / own_remove) before its caller can be answered. A direct call
    // answered a lone node's register_global while whereis_global still missed the name.
    send_to(me_, greg_applied{txn, std::move(waiting)});
  } else {
    waiting.push_back(origin);  // the origin applies the update too, and acknowledges itself
    send_to(origin, greg_applied{txn, std::move(waiting)});
  }
}

void global_server::handle_cast(const greg_update& u) {
  if (u.node == me_) return;
  const bool applied_here = table_.update(u.node, u.seq, u.add, u.entry);
  if (!u.add && u.lost_to) lost(u.entry.name, u.entry.holder, u.lost_to);
  detail::log().debug("global {}: update {}#{} {} '{}' {}{}", me_, u.node, u.seq,
                      u.add ? "add" : "remove", u.entry.name, to_string(u.entry.holder),
                      applied_here ? "" : " (stale, ignored)");
  if (u.add) {
    s_.registered.fetch_add(1, std::memory_order_relaxed);
  } else {
    s_.unregistered.fetch_add(1, std::memory_order_relaxed);
  }
  if (!u.add) {
    release(u.entry.name, u.entry.holder);
  } else if (auto it = reserved_.find(u.entry.name); it != reserved_.end()) {
    reserved_.erase(it);  // applied: the replica answers from now on
  }
  refresh();
  if (u.txn == 0) return;
  greg_ack ack{u.txn, me_, true, {}};
  if (u.add) {
    if (auto w = table_.winner(u.entry.name); w && w->holder != u.entry.holder) {
      ack.ok = false;
      ack.holder = w->holder;
    }
  }
  if (u.origin == me_) {
    handle_cast(ack);
  } else {
    send_to(u.origin, std::move(ack));
  }
}

void global_server::drop_if_dead_local(const std::string& name) {
  auto held = table_.own(name);
  if (!held || rt().alive(held->holder)) return;
  own_remove(name, held->holder, 0, {}, true);
}

void global_server::refresh() {
  {
    // Only the authorities that changed: a refresh per message must not cost O(members).
    const auto nodes = table_.take_touched_nodes();
    std::unique_lock<std::shared_mutex> l(s_.mutex);
    s_.seqs[me_] = table_.seq();
    for (const auto& n : nodes) {
      if (table_.has_replica(n)) {
        s_.seqs[n] = table_.seq_of(n);
      } else {
        s_.seqs.erase(n);
      }
    }
  }
  for (const auto& name : table_.take_touched()) {
    auto holders = table_.holders(name);
    {
      std::unique_lock<std::shared_mutex> l(s_.mutex);
      if (holders.empty()) {
        s_.names.erase(name);
      } else {
        s_.names[name] = holders.front();
      }
    }
    // Held twice: the loser's node (its authority) gives the name up and tells the loser,
    // once the winner's node confirms the winner still holds it (greg_confirm).
    for (std::size_t i = 1; i < holders.size(); ++i) {
      const global_entry& loser = holders[i];
      if (loser.node != me_) continue;
      const global_entry& winner = holders.front();
      if (winner.node == me_) {
        give_up(name, loser, winner);
      } else if (!confirming_.contains(name)) {
        confirming_[name] = winner;
        send_to(winner.node, greg_confirm{me_, name, winner.holder});
      }
    }
  }
}

void global_server::give_up(const std::string& name, const global_entry& loser,
                            const global_entry& winner) {
  s_.conflicts.fetch_add(1, std::memory_order_relaxed);
  detail::log().warn("global: name conflict on '{}': {} on {} keeps it, {} on {} loses it", name,
                     to_string(winner.holder), winner.node, to_string(loser.holder), loser.node);
  own_remove(name, loser.holder, 0, {}, false, winner.holder);
  (void)send(loser.holder, name_conflict{name, winner.holder});
  if (loser.policy == static_cast<std::uint8_t>(conflict_policy::exit)) {
    otter::exit(loser.holder, exit_reason("name_conflict"));
  }
}

void global_server::handle_cast(const greg_confirm& c) {
  auto e = table_.own(c.name);
  send_to(c.asker, greg_confirmed{c.name, c.holder, e && e->holder == c.holder});
}

void global_server::handle_cast(const greg_confirmed& c) {
  auto it = confirming_.find(c.name);
  if (it == confirming_.end() || it->second.holder != c.holder) return;
  const global_entry winner = it->second;
  confirming_.erase(it);
  auto holders = table_.holders(c.name);
  if (!c.held || holders.size() < 2 || holders.front().holder != winner.holder) {
    // Stale: that holder is gone (its removal arrived before this answer). Whatever holds
    // the name now is looked at afresh.
    table_.touch(c.name);
    refresh();
    return;
  }
  for (std::size_t i = 1; i < holders.size(); ++i) {
    if (holders[i].node == me_) give_up(c.name, holders[i], holders.front());
  }
}

// ---- membership, timers, holders ----

void global_server::handle_info(const nodeup& u) {
  if (u.node == me_ || !members_->is_member(u.node)) return;
  sync_with(u.node, false);
}

void global_server::sync_with(const std::string& node, bool want_reply) {
  if (node == me_) return;
  detail::log().debug("global {}: nodeup {}; sync sent (seq {})", me_, node, table_.seq());
  up_.insert(node);
  send_to(node, greg_sync{me_, table_.seq(), table_.own_entries(), want_reply});
}

void global_server::handle_cast(const greg_sync& s) {
  if (s.node == me_) return;
  detail::log().debug("global {}: sync from {} (seq {}, {} name(s))", me_, s.node, s.seq,
                      s.entries.size());
  table_.sync(s.node, s.seq, s.entries);
  refresh();  // the names first: wait_synced must not return before whereis_global has them
  {
    std::unique_lock<std::shared_mutex> l(s_.mutex);
    s_.synced.insert(s.node);
  }
  s_.synced_cv.notify_all();
  if (s.want_reply) send_to(s.node, greg_sync{me_, table_.seq(), table_.own_entries(), false});
}

void global_server::handle_info(const nodedown& d) {
  detail::log().debug("global {}: nodedown {} ({})", me_, d.node, d.reason);
  up_.erase(d.node);
  std::erase_if(confirming_, [&](const auto& kv) { return kv.second.node == d.node; });
  const std::size_t before = s_.stats().names;
  table_.drop(d.node);
  {
    std::unique_lock<std::shared_mutex> l(s_.mutex);
    s_.synced.erase(d.node);
  }
  refresh();
  const std::size_t after = s_.stats().names;
  if (after < before) {
    detail::log().info("global: {} name(s) of node {} removed ({})", before - after, d.node,
                       d.reason);
  }
  std::erase_if(reserved_, [&](const auto& kv) { return node_name_of(kv.second.holder).empty(); });
  std::vector<std::uint64_t> txns;
  for (auto it = removals_.begin(); it != removals_.end();) {
    request& r = it->second;
    if (!r.applied && r.entry.node == d.node) {
      // The holder's node went away before it removed the name: it still holds it there.
      cancel_timer(r.timer);
      r.caller.reply(error_reply(errc::nodedown, "cannot unregister '" + r.entry.name +
                                                     "': the holder's node " + d.node +
                                                     " went down (" + d.reason + ")"));
      it = removals_.erase(it);
      continue;
    }
    if (r.waiting.erase(d.node) > 0) txns.push_back(it->first);
    ++it;
  }
  for (auto txn : txns) finish_removal(txn);
  txns.clear();
  for (auto& [txn, c] : claims_) txns.push_back(txn);
  for (auto txn : txns) {
    auto it = claims_.find(txn);
    if (it == claims_.end()) continue;
    request& c = it->second;
    if (c.arbiter == d.node && !c.applied) {
      detail::log().info("global: arbiter {} of '{}' went down; asking the next one", d.node,
                         c.entry.name);
      send_claim(txn, c);
    } else if (c.waiting.erase(d.node) > 0) {
      finish_claim(txn);
    }
  }
}

void global_server::handle_info(const claim_deadline& t) {
  auto it = claims_.find(t.txn);
  if (it == claims_.end()) return;
  request& c = it->second;
  if (c.async && rt().alive(c.entry.holder) && c.patience < async_patience) {
    // A supervised child's name: no caller waits for it, and killing the child for a busy
    // member (100 nodes starting at once on two cores) only starts a restart loop that ends
    // its supervisor. It waits, as Erlang's `global` does: for the members' confirmations
    // (a refusal still ends the child), or for an arbiter asked again.
    ++c.patience;
    if (c.applied) {
      std::string who;
      for (const auto& n : c.waiting) who += (who.empty() ? "" : ", ") + n;
      detail::log().info("global: '{}' is registered; member(s) {} have not confirmed it yet",
                         c.entry.name, who);
    } else {
      detail::log().warn("global: arbiter {} has not answered for '{}'; asking again", c.arbiter,
                         c.entry.name);
      send_claim(t.txn, c);
      it = claims_.find(t.txn);  // send_claim may have answered it
      if (it == claims_.end()) return;
    }
    it->second.timer = send_after(it->second.timeout, self(), claim_deadline{t.txn});
    return;
  }
  std::string why = "its arbiter " + c.arbiter + " did not answer";
  if (c.applied) {
    // Applied, but members still up have not said they have it: success would be a promise
    // (read-your-writes) not kept. Undone instead, as a registration that never happened.
    why.clear();
    for (const auto& n : c.waiting) why += (why.empty() ? "" : ", ") + n;
    why = "member(s) " + why + " did not confirm it; undone";
    detail::log().warn("global: registering '{}' timed out: {}", c.entry.name, why);
  }
  answer(c, error_reply(errc::timeout, "registering '" + c.entry.name + "' timed out: " + why));
  // Should it be applied after all, it is undone: now, in case it was and the news is late,
  // and when its greg_applied comes.
  abandoned_[t.txn] = c.entry;
  if (abandoned_.size() > 4096) abandoned_.erase(abandoned_.begin());
  remove(0, {}, c.entry.name, c.entry.holder, false);
  claims_.erase(it);
}

void global_server::handle_info(const claim_retry& t) {
  auto it = claims_.find(t.txn);
  if (it == claims_.end()) return;
  it->second.timer = send_after(it->second.timeout, self(), claim_deadline{t.txn});
  send_claim(t.txn, it->second);
}

void global_server::handle_info(const removal_deadline& t) {
  auto it = removals_.find(t.txn);
  if (it == removals_.end()) return;
  request& r = it->second;
  std::string why = "the holder's node " + r.entry.node + " did not answer";
  if (r.applied) {
    // Removed at the holder's node, which tells its members; some have not confirmed yet.
    why.clear();
    for (const auto& n : r.waiting) why += (why.empty() ? "" : ", ") + n;
    why = "member(s) " + why + " did not confirm it yet (the holder's node removed it)";
    detail::log().warn("global: unregistering '{}' timed out: {}", r.entry.name, why);
  }
  r.caller.reply(
      error_reply(errc::timeout, "unregistering '" + r.entry.name + "' timed out: " + why));
  removals_.erase(it);
}

void global_server::handle_info(const down& d) {
  auto it = local_.find(d.who);
  if (it == local_.end() || it->second.ref != d.ref) return;
  const std::set<std::string> names = it->second.names;
  for (const auto& name : names) own_remove(name, d.who, 0, {}, true);
}

global_names global_server::handle_call(const global_list&, from&) {
  return global_names{s_.sorted_entries(), s_.stats()};
}

}  // namespace otter::registry_detail
