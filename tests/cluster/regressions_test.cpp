// Real-process tests of three bugs the simulator's schedules were written to find (issue 13):
// each failed on the code before the net layer and the registry were rebuilt.
#include <catch2/catch.hpp>

#include <signal.h>

#include <otter/agent.hpp>

#include "cluster_fixture.hpp"

using namespace cluster_test;
using otter::errc;

namespace {

otter::pid where_of(otter::scoped_process& p, const test_node& n, const std::string& name) {
  auto r = p.await(otter::call<where_reply>(n.probe, where_global{name}));
  return r ? r->holder : otter::pid{};
}

bool sees(otter::scoped_process& p, const std::string& node, const std::string& other) {
  auto m = members_of(p, node);
  return std::find(m.begin(), m.end(), other) != m.end();
}

}  // namespace

TEST_CASE("a name unregistered across a partial partition does not stay blocked on the far side") {
  // OTP's lost_unregister shape: the holder is on a; b and c lose each other while a sees
  // both; b unregisters; the split heals; the holder dies; c must be able to register it.
  scratch s;
  auto a = spawn_node("lu-a", s, {"--global"});
  auto b = spawn_node("lu-b", s, {"--global", "--seed", a->endpoint});
  auto c = spawn_node("lu-c", s, {"--global", "--seed", a->endpoint});
  auto me = global_node("lu-t", s, {a->endpoint});
  otter::scoped_process p(me->rt());
  REQUIRE(me->wait_for_nodes(3, 20s));
  auto held = p.await(otter::call<reg_result>(a->probe, reg_global{"lu"}));
  REQUIRE(held);
  REQUIRE(held->ok);
  const otter::pid holder = held->holder;
  REQUIRE(eventually([&] { return where_of(p, *c, "lu") == holder; }));

  REQUIRE(p.await(otter::call<otter::ok_reply>(b->probe, block_node{"lu-c", true})));
  REQUIRE(p.await(otter::call<otter::ok_reply>(c->probe, block_node{"lu-b", true})));
  REQUIRE(eventually([&] { return !sees(p, "lu-b", "lu-c") && !sees(p, "lu-c", "lu-b"); }, 20s));
  REQUIRE(sees(p, "lu-c", "lu-a"));

  auto gone = p.await(otter::call<reg_result>(b->probe, unreg_global{"lu"}));
  REQUIRE(gone);
  REQUIRE(gone->ok);
  // c hears of it from the holder's node, although b cannot reach c.
  CHECK(eventually([&] { return where_of(p, *c, "lu") == otter::pid{}; }));

  REQUIRE(p.await(otter::call<otter::ok_reply>(b->probe, block_node{"lu-c", false})));
  REQUIRE(p.await(otter::call<otter::ok_reply>(c->probe, block_node{"lu-b", false})));
  REQUIRE(eventually([&] { return sees(p, "lu-b", "lu-c") && sees(p, "lu-c", "lu-b"); }, 20s));
  p.exit(holder, otter::exit_reason::kill());

  // Anyone can have the name again: c registers it, and every node agrees.
  auto again = p.await(otter::call<reg_result>(c->probe, reg_global{"lu"}));
  REQUIRE(again);
  CHECK(again->ok);
  CHECK(eventually([&] {
    return where_of(p, *a, "lu") == again->holder && where_of(p, *b, "lu") == again->holder &&
           otter::whereis_global(me->rt(), "lu") == again->holder;
  }));
}

TEST_CASE("a node joining right after a member was killed finishes syncing") {
  scratch s;
  auto a = spawn_node("sj-a", s, {"--global"});
  auto b = spawn_node("sj-b", s, {"--global", "--seed", a->endpoint});
  b->proc->kill_now();  // SIGKILL: a declares b down only after the failure timeout
  // Joins at once, while a still lists b among its members: test_node prints READY only once
  // its registry has synced (it gives up after 20 s, and spawn_node throws).
  std::unique_ptr<test_node> c;
  REQUIRE_NOTHROW(c = spawn_node("sj-c", s, {"--global", "--seed", a->endpoint}));
  auto me = global_node("sj-t", s, {a->endpoint});
  otter::scoped_process p(me->rt());
  CHECK(p.await(otter::call<pong>(c->probe, ping{1}))->node == "sj-c");
}

TEST_CASE("calls to a node known to be down fail at once with nodedown") {
  scratch s;
  auto a = spawn_node("kd-a", s);
  auto b = spawn_node("kd-b", s);
  auto me = local_node("kd-t", s, {a->endpoint, b->endpoint});
  REQUIRE(me->wait_for_nodes(2, 15s));
  otter::scoped_process p(me->rt());
  REQUIRE(p.await(otter::call<pong>(a->probe, ping{1})));
  REQUIRE(p.await(otter::call<pong>(b->probe, ping{1})));

  a->proc->kill_now();       // found silent after the failure timeout
  b->proc->signal(SIGTERM);  // says goodbye: down at once
  REQUIRE(eventually([&] { return me->nodes().empty(); }, 20s));
  // Each call's timeout is shorter than the heartbeat period the old code waited for: a call
  // held for the peer's next tick would end in `timeout`, not `nodedown`.
  double slowest_ms = 0;
  for (int i = 0; i < 20; ++i) {
    for (const auto* dead : {&a->probe, &b->probe}) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = p.await(otter::call<pong>(*dead, ping{i}, 50ms));
      slowest_ms = std::max(
          slowest_ms,
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      REQUIRE_FALSE(r);
      CHECK(r.code() == errc::nodedown);
    }
  }
  WARN("slowest nodedown of 40 calls to known-down nodes: " << slowest_ms << " ms");
}
