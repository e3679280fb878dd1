// Multi-process tests of the global registry: real node processes on loopback.
#include <catch2/catch.hpp>

#include <thread>

#include "cluster_fixture.hpp"
#include "test_hooks.hpp"

using namespace cluster_test;
using otter::errc;

namespace registry_test {

// whereis_global as seen from a child node (through its probe).
otter::pid where_on(otter::scoped_process& p, const test_node& n, const std::string& name) {
  auto r = p.await(otter::call<where_reply>(n.probe, where_global{name}));
  return r ? r->holder : otter::pid{};
}

struct cluster5 {
  scratch s;
  std::unique_ptr<otter::node> me;
  std::vector<std::unique_ptr<test_node>> kids;
  cluster5() {
    me = global_node("g5-t", s);
    for (const char* name : {"g5-a", "g5-b", "g5-c", "g5-d"}) {
      kids.push_back(spawn_node(name, s, {"--global", "--seed", me->endpoint()}));
    }
    if (!me->wait_for_nodes(4, std::chrono::seconds(20))) throw std::runtime_error("no mesh");
  }
};

}  // namespace registry_test

using namespace registry_test;

TEST_CASE("of every node racing to register one name, exactly one wins and all nodes agree") {
  cluster5 c;
  otter::scoped_process p(c.me->rt());
  for (int round = 0; round < 20; ++round) {
    const std::string name = "race-" + std::to_string(round);
    std::vector<reg_result> results(5);
    std::vector<std::thread> racers;
    for (std::size_t i = 0; i < 4; ++i) {
      racers.emplace_back([&, i] {
        otter::scoped_process q(c.me->rt());
        auto r = q.await(otter::call<reg_result>(c.kids[i]->probe, reg_global{name}, 15s));
        if (r) results[i] = *r;
      });
    }
    racers.emplace_back([&] {
      otter::scoped_process q(c.me->rt());
      auto w = c.me->rt().start<probe>("g5-t");
      if (!w) return;
      auto r = q.await(otter::register_global(name, *w));
      results[4] = r ? reg_result{true, 0, *w}
                     : reg_result{false, static_cast<std::int32_t>(r.code()), r.err().holder};
    });
    for (auto& t : racers) t.join();
    int winners = 0;
    otter::pid winner;
    for (auto& r : results) {
      if (r.ok) {
        ++winners;
        winner = r.holder;
      }
    }
    REQUIRE(winners == 1);
    for (auto& r : results) {
      if (r.ok) continue;
      CHECK(r.code == static_cast<std::int32_t>(errc::already_registered));
      CHECK(r.holder == winner);
    }
    // Every node answers the winner, without waiting.
    CHECK(otter::whereis_global(c.me->rt(), name) == winner);
    for (auto& k : c.kids) CHECK(where_on(p, *k, name) == winner);
  }
  CHECK(otter::registered_global(c.me->rt()).size() == 20);
}

TEST_CASE("a registration is visible on every node when it returns, and calls reach it by name") {
  cluster5 c;
  otter::scoped_process p(c.me->rt());
  auto r = p.await(otter::call<reg_result>(c.kids[1]->probe, reg_global{"svc", true}));
  REQUIRE(r);
  REQUIRE(r->ok);
  CHECK(r->holder == c.kids[1]->probe);
  for (auto& k : c.kids) CHECK(where_on(p, *k, "svc") == c.kids[1]->probe);
  CHECK(otter::whereis_global(c.me->rt(), "svc") == c.kids[1]->probe);
  auto pong_r = p.await(otter::call<pong>("svc", ping{42}));
  REQUIRE(pong_r);
  CHECK(pong_r->node == "g5-b");
  REQUIRE(p.cast("svc", add{7}));
  auto log = p.await(otter::call<log_reply>("svc", get_log{}));
  REQUIRE(log);
  CHECK(log->values == std::vector<std::int64_t>{7});
  // A third node calls it by name too (the probe of a relays to the name's Pid).
  auto relayed = p.await(
      otter::call<pong>(c.kids[0]->probe, relay{*otter::whereis_global(c.me->rt(), "svc"), 5}));
  REQUIRE(relayed);
  CHECK(relayed->node == "g5-b");
  // Unregistering: gone everywhere on return.
  auto u = p.await(otter::call<reg_result>(c.kids[3]->probe, unreg_global{"svc"}));
  REQUIRE(u);
  CHECK(u->ok);
  for (auto& k : c.kids) CHECK(where_on(p, *k, "svc") == otter::pid{});
  CHECK_FALSE(otter::whereis_global(c.me->rt(), "svc"));
  auto again = p.await(otter::call<reg_result>(c.kids[3]->probe, unreg_global{"svc"}));
  REQUIRE(again);
  CHECK(again->code == static_cast<std::int32_t>(errc::not_registered));
}

