#include "scenario.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <otter/log.hpp>

#include "link_state.hpp"
#include "protocol.hpp"
#include "sim_hooks.hpp"
#include "state.hpp"
#include "transport.hpp"
#include "world.hpp"

namespace otter::sim {

namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

struct sim_ping {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(sim_ping, "sim_ping");
struct sim_pong {
  std::string node;
  MSGPACK_DEFINE(node);
};
OTTER_MESSAGE_AS(sim_pong, "sim_pong");
struct op_go {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(op_go, "sim_op_go");

// Holds names; answers pings.
class holder : public gen_server<holder> {
 public:
  using calls = msgs<sim_ping>;
  sim_pong handle_call(const sim_ping&, from&) { return sim_pong{rt().node_name()}; }
};

enum class op_kind { reg, unreg, call_pid, call_name };

struct op {
  std::uint64_t id = 0;
  op_kind kind = op_kind::reg;
  int slot = 0;  // where it runs
  std::string name;
  pid target;  // call_pid
  ms timeout{1000};
};

struct failure {
  std::string what;
};

// The history of operations and the checks made on it.
class checker {
 public:
  checker(world& w, const schedule_options& o) : w_(w), o_(o) {}

  void fail(const std::string& what) {
    if (violation_.empty()) {
      violation_ = what;
      w_.note("VIOLATION: " + what);
    }
  }
  bool failed() const { return !violation_.empty(); }
  const std::string& violation() const { return violation_; }

  struct started {
    sim_clock::time_point at;
    bool target_down = false;  // call_pid: the caller's node had the target's node down
  };

  started begin(const op& o) {
    started s{w_.now(), false};
    if (o.kind == op_kind::call_pid) {
      const int t = slot_of_node(o.target.node);
      if (t >= 0 && t != o.slot) {
        s.target_down = net_detail::transport_of(w_.at(o.slot)).link_state_of(w_.name_of(t)) ==
                        net_detail::link_state::down;
      }
    }
    pending_[o.id] = {s.at + o.timeout, o.slot};
    if (o.kind == op_kind::unreg)
      removing_[o.name].push_back({s.at, sim_clock::time_point::max(), o.id});
    w_.note(describe(o) + " begins");
    return s;
  }

  void registered(const op& o, const started& s, const pid& h, const result<void>& r) {
    finish(o, r.ok() ? "ok" : std::string(to_string(r.code())) + " " + r.err().message);
    if (!r) return;
    // Removed already (an unregistration or its death came first, though this answer came
    // after): it took effect and was undone since; nothing to read.
    if (last_.count({o.name, h}) > 0) return;
    last_[{o.name, h}] = true;
    // An unregistration of the name overlapping this registration may have removed it
    // anywhere already: read-your-writes holds for requests that do not overlap.
    for (const auto& u : removing_[o.name]) {
      if (u.from <= w_.now() && u.until >= s.at) return;
    }
    check_visible(o, s, h, true);
  }

  void unregistered(const op& o, const started& s, const pid& h, const result<void>& r) {
    for (auto& u : removing_[o.name]) {
      if (u.op == o.id) u.until = w_.now();
    }
    finish(o, r.ok() ? "ok" : std::string(to_string(r.code())) + " " + r.err().message);
    if (!r || !h) return;
    last_[{o.name, h}] = false;
    check_visible(o, s, h, false);
  }

  void called(const op& o, const started& s, const result<sim_pong>& r) {
    finish(o, r.ok() ? "ok from " + r->node : std::string(to_string(r.code())));
    const auto took = w_.now() - s.at;
    // A jump of the clock (a paused machine) delays every timer by as much.
    if (took > o.timeout + 5ms + w_.jumped(s.at, w_.now())) {
      fail(describe(o) + " took " + std::to_string(std::chrono::duration_cast<ms>(took).count()) +
           " ms, beyond its timeout of " + std::to_string(o.timeout.count()) + " ms");
    }
    if (s.target_down && r.code() != errc::nodedown && r.code() != errc::noproc && !r.ok()) {
      fail(describe(o) + ": its node was known down, yet the call ended with " +
           std::string(to_string(r.code())));
    }
    if (s.target_down && r.code() == errc::nodedown && took > 0ms) {
      fail(describe(o) + ": its node was known down, yet nodedown took " +
           std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(took).count()) +
           " us (simulated)");
    }
  }

