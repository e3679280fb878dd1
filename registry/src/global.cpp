// The global registry's server: one per node, named `otter.global`.
//
// Each name has an arbiter: the member (this node included) with the highest rendezvous hash
// of (name, node name). A registration goes to the arbiter, which serialises the registrations
// of its names: it checks its replica, commits the entry to every member, waits for their
// acknowledgements and only then answers. So two registrations of one name meet at one place
// (exactly one wins), and success means every member already has the entry. The holder's own
// node monitors the holder and removes the name everywhere when it exits; every node drops the
// names of a node that goes down. On connection, nodes exchange the names their processes
// hold; a name found held by two Pids (after a partition) is resolved by a fixed rule that
// every node applies alike. docs/REGISTRY.md has the model, docs/PROTOCOL.md the messages.
#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include <otter/node.hpp>
#include "otter/log.hpp"

#include "otter/global.hpp"
#include "protocol.hpp"

namespace otter {

using namespace registry_protocol;

std::string_view to_string(conflict_policy p) noexcept {
  switch (p) {
    case conflict_policy::exit: return "exit";
    case conflict_policy::notify: return "notify";
  }
  return "unknown";
}

namespace {
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
}  // namespace

struct global_registry::state {
  mutable std::shared_mutex mutex;  // protects names, synced, members_of and owner
  otter::node* owner = nullptr;     // null once the node has shut down
  std::unordered_map<std::string, global_entry, string_hash, std::equal_to<>> names;
  std::set<std::string> synced;  // connected members whose names have arrived
  std::map<std::string, std::vector<std::string>> members_of;  // what each synced one knows
  std::condition_variable_any synced_cv;
  std::atomic<std::uint64_t> registered{0}, unregistered{0}, conflicts{0};  // relaxed counters