TEST_CASE("an unknown global name is a noproc error that names it") {
  scratch s;
  auto me = global_node("gu-t", s);
  otter::scoped_process p(me->rt());
  auto r = p.await(otter::call<pong>("no-such-name", ping{}));
  REQUIRE_FALSE(r);
  CHECK(r.code() == errc::noproc);
  CHECK(r.err().message.find("'no-such-name'") != std::string::npos);
  CHECK(p.send("no-such-name", add{1}).code() == errc::noproc);
  auto bad = p.await(otter::register_global("", p.self()));
  CHECK(bad.code() == errc::badarg);
}

TEST_CASE("a name disappears everywhere when its process exits, and can be taken at once") {
  cluster5 c;
  otter::scoped_process p(c.me->rt());
  auto r = p.await(otter::call<reg_result>(c.kids[2]->probe, reg_global{"short-lived"}));
  REQUIRE(r);
  REQUIRE(r->ok);
  const otter::pid first = r->holder;
  auto mon = p.monitor("short-lived");  // monitor by global name
  REQUIRE(p.cast(first, crash{"bye"}));
  auto d = p.receive<otter::down>(10s);
  REQUIRE(d);
  CHECK(d->ref == mon);
  CHECK(eventually([&] {
    if (otter::whereis_global(c.me->rt(), "short-lived")) return false;
    for (auto& k : c.kids) {
      if (where_on(p, *k, "short-lived") != otter::pid{}) return false;
    }
    return true;
  }));
  // Registering a fresh process under the name works immediately, from any node.
  auto again = p.await(otter::call<reg_result>(c.kids[0]->probe, reg_global{"short-lived"}));
  REQUIRE(again);
  CHECK(again->ok);
  // And on the holder's own node, a restart right after the exit takes the name over at once
  // (the registry frees the dead holder's name before its DOWN arrives).
  auto third = p.await(otter::call<reg_result>(c.kids[0]->probe, reg_global{"short-lived"}));
  REQUIRE(third);
  CHECK(third->code == static_cast<std::int32_t>(errc::already_registered));
  auto watch_it = p.monitor(again->holder);
  REQUIRE(p.cast(again->holder, crash{"restart me"}));
  auto died = p.receive<otter::down>(10s);
  REQUIRE(died);
  CHECK(died->ref == watch_it);
  auto fourth = p.await(otter::call<reg_result>(c.kids[0]->probe, reg_global{"short-lived"}));
  REQUIRE(fourth);
  CHECK(fourth->ok);
}

TEST_CASE("names of a node that is SIGKILLed or shut down disappear on every other node") {
  cluster5 c;
  otter::scoped_process p(c.me->rt());
  REQUIRE(p.await(otter::call<reg_result>(c.kids[0]->probe, reg_global{"on-a", true}))->ok);
  REQUIRE(p.await(otter::call<reg_result>(c.kids[1]->probe, reg_global{"on-b", true}))->ok);
  c.kids[0]->proc->kill_now();       // SIGKILL
  c.kids[1]->proc->signal(SIGTERM);  // a clean leave
  CHECK(eventually([&] {
    if (otter::whereis_global(c.me->rt(), "on-a") || otter::whereis_global(c.me->rt(), "on-b")) {
      return false;
    }
    return where_on(p, *c.kids[2], "on-a") == otter::pid{} &&
           where_on(p, *c.kids[3], "on-b") == otter::pid{};
  }));
}