  void holder_died(const std::string& name, const pid& h) {
    last_[{name, h}] = false;
    dead_.insert(h);
    removing_[name].push_back({w_.now(), w_.now(), 0});
  }

  // Calls must all have ended by their deadline (plus the bound).
  // Operations of a node that died die with it.
  void node_gone(int slot) {
    std::erase_if(pending_, [&](const auto& kv) { return kv.second.second == slot; });
  }

  void check_pending() {
    for (const auto& [id, p] : pending_) {
      const auto deadline = p.first;
      if (w_.now() > deadline + 5ms + w_.jumped(deadline - 60s, w_.now())) {
        fail("operation #" + std::to_string(id) + " has not ended " +
             std::to_string(std::chrono::duration_cast<ms>(w_.now() - deadline).count()) +
             " ms after its deadline");
        return;
      }
    }
  }

  // An unregistration or a holder's death must not be undone: a node that was seen without
  // the name, having followed the holder's node up to its removal, must not show it again.
  // (A node that dropped the holder's node's names when it lost it, and learns them again
  // from a sync sent before the removal, lags; it is not undoing anything.)
  void sample() {
    for (const auto& [key, held] : last_) {
      if (held || removal_seq_.count(key) > 0) continue;
      const int a = slot_of_node(key.second.node);
      if (a < 0 || !w_.alive(a) || w_.creation_of(a) != key.second.creation) {
        removal_seq_[key] = 0;  // its node is gone: nothing of it can come back
        continue;
      }
      if (!shows(a, key)) removal_seq_[key] = seq_at(a, w_.name_of(a));
    }
    for (std::size_t i = 0; i < w_.size(); ++i) {
      if (!w_.alive(static_cast<int>(i))) continue;
      auto& seen = seen_gone_[w_.name_of(static_cast<int>(i)) + "#" +
                              std::to_string(w_.creation_of(static_cast<int>(i)))];
      std::map<std::string, pid> now;
      for (const auto& e : registered_global(w_.at(static_cast<int>(i)).rt())) {
        now[e.name] = e.holder;
      }
      auto& shown = shown_[w_.name_of(static_cast<int>(i)) + "#" +
                           std::to_string(w_.creation_of(static_cast<int>(i)))];
      for (const auto& [name, h] : now) shown.insert({name, h});
      for (const auto& [key, held] : last_) {
        if (held) continue;
        const auto& [name, h] = key;
        auto it = now.find(name);
        const bool shows = it != now.end() && it->second == h;
        // Gone there: the node showed it, and now the name is held by nobody (a lagging node
        // may show it late, before its removal arrives; another holder may mask it).
        auto removal = removal_seq_.find(key);
        if (it == now.end() && shown.contains(key) && removal != removal_seq_.end() &&
            (removal->second == 0 ||
             seq_at(static_cast<int>(i), w_.name_of(slot_of_node(h.node))) >= removal->second)) {
          seen.insert(key);
        } else if (shows && seen.contains(key)) {
          fail("node " + w_.name_of(static_cast<int>(i)) + " shows '" + name + "' -> " +
               to_string(h) + " again after it had gone (unregistered or holder dead)");
          return;
        }
      }
    }
  }