  // Every entry, by name (any thread).
  std::vector<global_entry> sorted_entries() const {
    std::vector<global_entry> out;
    {
      std::shared_lock<std::shared_mutex> l(mutex);
      out.reserve(names.size());
      for (const auto& [name, e] : names) out.push_back(e);
    }
    std::sort(out.begin(), out.end(),
              [](const global_entry& a, const global_entry& b) { return a.name < b.name; });
    return out;
  }
  registry_stats stats() const {
    registry_stats st;
    {
      std::shared_lock<std::shared_mutex> l(mutex);
      st.names = names.size();
    }
    st.registered = registered.load(std::memory_order_relaxed);
    st.unregistered = unregistered.load(std::memory_order_relaxed);
    st.conflicts = conflicts.load(std::memory_order_relaxed);
    return st;
  }
};

namespace registry_detail {

// Timers of the server (local only).
struct claim_deadline {
  std::uint64_t txn = 0;
  MSGPACK_DEFINE(txn);
};
OTTER_MESSAGE_AS(claim_deadline, "claim_deadline");
struct ack_deadline {
  std::uint64_t txn = 0;
  MSGPACK_DEFINE(txn);
};
OTTER_MESSAGE_AS(ack_deadline, "ack_deadline");

std::uint64_t mix(std::uint64_t x) noexcept {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The rule every node applies to a name held by two Pids: the lower node name keeps it; on one
// node, the newer incarnation, then the newer process (a higher id: ids grow).
bool keeps_name(const global_entry& a, const global_entry& b) {
  if (a.node != b.node) return a.node < b.node;
  if (a.holder.creation != b.holder.creation) return a.holder.creation > b.holder.creation;
  return a.holder.id > b.holder.id;
}

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

class global_server : public gen_server<global_server> {
 public:
  using calls = msgs<global_register, global_unregister, global_list>;
  using casts = msgs<global_register, greg_claim, greg_commit, greg_remove, greg_ack, greg_outcome,
                     greg_sync>;
  using infos = msgs<nodeup, nodedown, claim_deadline, ack_deadline>;

  global_server(node& n, global_registry::state* s) : node_(n), s_(*s), me_(n.name()) {}

  void init() {
    node_.monitor_nodes(self());
    for (const auto& m : node_.nodes()) member_up(m.name);
  }
  void terminate(const exit_reason&) { node_.monitor_nodes(self(), false); }

  // ---- requests from this node's processes (or otterctl) ----
  noreply_t handle_call(const global_register& r, from& f) {
    start_claim(r, std::move(f));
    return noreply;
  }
  // The same as a cast, for a supervisor registering the child it just started (it cannot
  // wait): a refused registration ends the holder with reason already_registered.
  void handle_cast(const global_register& r) { start_claim(r, from{}); }

  void start_claim(const global_register& r, from f) {
    const bool async = !f.valid();
    auto refuse = [&](global_reply reply) {
      if (async) {
        otter::detail::log().warn("global: cannot register '{}' to {}: {}", r.name,
                                  to_string(r.holder), reply.message);
        if (r.holder) otter::exit(r.holder, exit_reason("already_registered"));
      }
      f.reply(std::move(reply));
    };
    if (r.name.empty() || !r.holder) {
      refuse(error_reply(errc::badarg, "a global name needs a name and a Pid"));
      return;
    }
    if (r.policy > static_cast<std::uint8_t>(conflict_policy::notify)) {
      refuse(error_reply(errc::badarg, "unknown conflict policy " + std::to_string(r.policy)));
      return;
    }
    std::string holder_node = node_name_of(r.holder);
    if (holder_node.empty()) {
      refuse(error_reply(errc::nodedown, "cannot register '" + r.name + "' to " +
                                             to_string(r.holder) + ": its node is not connected"));
      return;
    }
    drop_if_dead_local(r.name);
    const std::uint64_t txn = ++txn_;
    claim& c = claims_[txn];
    c.async = async;
    c.caller = std::move(f);
    c.entry = global_entry{r.name, r.holder, std::move(holder_node), r.policy};
    const auto timeout = std::chrono::milliseconds(std::max<std::int64_t>(r.timeout_ms, 1));
    c.timer = send_after(timeout, self(), claim_deadline{txn});
    send_claim(txn, c);
  }

  noreply_t handle_call(const global_unregister& r, from& f) {
    auto held = lookup(r.name);
    if (!held) {
      f.reply(error_reply(errc::not_registered, "no name '" + r.name + "' is registered globally"));
      return noreply;
    }
    remove_local(r.name, held->holder);
    const std::uint64_t txn = ++txn_;
    removal& c = removals_[txn];
    c.caller = std::move(f);
    c.name = r.name;
    c.waiting = up_;
    broadcast(greg_remove{txn, me_, r.name, held->holder, false});
    const auto wait = std::min<std::chrono::milliseconds>(
        registry_defaults::ack_timeout,
        std::chrono::milliseconds(std::max<std::int64_t>(r.timeout_ms, 1)));
    c.timer = send_after(wait, self(), ack_deadline{txn});
    finish_removal(txn);
    return noreply;
  }

  global_names handle_call(const global_list&, from&) {
    return global_names{s_.sorted_entries(), s_.stats()};
  }

  // ---- between registry servers ----
  void handle_cast(const greg_claim& c) {
    note_member(c.origin);
    arbitrate(c.txn, c.origin, c.entry);
  }

  void handle_cast(const greg_commit& c) {
    note_member(c.arbiter);
    auto kept = apply(c.entry, false);
    const bool refused = kept && *kept != c.entry.holder;
    if (c.origin != me_) {
      greg_ack ack{c.txn, me_, !refused, refused ? *kept : pid{}};
      (void)cast(dest::at(global_server_name, c.origin), ack);
      return;
    }
    // The arbiter's answer to our own claim: done once the listed members have acknowledged.
    auto it = claims_.find(c.txn);
    if (it == claims_.end()) {
      // The claim timed out meanwhile and its caller was told so: undo the registration.
      if (!refused) {
        remove_local(c.entry.name, c.entry.holder);
        broadcast(greg_remove{0, me_, c.entry.name, c.entry.holder, false});
      }
      return;
    }
    claim& cl = it->second;
    cl.committed = true;
    cl.waiting.clear();
    for (const auto& n : c.waiting) {
      if (n != me_ && up_.contains(n) && !cl.acked.contains(n)) cl.waiting.insert(n);
    }
    if (refused && !cl.refused_by) cl.refused_by = *kept;
    finish_claim(c.txn);
  }

  void handle_cast(const greg_remove& r) {
    note_member(r.origin);
    if (r.exited) note_dead(r.holder);
    remove_local(r.name, r.holder);
    if (r.txn != 0) {
      (void)cast(dest::at(global_server_name, r.origin), greg_ack{r.txn, me_, true, {}});
    }
  }

  void handle_cast(const greg_ack& a) {
    if (auto it = claims_.find(a.txn); it != claims_.end()) {
      claim& cl = it->second;
      cl.acked.insert(a.node);
      cl.waiting.erase(a.node);
      if (!a.ok && !cl.refused_by) cl.refused_by = a.holder;
      finish_claim(a.txn);
    } else if (auto rit = removals_.find(a.txn); rit != removals_.end()) {
      rit->second.waiting.erase(a.node);
      finish_removal(a.txn);
    }  // else late: finished without it
  }

  void handle_cast(const greg_outcome& o) {  // the arbiter refused our claim
    auto it = claims_.find(o.txn);
    if (it == claims_.end()) return;
    const pid holder = o.reply.holder;
    if (holder && holder.node == this_runtime().node_id() && !this_runtime().alive(holder) &&
        ++it->second.retries <= 3) {
      // Refused for a process of ours that has exited (its earlier claim reached the arbiter
      // after it died): remove that one everywhere, then ask again (FIFO puts the removal
      // first at the arbiter).
      note_dead(holder);
      remove_local(it->second.entry.name, holder);
      broadcast(greg_remove{0, me_, it->second.entry.name, holder, true});
      send_claim(o.txn, it->second);
      return;
    }
    cancel_timer(it->second.timer);
    answer(it->second, o.reply);
    claims_.erase(it);
  }

  void handle_cast(const greg_sync& s) {
    note_member(s.node);
    for (const auto& e : s.entries) {
      if (e.node == s.node) (void)apply(e, true);  // a node speaks for its own processes only
    }
    {
      std::unique_lock<std::shared_mutex> l(s_.mutex);
      s_.synced.insert(s.node);
      s_.members_of[s.node] = s.members;
    }
    s_.synced_cv.notify_all();
  }

  // ---- membership ----
  void handle_info(const nodeup& u) { member_up(u.node); }

  void handle_info(const nodedown& d) {
    up_.erase(d.node);
    {
      std::unique_lock<std::shared_mutex> l(s_.mutex);
      s_.synced.erase(d.node);
      s_.members_of.erase(d.node);
    }
    std::vector<std::pair<std::string, pid>> gone;
    {
      std::shared_lock<std::shared_mutex> l(s_.mutex);
      for (const auto& [name, e] : s_.names) {
        if (e.node == d.node) gone.emplace_back(name, e.holder);
      }
    }
    for (const auto& [name, holder] : gone) remove_local(name, holder);
    if (!gone.empty()) {
      otter::detail::log().info("global: {} name(s) of node {} removed ({})", gone.size(), d.node,
                                d.reason);
    }
    std::vector<std::uint64_t> txns;
    for (auto& [txn, c] : removals_) {
      if (c.waiting.erase(d.node) > 0) txns.push_back(txn);
    }
    for (auto txn : txns) finish_removal(txn);
    txns.clear();
    for (auto& [txn, c] : claims_) txns.push_back(txn);
    for (auto txn : txns) {
      auto it = claims_.find(txn);
      if (it == claims_.end()) continue;
      claim& c = it->second;
      if (c.arbiter == d.node && !c.committed) {
        otter::detail::log().info("global: arbiter {} of '{}' went down; asking the next one",
                                  d.node, c.entry.name);
        send_claim(txn, c);
      } else if (c.waiting.erase(d.node) > 0) {
        finish_claim(txn);
      }
    }
  }

  void handle_info(const claim_deadline& t) {
    auto it = claims_.find(t.txn);
    if (it == claims_.end()) return;
    claim& c = it->second;
    if (c.committed) {
      // Committed, but a member stays silent: it is about to be declared down. The name is
      // ours everywhere else.
      otter::detail::log().warn("global: no acknowledgement from {} member(s) for '{}'; going on",
                                c.waiting.size(), c.entry.name);
      c.waiting.clear();
      finish_claim(t.txn);
      return;
    }
    answer(c,
           error_reply(errc::timeout, "registering '" + c.entry.name + "' timed out: its arbiter " +
                                          c.arbiter + " did not answer"));
    claims_.erase(it);
  }

  void handle_info(const ack_deadline& t) {
    auto it = removals_.find(t.txn);
    if (it == removals_.end()) return;
    otter::detail::log().warn(
        "global: no acknowledgement from {} member(s) for removing '{}'; going on",
        it->second.waiting.size(), it->second.name);
    it->second.waiting.clear();
    finish_removal(t.txn);
  }

  void handle_info(const down& d) {
    auto it = local_.find(d.who);
    if (it == local_.end() || it->second.ref != d.ref) return;
    const std::vector<std::string> names = it->second.names;
    note_dead(d.who);
    for (const auto& name : names) {
      remove_local(name, d.who);
      broadcast(greg_remove{0, me_, name, d.who, true});
    }
  }

 private:
  struct claim {  // a registration this node asked for
    from caller;
    global_entry entry;
    std::string arbiter;
    bool committed = false;         // the arbiter's commit arrived
    std::set<std::string> waiting;  // members whose acknowledgement is still due
    std::set<std::string> acked;    // acknowledgements (they may beat the commit)
    std::optional<pid> refused_by;  // a member knew another holder
    std::uint64_t timer = 0;
    bool async = false;  // cast by a supervisor: a refusal ends the holder
    int retries = 0;     // after refusals for a dead holder of ours
  };
  struct removal {  // an unregistration waiting for acknowledgements
    from caller;
    std::string name;
    std::set<std::string> waiting;
    std::uint64_t timer = 0;
  };
  struct holder_state {  // a local process holding names
    monitor_ref ref = 0;
    std::vector<std::string> names;
  };

  std::string node_name_of(const pid& p) {
    if (p.node == node_id_of(me_)) return me_;
    for (const auto& n : up_) {
      if (node_id_of(n) == p.node) return n;
    }
    for (const auto& n : node_.nodes()) {
      if (node_id_of(n.name) == p.node) return n.name;
    }
    return {};
  }

  void member_up(const std::string& name) {
    bool visible = false;
    for (const auto& m : node_.nodes()) visible = visible || m.name == name;
    if (!visible) return;
    up_.insert(name);
    greg_sync s{me_, {}, {up_.begin(), up_.end()}};
    {
      std::shared_lock<std::shared_mutex> l(s_.mutex);
      for (const auto& [n, e] : s_.names) {
        if (e.node == me_) s.entries.push_back(e);
      }
    }
    (void)cast(dest::at(global_server_name, name), std::move(s));
  }

  void note_member(const std::string& name) {
    if (name != me_) up_.insert(name);
  }

  std::string arbiter_of(const std::string& name) const {
    const std::uint64_t h = node_id_of(name);
    std::string best = me_;
    std::uint64_t best_score = mix(h ^ node_id_of(me_));
    for (const auto& n : up_) {
      const std::uint64_t score = mix(h ^ node_id_of(n));
      if (score > best_score || (score == best_score && n < best)) {
        best = n;
        best_score = score;
      }
    }
    return best;
  }

  // `c` may be answered (and erased) before this returns.
  void send_claim(std::uint64_t txn, claim& c) {
    c.arbiter = arbiter_of(c.entry.name);
    const global_entry entry = c.entry;
    if (c.arbiter == me_) {
      arbitrate(txn, me_, entry);
    } else {
      (void)cast(dest::at(global_server_name, c.arbiter), greg_claim{txn, me_, entry});
    }
  }

  template <class M>
  void broadcast(const M& m) {
    for (const auto& n : up_) (void)cast(dest::at(global_server_name, n), m);
  }

  void refuse_claim(const std::string& origin, std::uint64_t origin_txn, global_reply reply) {
    greg_outcome o{origin_txn, std::move(reply)};
    if (origin == me_) {
      handle_cast(o);
    } else {
      (void)cast(dest::at(global_server_name, origin), std::move(o));
    }
  }

  // As arbiter: the one place where registrations of `entry.name` are decided. A refusal goes
  // back to the registrant at once; an acceptance is committed to every member, the
  // registrant included, and the members acknowledge to the registrant directly.
  void arbitrate(std::uint64_t origin_txn, const std::string& origin, const global_entry& entry) {
    drop_if_dead_local(entry.name);
    if (auto held = lookup(entry.name); held && held->holder != entry.holder) {
      refuse_claim(origin, origin_txn,
                   error_reply(errc::already_registered,
                               "name '" + entry.name + "' is already registered to " +
                                   to_string(held->holder) + " on " + held->node,
                               held->holder));
      return;
    }
    if (entry.node != me_ && !up_.contains(entry.node)) {
      refuse_claim(
          origin, origin_txn,
          error_reply(errc::nodedown, "cannot register '" + entry.name + "': the node of " +
                                          to_string(entry.holder) + " is down"));
      return;
    }
    (void)apply(entry, false);
    greg_commit c{origin_txn, origin, me_, entry, {}};
    for (const auto& n : up_) {
      if (n != origin) c.waiting.push_back(n);
    }
    broadcast(c);
    if (origin == me_) handle_cast(c);
  }

  void finish_claim(std::uint64_t txn) {
    auto it = claims_.find(txn);
    if (it == claims_.end() || !it->second.committed || !it->second.waiting.empty()) return;
    claim c = std::move(it->second);
    claims_.erase(it);
    cancel_timer(c.timer);
    if (c.refused_by) {
      // A member knew of another holder (membership was changing): undo everywhere.
      remove_local(c.entry.name, c.entry.holder);
      broadcast(greg_remove{0, me_, c.entry.name, c.entry.holder, false});
      answer(c, error_reply(errc::already_registered,
                            "name '" + c.entry.name + "' is already registered to " +
                                to_string(*c.refused_by),
                            *c.refused_by));
      return;
    }
    answer(c, ok_reply_of());
  }

  void answer(claim& c, global_reply reply) {
    if (c.async && !reply.ok) {
      otter::detail::log().warn("global: cannot register '{}' to {}: {}", c.entry.name,
                                to_string(c.entry.holder), reply.message);
      otter::exit(c.entry.holder, exit_reason("already_registered"));
    }
    c.caller.reply(std::move(reply));
  }

  void finish_removal(std::uint64_t txn) {
    auto it = removals_.find(txn);
    if (it == removals_.end() || !it->second.waiting.empty()) return;
    removal r = std::move(it->second);
    removals_.erase(it);
    cancel_timer(r.timer);
    r.caller.reply(ok_reply_of());
  }

  std::optional<global_entry> lookup(const std::string& name) const {
    std::shared_lock<std::shared_mutex> l(s_.mutex);
    auto it = s_.names.find(name);
    if (it == s_.names.end()) return std::nullopt;
    return it->second;
  }

  // A name held by a process of this node that has exited, whose DOWN is still on its way:
  // free it now (everywhere), so a restarted server can take it over at once.
  void drop_if_dead_local(const std::string& name) {
    auto held = lookup(name);
    if (!held || held->holder.node != this_runtime().node_id()) return;
    if (this_runtime().alive(held->holder)) return;
    note_dead(held->holder);
    remove_local(name, held->holder);
    broadcast(greg_remove{0, me_, name, held->holder, true});
  }

  // Records `e`, resolving a conflict with another holder. Returns the holder that keeps the
  // name (nullopt when there was none before).
  // `established`: e is a holder the other side already has (a sync after a heal), so it is
  // told when it loses; a new registration (a commit) that loses is refused instead.
  // Entries of nodes that are down and of processes known to have exited are not recorded.
  std::optional<pid> apply(const global_entry& e, bool established) {
    if ((e.node != me_ && !up_.contains(e.node)) || dead_.contains(e.holder)) return std::nullopt;
    auto held = lookup(e.name);
    if (held && held->holder == e.holder) return e.holder;
    if (held) {
      s_.conflicts.fetch_add(1, std::memory_order_relaxed);
      const bool incoming_wins = keeps_name(e, *held);
      const global_entry& winner = incoming_wins ? e : *held;
      const global_entry& loser = incoming_wins ? *held : e;
      otter::detail::log().warn(
          "global: name conflict on '{}': {} on {} keeps it, {} on {} loses it", e.name,
          to_string(winner.holder), winner.node, to_string(loser.holder), loser.node);
      if (incoming_wins || established) notify_loser(loser, winner.holder);
      if (!incoming_wins) return held->holder;
      remove_local(held->name, held->holder);
    }
    {
      std::unique_lock<std::shared_mutex> l(s_.mutex);
      s_.names[e.name] = e;
    }
    s_.registered.fetch_add(1, std::memory_order_relaxed);
    if (e.holder.node == this_runtime().node_id()) {
      auto [it, fresh] = local_.try_emplace(e.holder);
      if (fresh) it->second.ref = monitor(e.holder);
      it->second.names.push_back(e.name);
    }
    return std::nullopt;
  }

  void notify_loser(const global_entry& loser, const pid& winner) {
    if (loser.holder.node != this_runtime().node_id()) return;  // its own node tells it
    (void)send(loser.holder, name_conflict{loser.name, winner});
    if (loser.policy == static_cast<std::uint8_t>(conflict_policy::exit)) {
      otter::exit(loser.holder, exit_reason("name_conflict"));
    }
  }

  // Remembers that `p` has exited (for a minute: long enough for any commit in flight).
  void note_dead(const pid& p) {
    const auto now = std::chrono::steady_clock::now();
    if (dead_.emplace(p, now).second && dead_.size() % 256 == 0) {
      std::erase_if(dead_,
                    [&](const auto& kv) { return now - kv.second > std::chrono::minutes(1); });
    }
  }

  // Forgets `name` if `holder` has it (idempotent).
  void remove_local(const std::string& name, const pid& holder) {
    {
      std::unique_lock<std::shared_mutex> l(s_.mutex);
      auto it = s_.names.find(name);
      if (it == s_.names.end() || it->second.holder != holder) return;
      s_.names.erase(it);
    }
    s_.unregistered.fetch_add(1, std::memory_order_relaxed);
    auto it = local_.find(holder);
    if (it == local_.end()) return;
    auto& names = it->second.names;
    names.erase(std::remove(names.begin(), names.end(), name), names.end());
    if (names.empty()) {
      demonitor(it->second.ref);
      local_.erase(it);
    }
  }

  node& node_;
  global_registry::state& s_;
  const std::string me_;
  std::set<std::string> up_;  // connected visible members
  std::uint64_t txn_ = 0;
  std::map<std::uint64_t, claim> claims_;      // by our txn
  std::map<std::uint64_t, removal> removals_;  // by our txn
  std::unordered_map<pid, holder_state> local_;
  std::unordered_map<pid, std::chrono::steady_clock::time_point> dead_;  // exited holders
};

}  // namespace registry_detail

global_registry::global_registry(node& n) : s_(std::make_unique<state>()) {
  s_->owner = &n;
}
global_registry::~global_registry() = default;

namespace {
// Registers a supervised child's global name (child_spec::global_name). A supervisor cannot
// wait for the cluster inside its handler, so the request is sent and the start goes on;
// should the name turn out taken, the registry ends the child with reason already_registered
// and the supervisor's restart rules apply.
result<void> register_child_globally(runtime&, const std::string& name, const pid& child) {
  global_register req{name, child, static_cast<std::uint8_t>(conflict_policy::exit),
                      registry_defaults::operation_timeout.count()};
  return cast(global_server_name, std::move(req));
}
}  // namespace

result<std::shared_ptr<global_registry>> global_registry::start(node& n) {
  runtime& rt = n.rt();
  if (global_registry::of(rt) != nullptr) {
    return error{errc::already_registered, "the global registry already runs on " + n.name()};
  }
  std::shared_ptr<global_registry> g(new global_registry(n));
  start_options so;
  so.name = global_server_name;
  auto p = rt.start_with<registry_detail::global_server>(so, n, g->s_.get());
  if (!p) return p.err();
  // Kept by the runtime until it stops; the resolver and the registrar go with it.
  detail::set_service(rt, g);
  detail::set_service(rt, std::make_shared<detail::global_name_registrar>(
                              detail::global_name_registrar{register_child_globally}));
  detail::set_name_resolver(rt, g.get());
  // The node is not to be used once it has shut down.
  n.on_shutdown([weak = std::weak_ptr<global_registry>(g)](node&) {
    if (auto self = weak.lock()) {
      std::unique_lock<std::shared_mutex> l(self->s_->mutex);
      self->s_->owner = nullptr;
    }
  });
  return g;
}

std::shared_ptr<global_registry> global_registry::of(const runtime& rt) {
  return detail::find_service<global_registry>(rt);
}

std::optional<pid> global_registry::whereis(std::string_view name) const {
  std::shared_lock<std::shared_mutex> l(s_->mutex);
  auto it = s_->names.find(name);
  if (it == s_->names.end()) return std::nullopt;
  return it->second.holder;
}

std::vector<global_entry> global_registry::registered() const {
  return s_->sorted_entries();
}

registry_stats global_registry::stats() const {
  return s_->stats();
}

bool global_registry::wait_synced(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::shared_lock<std::shared_mutex> l(s_->mutex);
  for (;;) {
    if (s_->owner == nullptr) return false;  // the node has shut down
    bool all = true;
    for (const auto& m : s_->owner->nodes()) all = all && s_->synced.contains(m.name);
    for (const auto& [peer, members] : s_->members_of) {
      for (const auto& m : members) {
        all = all && (m == s_->owner->name() || s_->synced.contains(m));
      }
    }
    if (all) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Re-checked at least every 10 ms: membership changes do not signal this variable.
    s_->synced_cv.wait_for(l, std::chrono::milliseconds(10));
  }
}

namespace {
result<void> to_result(result<global_reply> r) {
  if (!r) return r.err();
  if (r->ok) return ok();
  error e{static_cast<errc>(r->code), r->message};
  e.holder = r->holder;
  return e;
}
// The registry of a running node; null once it has stopped; a node without one is a mistake.
std::shared_ptr<global_registry> registry_of(const runtime& rt) {
  auto g = global_registry::of(rt);
  if (g == nullptr && !rt.stopped()) {
    throw std::logic_error("the global registry does not run on node " + rt.node_name() +
                           " (start it with otter::start_node)");
  }
  return g;
}
}  // namespace

task<result<void>> register_global(std::string name, pid holder, register_options o) {
  global_register req{std::move(name), holder, static_cast<std::uint8_t>(o.on_conflict),
                      o.timeout.count()};
  const dest server = global_server_name;
  co_return to_result(
      co_await call<global_reply>(server, std::move(req), o.timeout + std::chrono::seconds(1)));
}

// The requests are locals, not temporaries inside the co_await expression: g++ 12 destroys
// such temporaries twice (GCC bug 100611).
task<result<void>> unregister_global(std::string name, std::chrono::milliseconds timeout) {
  global_unregister req{std::move(name), timeout.count()};
  const dest server = global_server_name;
  co_return to_result(
      co_await call<global_reply>(server, std::move(req), timeout + std::chrono::seconds(1)));
}

std::optional<pid> whereis_global(runtime& rt, std::string_view name) {
  auto g = registry_of(rt);
  return g ? g->whereis(name) : std::nullopt;
}

std::optional<pid> whereis_global(std::string_view name) {
  return whereis_global(this_runtime(), name);
}

std::vector<global_entry> registered_global(runtime& rt) {
  auto g = registry_of(rt);
  return g ? g->registered() : std::vector<global_entry>{};
}

}  // namespace otter