TEST_CASE("a node that joins late has the whole table when it is ready") {
  cluster5 c;
  otter::scoped_process p(c.me->rt());
  std::vector<otter::pid> holders;
  for (int i = 0; i < 4; ++i) {
    auto r =
        p.await(otter::call<reg_result>(c.kids[i]->probe, reg_global{"late-" + std::to_string(i)}));
    REQUIRE(r);
    REQUIRE(r->ok);
    holders.push_back(r->holder);
  }
  auto late = spawn_node("g5-late", c.s, {"--global", "--seed", c.kids[3]->endpoint});
  for (int i = 0; i < 4; ++i) CHECK(where_on(p, *late, "late-" + std::to_string(i)) == holders[i]);
}

// A stdin command to a child node; its one-line answer.
std::string command(test_node& n, const std::string& line) {
  if (!n.proc->write_line(line)) return "";
  return n.proc->read_line(20s).value_or("");
}

TEST_CASE("after a partition heals, one registration of a name survives and the loser is told") {
  scratch s;
  auto me = global_node("gp-t", s);
  auto a = spawn_node("gp-a", s, {"--global", "--seed", me->endpoint()});
  auto b = spawn_node("gp-b", s, {"--global", "--seed", me->endpoint()});
  REQUIRE(me->wait_for_nodes(2, 20s));
  otter::scoped_process p(me->rt());
  // Before the split: "kept" and "gone" are held on b.
  auto kept = p.await(otter::call<reg_result>(b->probe, reg_global{"kept"}));
  REQUIRE(kept);
  REQUIRE(kept->ok);
  REQUIRE(p.await(otter::call<reg_result>(b->probe, reg_global{"gone"}))->ok);
  REQUIRE(eventually([&] { return where_on(p, *a, "gone") != otter::pid{}; }));

  // Split {a} | {b, t}.
  CHECK(command(*a, "block gp-b 1") == "BLOCK");
  CHECK(command(*a, "block gp-t 1") == "BLOCK");
  CHECK(command(*b, "block gp-a 1") == "BLOCK");
  otter::test_hooks::set_blocked(*me, "gp-a", true);
  // Each side sees the other down, and the other's names go with it.
  REQUIRE(eventually([&] { return me->nodes().size() == 1; }, 20s));
  REQUIRE(eventually([&] { return where_on(p, *b, "gone") != otter::pid{}; }));

  // Both sides register "dup" (default policy: the loser exits) and "dup2" (notify: the loser
  // keeps running); b's side unregisters "gone".
  const std::string on_a = command(*a, "reg dup 0");
  REQUIRE(on_a.rfind("REG 1 0 ", 0) == 0);
  const otter::pid a_dup = *otter::parse_pid(on_a.substr(8));
  const std::string on_a2 = command(*a, "reg dup2 1");
  REQUIRE(on_a2.rfind("REG 1 0 ", 0) == 0);
  const otter::pid a_dup2 = *otter::parse_pid(on_a2.substr(8));
  auto b_dup = p.await(otter::call<reg_result>(b->probe, reg_global{"dup"}));
  REQUIRE(b_dup);
  REQUIRE(b_dup->ok);
  auto b_dup2 = p.await(otter::call<reg_result>(b->probe, reg_global{"dup2", false, 1}));
  REQUIRE(b_dup2);
  REQUIRE(b_dup2->ok);
  REQUIRE(p.await(otter::call<reg_result>(b->probe, unreg_global{"gone"}))->ok);

  // Heal.
  CHECK(command(*a, "block gp-b 0") == "BLOCK");
  CHECK(command(*a, "block gp-t 0") == "BLOCK");
  CHECK(command(*b, "block gp-a 0") == "BLOCK");
  otter::test_hooks::set_blocked(*me, "gp-a", false);
  REQUIRE(eventually([&] { return me->nodes().size() == 2; }, 20s));

  // The rule: the registration from the lower node name ("gp-a") survives, on every node.
  REQUIRE(eventually(
      [&] {
        return otter::whereis_global(me->rt(), "dup") == a_dup && where_on(p, *a, "dup") == a_dup &&
               where_on(p, *b, "dup") == a_dup && where_on(p, *b, "dup2") == a_dup2 &&
               otter::whereis_global(me->rt(), "dup2") == a_dup2;
      },
      20s));
  // b's "dup" holder was told and exited with name_conflict (its monitor on b saw it)...
  REQUIRE(eventually([&] {
    auto ev = p.await(otter::call<events>(b->probe, events_q{}));
    return ev &&
           std::find(ev->items.begin(), ev->items.end(), "DOWN name_conflict") != ev->items.end();
  }));
  // ... and b's "dup2" holder (policy notify) got the message and still runs.
  auto told = p.await(otter::call<events>(b_dup2->holder, events_q{}));
  REQUIRE(told);
  CHECK(std::find(told->items.begin(), told->items.end(),
                  "CONFLICT dup2 " + otter::to_string(a_dup2)) != told->items.end());
  // "kept" is intact; "gone", unregistered on b's side, did not come back from a.
  CHECK(where_on(p, *a, "kept") == kept->holder);
  CHECK(where_on(p, *a, "gone") == otter::pid{});
  CHECK_FALSE(otter::whereis_global(me->rt(), "gone"));
  auto names = p.await(otter::call<otter::global_names>(
      otter::dest::at(otter::global_server_name, "gp-b"), otter::global_list{}));
  REQUIRE(names);
  CHECK(names->stats.conflicts >= 2);
}