  // After the faults, the heal and the quiet: the end state.
  void check_final() {
    std::vector<int> live;
    for (std::size_t i = 0; i < w_.size(); ++i) {
      if (w_.alive(static_cast<int>(i))) live.push_back(static_cast<int>(i));
    }
    for (int a : live) {
      for (int b : live) {
        if (a != b && !w_.connected(a, b)) {
          fail("after the heal, " + w_.name_of(a) + " and " + w_.name_of(b) + " are not connected");
          return;
        }
      }
    }
    std::vector<global_entry> first;
    for (int a : live) {
      auto table = registered_global(w_.at(a).rt());
      if (a == live.front()) {
        first = table;
      } else if (!same(table, first)) {
        fail("after the heal, " + w_.name_of(a) + "'s name table differs from " +
             w_.name_of(live.front()) + "'s: " + show(table) + " vs " + show(first));
        return;
      }
      if (!global_registry::of(w_.at(a).rt())->wait_synced(0ms)) {
        fail("after the heal, " + w_.name_of(a) + "'s registry has not synced");
        return;
      }
      auto& net = net_detail::transport_of(w_.at(a));
      for (std::size_t b = 0; b < w_.size(); ++b) {
        const auto& other = w_.name_of(static_cast<int>(b));
        if (static_cast<int>(b) == a) continue;
        if (net.link_state_of(other) != net_detail::link_state::up && net.open_with(other) > 0) {
          fail(w_.name_of(a) + " keeps " + std::to_string(net.open_with(other)) +
               " call(s), monitor(s) or link(s) open with " + other + ", which is not up");
          return;
        }
      }
    }
    for (const auto& e : first) {
      const int h = slot_of_node(e.holder.node);
      if (h < 0 || !w_.alive(h) || !w_.at(h).rt().alive(e.holder)) {
        fail("'" + e.name + "' is held by " + to_string(e.holder) + ", which is not alive");
        return;
      }
      if (auto it = last_.find({e.name, e.holder}); it != last_.end() && !it->second) {
        fail("'" + e.name + "' is held by " + to_string(e.holder) +
             ", whose unregistration returned ok");
        return;
      }
    }
    if (o_.broken_invariant && first.size() < 100) {
      fail("(deliberately broken invariant) fewer than 100 names are held: " +
           std::to_string(first.size()));
    }
    check_pending();
  }

  bool shows(int slot, const std::pair<std::string, pid>& key) {
    for (const auto& e : registered_global(w_.at(slot).rt())) {
      if (e.name == key.first && e.holder == key.second) return true;
    }
    return false;
  }
  // How far `slot` has followed the changes of `authority`'s names.
  std::uint64_t seq_at(int slot, const std::string& authority) {
    auto g = global_registry::of(w_.at(slot).rt());
    return g ? registry_detail::inspect::replica_seq(*g, authority) : 0;
  }

  int slot_of_node(std::uint64_t node_id) const {
    for (std::size_t i = 0; i < w_.size(); ++i) {
      if (node_id_of(w_.name_of(static_cast<int>(i))) == node_id) return static_cast<int>(i);
    }
    return -1;
  }

  std::string describe(const op& o) const {
    static const char* kinds[] = {"register", "unregister", "call", "call by name"};
    std::string s = "#" + std::to_string(o.id) + " " + w_.name_of(o.slot) + ": " +
                    kinds[static_cast<int>(o.kind)] + " ";
    s += o.kind == op_kind::call_pid ? to_string(o.target) : "'" + o.name + "'";
    return s;
  }

 private:
  void finish(const op& o, const std::string& outcome) {
    pending_.erase(o.id);
    w_.note(describe(o) + " -> " + outcome);
  }

  // Read-your-writes: every node connected to both the registrant and the holder's node
  // since before the request answers accordingly.
  void check_visible(const op& o, const started& s, const pid& h, bool present) {
    const int holder_slot = slot_of_node(h.node);
    if (holder_slot < 0 || !w_.alive(holder_slot)) return;
    const auto since = [&](int a, int b) {
      return net_detail::transport_of(w_.at(a)).up_since(w_.name_of(b)) <= s.at;
    };
    for (std::size_t i = 0; i < w_.size(); ++i) {
      const int n = static_cast<int>(i);
      if (!w_.alive(n)) continue;
      bool stable = true;
      for (int end : {o.slot, holder_slot}) {
        if (end != n) stable = stable && since(n, end) && since(end, n);
      }
      if (!stable) continue;
      const auto seen = whereis_global(w_.at(n).rt(), o.name);
      if (present && seen && *seen != h) {
        // Another holder: fine only if it keeps the name over ours by the rule (a partition
        // healed meanwhile and the two registrations met).
        const int other = slot_of_node(seen->node);
        if (other >= 0 && w_.name_of(other) < w_.name_of(holder_slot)) continue;
      }
      if (present && seen != h) {
        fail(describe(o) + " returned ok, but " + w_.name_of(n) + " answers " +
             (seen ? to_string(*seen) : std::string("nothing")));
        return;
      }
      if (!present && seen == h) {
        fail(describe(o) + " returned ok, but " + w_.name_of(n) + " still answers " + to_string(h));
        return;
      }
    }
  }