TEST_CASE("a supervised child with a global name is called by name across a crash and restart") {
  scratch s;
  auto me = global_node("gs-t", s);
  auto a = spawn_node("gs-a", s, {"--global", "--seed", me->endpoint(), "--sup-name", "sup-svc"});
  REQUIRE(me->wait_for_nodes(1, 20s));
  otter::scoped_process p(me->rt());
  REQUIRE(eventually([&] { return otter::whereis_global(me->rt(), "sup-svc").has_value(); }));
  const otter::pid first = *otter::whereis_global(me->rt(), "sup-svc");
  auto hello = p.await(otter::call<pong>("sup-svc", ping{1}));
  REQUIRE(hello);
  CHECK(hello->node == "gs-a");
  REQUIRE(p.cast(first, crash{"let it crash"}));
  // Call by name until the restarted child answers: every failure is a clear error, never a
  // hang past the call's timeout.
  int answered_by_new = 0, failures = 0;
  bool unexpected = false;
  std::string unexpected_error;
  REQUIRE(eventually(
      [&] {
        auto r = p.await(otter::call<pong>("sup-svc", ping{2}, 2s));
        if (r) {
          auto holder = otter::whereis_global(me->rt(), "sup-svc");
          if (holder && *holder != first) ++answered_by_new;
          return answered_by_new > 0;
        }
        ++failures;
        if (r.code() != errc::noproc && r.code() != errc::exited) {
          unexpected = true;
          unexpected_error = r.err().message;
        }
        return false;
      },
      20s));
  CHECK_FALSE(unexpected);
  INFO(unexpected_error);
  CHECK(*otter::whereis_global(me->rt(), "sup-svc") != first);
  // A clean stop of the node (SIGTERM) stops its tree and releases the name everywhere.
  a->proc->signal(SIGTERM);
  CHECK(a->proc->wait_exit() == 0);
  CHECK(eventually([&] { return !otter::whereis_global(me->rt(), "sup-svc"); }));
}