  static bool same(const std::vector<global_entry>& a, const std::vector<global_entry>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i].name != b[i].name || a[i].holder != b[i].holder) return false;
    }
    return true;
  }
  static std::string show(const std::vector<global_entry>& t) {
    std::string s = "{";
    for (const auto& e : t) s += " " + e.name + "=" + to_string(e.holder);
    return s + " }";
  }

  world& w_;
  const schedule_options& o_;
  std::string violation_;
  std::map<std::uint64_t, std::pair<sim_clock::time_point, int>> pending_;  // id -> deadline, slot
  std::map<std::pair<std::string, pid>, bool> last_;  // (name, holder) -> held per the last op
  // (name, holder) gone -> the seq of its node's change that removed it (or a later one); 0
  // when its node is gone.
  std::map<std::pair<std::string, pid>, std::uint64_t> removal_seq_;
  std::set<pid> dead_;
  struct interval {
    sim_clock::time_point from, until;
    std::uint64_t op = 0;
  };
  std::map<std::string, std::vector<interval>> removing_;  // unregistrations and kills, by name
  std::map<std::string, std::set<std::pair<std::string, pid>>> seen_gone_;  // per incarnation
  std::map<std::string, std::set<std::pair<std::string, pid>>> shown_;      // per incarnation
};

// Runs one operation as its own process, so operations overlap.
class op_runner : public gen_server<op_runner> {
 public:
  using casts = msgs<op_go>;
  op_runner(checker& c, op o) : c_(c), o_(std::move(o)) {}

  task<void> handle_cast(const op_go&) {
    const auto s = c_.begin(o_);
    switch (o_.kind) {
      case op_kind::reg: {
        auto h = rt().start<holder>();
        if (!h) break;
        register_options opts;
        opts.timeout = 3s;
        std::string name = o_.name;
        auto r = co_await register_global(std::move(name), *h, opts);
        if (!r) otter::exit(*h, exit_reason::kill());
        c_.registered(o_, s, *h, r);
        break;
      }
      case op_kind::unreg: {
        // Asked of the server itself: its answer names the holder it removed.
        const dest server(global_server_name);
        global_unregister req{o_.name, 3000};
        auto r = co_await call<global_reply>(server, std::move(req), 4s);
        result<void> outcome = ok();
        if (!r) {
          outcome = r.err();
        } else if (!r->ok) {
          outcome = error{static_cast<errc>(r->code), r->message};
        }
        c_.unregistered(o_, s, r && r->ok ? r->holder : pid{}, outcome);
        break;
      }
      case op_kind::call_pid: {
        const pid to = o_.target;
        auto r = co_await call<sim_pong>(to, sim_ping{}, o_.timeout);
        c_.called(o_, s, r);
        break;
      }
      case op_kind::call_name: {
        const dest to(o_.name);
        auto r = co_await call<sim_pong>(to, sim_ping{}, o_.timeout);
        c_.called(o_, s, r);
        break;
      }
    }
    stop();
  }

 private:
  checker& c_;
  op o_;
};

class schedule {
 public:
  explicit schedule(const schedule_options& o)
      : o_(o),
        w_(o.seed, world_options{.watch_neighbours = o.watch_neighbours, .trace = o.trace}),
        c_(w_, o) {}

  schedule_result run() {
    schedule_result r;
    try {
      play(r);
    } catch (const std::exception& e) {
      c_.fail(std::string("exception: ") + e.what());
    }
    r.events = w_.events();
    if (c_.failed()) {
      r.ok = false;
      r.violation = c_.violation() + "\nreplay: " + replay_command(o_) + "\nlast events:\n" +
                    w_.recent_trace();
    }
    return r;
  }

 private:
  int rand(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(w_.rng()); }
  bool chance(int percent) { return rand(1, 100) <= percent; }
  int random_alive() {
    std::vector<int> live;
    for (std::size_t i = 0; i < w_.size(); ++i) {
      if (w_.alive(static_cast<int>(i))) live.push_back(static_cast<int>(i));
    }
    return live.empty()
               ? -1
               : live[static_cast<std::size_t>(rand(0, static_cast<int>(live.size()) - 1))];
  }
  int alive_count() {
    int n = 0;
    for (std::size_t i = 0; i < w_.size(); ++i) n += w_.alive(static_cast<int>(i)) ? 1 : 0;
    return n;
  }

  void run_until(sim_clock::time_point t) {
    w_.touched();
    while (!c_.failed() && w_.step(t)) {
      if (w_.events() % 512 == 0) {
        c_.sample();
        c_.check_pending();
      }
    }
    if (!c_.failed()) w_.advance_to(t);
  }

  // Starts `o` on its node (an op_runner); its outcome is checked by the checker.
  void launch(const op& o) {
    runtime& rt = w_.at(o.slot).rt();
    auto runner = rt.start<op_runner>(c_, o);
    if (runner) (void)rt.cast(*runner, op_go{});
  }
  op make(op_kind k, int slot, const std::string& name, ms timeout = 4s) {
    op o;
    o.id = ++op_ids_;
    o.kind = k;
    o.slot = slot;
    o.name = name;
    o.timeout = timeout;
    return o;
  }
  void require(bool cond, const std::string& what) {
    if (!cond) c_.fail(o_.scenario + ": " + what);
  }
  std::optional<pid> where(int slot, const std::string& name) {
    return whereis_global(w_.at(slot).rt(), name);
  }

  void directed() {
    for (int i = 0; i < 3; ++i) {
      w_.add_node("s" + std::to_string(i), i == 0 ? -1 : 0);
      run_until(w_.now() + 100ms);
    }
    run_until(w_.now() + 2s);
    if (o_.scenario == "lost_unregister") {
      launch(make(op_kind::reg, 0, "lu"));
      run_until(w_.now() + 1s);
      const auto holder = where(2, "lu");
      require(holder.has_value() && holder->node == node_id_of("s0"), "s0 holds 'lu' on s2");
      w_.cut(1, 2);
      w_.cut(2, 1);
      run_until(w_.now() + 3s);
      require(!w_.connected(1, 2) && w_.connected(0, 1) && w_.connected(0, 2), "the split");
      launch(make(op_kind::unreg, 1, "lu"));
      run_until(w_.now() + 1s);
      require(!where(2, "lu"), "s2 forgot 'lu' (it heard the removal from the holder's node)");
      w_.heal(1, 2);
      w_.heal(2, 1);
      run_until(w_.now() + 3s);
      if (holder) {
        (void)w_.at(0).rt().exit(*holder, exit_reason::kill());
        c_.holder_died("lu", *holder);
      }
      run_until(w_.now() + 1s);
      launch(make(op_kind::reg, 2, "lu"));
      run_until(w_.now() + 1s);
      const auto again = where(0, "lu");
      require(again.has_value() && again->node == node_id_of("s2"), "s2 registered 'lu' again");
    } else if (o_.scenario == "joiner_after_kill") {
      w_.crash(1);
      c_.node_gone(1);
      run_until(w_.now() + 100ms);
      w_.add_node("s3", 0);
      run_until(w_.now() + 4s);
      require(global_registry::of(w_.at(3).rt())->wait_synced(0ms), "s3 finished syncing");
    } else if (o_.scenario == "known_down_calls") {
      launch(make(op_kind::reg, 1, "kd"));
      run_until(w_.now() + 1s);
      const auto h = where(0, "kd");
      require(h.has_value(), "s1 holds 'kd'");
      w_.crash(1);
      c_.node_gone(1);
      run_until(w_.now() + 3s);
      require(
          net_detail::transport_of(w_.at(0)).link_state_of("s1") == net_detail::link_state::down,
          "s0 knows s1 is down");
      for (int i = 0; i < 5 && h; ++i) {
        op o = make(op_kind::call_pid, 0, "kd", 50ms);
        o.target = *h;
        launch(o);  // the checker requires nodedown at the same simulated instant
      }
      run_until(w_.now() + 1s);
    } else if (o_.scenario == "late_commit") {
      // s0 registers a name whose arbiter is s2 while s2's frames to s0 take 4 s: s0 declares
      // s2 down, asks the next arbiter and succeeds, then unregisters; s2's commit arrives
      // after that and must not bring the name back.
      std::string name;
      for (int i = 0; name.empty(); ++i) {
        const std::string n = "lc" + std::to_string(i);
        if (registry_protocol::arbiter_among(n, "s0", std::vector<std::string>{"s1", "s2"}) ==
            "s2") {
          name = n;
        }
      }
      w_.net().delay(2, 0, 4000ms);
      launch(make(op_kind::reg, 0, name, 8s));
      run_until(w_.now() + 3s);
      const auto holder = where(0, name);
      require(holder.has_value(), "s0 registered '" + name + "' through the next arbiter");
      w_.net().delay(2, 0, 0ms);
      launch(make(op_kind::unreg, 0, name));
      run_until(w_.now() + 6s);
      require(w_.connected(0, 2), "s0 and s2 are connected again");
      // Whether s2's own commit still reaches s0 depends on the link's history (a link s0
      // declared down drops it; one a stale hello reopened delivers it): s2 sends it again,
      // as the late frame would be, the claim's txn being s0's first.
      if (holder) {
        registry_protocol::greg_commit late;
        late.txn = (std::uint64_t{w_.at(0).rt().creation()} << 32) + 1;
        late.origin = "s0";
        late.arbiter = "s2";
        late.entry = global_entry{name, *holder, "s0", 0};
        (void)w_.at(2).rt().cast(dest::at(global_server_name, "s0"), late);
      }
      run_until(w_.now() + 1s);
      require(!where(0, name), "the late commit did not bring '" + name + "' back");
    } else {
      c_.fail("unknown directed schedule '" + o_.scenario + "'");
    }
  }

  void play(schedule_result& r) {
    if (!o_.trace) otter::set_log_level(spdlog::level::off);
    if (!o_.scenario.empty()) {
      directed();
      if (c_.failed()) return;
      w_.heal_all();
      for (std::size_t i = 0; i < w_.size(); ++i) {
        if (!w_.alive(static_cast<int>(i))) w_.restart(static_cast<int>(i), 0);
      }
      run_until(w_.now() + 8s);
      if (!c_.failed()) c_.check_final();
      return;
    }
    for (int i = 0; i < o_.nodes; ++i) {
      w_.add_node("s" + std::to_string(i), i == 0 ? -1 : rand(0, i - 1));
      run_until(w_.now() + ms(rand(0, 300)));
    }
    run_until(w_.now() + 1500ms);
    const auto chaos_end = w_.now() + std::chrono::seconds(o_.chaos_seconds);
    auto next_op = w_.now();
    auto next_fault = w_.now() + ms(rand(200, 1500));
    while (w_.now() < chaos_end && !c_.failed()) {
      const auto next = std::min({next_op, next_fault, restart_due()});
      run_until(next);
      if (c_.failed()) break;
      if (w_.now() >= next_op) {
        operate();
        ++r.operations;
        next_op = w_.now() + ms(rand(20, 250));
      }
      if (w_.now() >= next_fault) {
        fault();
        ++r.faults;
        next_fault = w_.now() + ms(rand(300, 2500));
      }
      restart_pending();
    }
    if (c_.failed()) return;
    // The end: no more faults; every cut heals, every dead node comes back; then quiet.
    w_.heal_all();
    clear_delays();
    pending_restarts_.clear();
    for (std::size_t i = 0; i < w_.size(); ++i) {
      if (!w_.alive(static_cast<int>(i))) w_.restart(static_cast<int>(i), random_alive());
    }
    run_until(w_.now() + 12s);
    if (!c_.failed()) c_.check_final();
  }

  sim_clock::time_point restart_due() const {
    auto t = sim_clock::time_point::max();
    for (const auto& [slot, at] : pending_restarts_) t = std::min(t, at);
    return t;
  }
  void restart_pending() {
    for (auto it = pending_restarts_.begin(); it != pending_restarts_.end();) {
      if (w_.now() >= it->second) {
        w_.restart(it->first, random_alive());
        it = pending_restarts_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void clear_delays() {
    for (std::size_t a = 0; a < w_.size(); ++a) {
      for (std::size_t b = 0; b < w_.size(); ++b) {
        w_.net().delay(static_cast<int>(a), static_cast<int>(b), 0ms);
      }
    }
  }

  void operate() {
    const int slot = random_alive();
    if (slot < 0) return;
    op o;
    o.id = ++op_ids_;
    o.slot = slot;
    o.name = "n" + std::to_string(rand(0, 5));
    o.timeout = ms(rand(50, 1500));
    const int k = rand(1, 100);
    runtime& rt = w_.at(slot).rt();
    if (k <= 40) {
      o.kind = op_kind::reg;
      o.timeout = 4s;  // the registration's own 3 s, and the call to the server around it
    } else if (k <= 60) {
      o.kind = op_kind::unreg;
      o.timeout = 4s;
    } else if (k <= 70) {
      // A holder dies: its node must remove the name everywhere.
      auto table = registered_global(rt);
      if (table.empty()) return;
      const auto& e = table[static_cast<std::size_t>(rand(0, static_cast<int>(table.size()) - 1))];
      const int h = c_.slot_of_node(e.holder.node);
      if (h < 0 || !w_.alive(h)) return;
      w_.note("kill " + to_string(e.holder) + " (holder of '" + e.name + "')");
      (void)w_.at(h).rt().exit(e.holder, exit_reason::kill());
      c_.holder_died(e.name, e.holder);
      return;
    } else if (k <= 90) {
      o.kind = op_kind::call_pid;
      auto table = registered_global(rt);
      if (table.empty()) return;
      o.target =
          table[static_cast<std::size_t>(rand(0, static_cast<int>(table.size()) - 1))].holder;
    } else {
      o.kind = op_kind::call_name;
    }
    auto runner = rt.start<op_runner>(c_, o);
    if (runner) (void)rt.cast(*runner, op_go{});
  }

  void fault() {
    const int n = static_cast<int>(w_.size());
    const int a = rand(0, n - 1);
    int b = rand(0, n - 2);
    if (b >= a) ++b;
    switch (rand(0, 9)) {
      case 0: {  // a partition: a random side against the rest, both ways
        std::vector<int> side;
        for (int i = 0; i < n; ++i) {
          if (chance(50)) side.push_back(i);
        }
        for (int x : side) {
          for (int y = 0; y < n; ++y) {
            if (std::find(side.begin(), side.end(), y) == side.end()) {
              w_.cut(x, y);
              w_.cut(y, x);
            }
          }
        }
        break;
      }
      case 1:  // a partial partition: one pair loses each other, the rest sees both
        w_.cut(a, b);
        w_.cut(b, a);
        break;
      case 2: w_.cut(a, b); break;  // one way
      case 3:
        w_.heal(a, b);
        w_.heal(b, a);
        break;
      case 4: w_.heal_all(); break;
      case 5:  // a crash, and a restart later
        if (alive_count() > 1 && w_.alive(a)) {
          w_.crash(a);
          c_.node_gone(a);
          pending_restarts_[a] = w_.now() + ms(rand(200, 3000));
        }
        break;
      case 6:  // a clean leave, and a restart later
        if (alive_count() > 1 && w_.alive(a)) {
          w_.leave(a);
          c_.node_gone(a);
          pending_restarts_[a] = w_.now() + ms(rand(200, 3000));
        }
        break;
      case 7: w_.jump(ms(rand(200, 2500))); break;
      case 8: {  // a slow direction for a while
        const auto extra = ms(rand(100, 1800));
        w_.note("delay " + w_.name_of(a) + " -> " + w_.name_of(b) + " by " +
                std::to_string(extra.count()) + " ms");
        w_.net().delay(a, b, extra);
        break;
      }
      case 9: clear_delays(); break;
    }
  }

  const schedule_options& o_;
  world w_;
  checker c_;
  std::uint64_t op_ids_ = 0;
  std::map<int, sim_clock::time_point> pending_restarts_;
};

}  // namespace

schedule_result run_schedule(const schedule_options& o) {
  schedule s(o);
  return s.run();
}

std::vector<std::string> directed_schedules() {
  return {"lost_unregister", "joiner_after_kill", "known_down_calls", "late_commit"};
}

schedule_options seeded_schedule(std::uint64_t seed) {
  schedule_options o;
  o.seed = seed;
  o.nodes = 3 + static_cast<int>(seed % 5);
  o.watch_neighbours = 1 + (seed / 5) % 2;
  return o;
}

std::string replay_command(const schedule_options& o) {
  std::string cmd = "otter-sim --seed " + std::to_string(o.seed) + " --nodes " +
                    std::to_string(o.nodes) + " --chaos " + std::to_string(o.chaos_seconds);
  cmd += " --watch " + std::to_string(o.watch_neighbours);
  if (o.broken_invariant) cmd += " --broken-invariant";
  if (!o.scenario.empty()) cmd += " --scenario " + o.scenario;
  return cmd + " --trace";
}

}  // namespace otter::sim
