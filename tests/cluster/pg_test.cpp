// Process groups across real node processes, modelled on OTP's pg_SUITE: basic join/leave,
// members on every node, process exit, node down, scope and group monitors, broadcast.
#include <catch2/catch.hpp>

#include <otter/pg.hpp>

#include "cluster_fixture.hpp"

using namespace cluster_test;
using otter::errc;
namespace pg = otter::pg;

namespace {

std::vector<otter::pid> sorted(std::vector<otter::pid> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// A node running the default pg scope next to the global registry (as otter::start_node does).
std::unique_ptr<otter::node> pg_node(const std::string& name, const scratch& s,
                                     std::vector<std::string> seeds) {
  auto n = global_node(name, s, std::move(seeds));
  if (auto r = pg::start_scope(*n); !r) throw std::runtime_error(r.err().message);
  return n;
}

// The members of `group` as node `node`'s scope server sees them.
std::vector<otter::pid> members_on(otter::scoped_process& p, const std::string& node,
                                   const std::string& group) {
  auto g = p.await(otter::call<pg::pg_groups>(otter::dest::at(pg::server_name("pg"), node),
                                              pg::pg_groups_request{}));
  if (!g) return {};
  for (auto& m : g->groups) {
    if (m.group == group) return sorted(m.members);
  }
  return {};
}

// Two otter-node children (PREFIX-a, PREFIX-b, each with pg) and a pg node in this test process
// (PREFIX-t), all seeing each other.
struct three_nodes {
  scratch s;
  std::unique_ptr<test_node> a, b;
  std::unique_ptr<otter::node> me;
  explicit three_nodes(const std::string& prefix)
      : a(spawn_node(prefix + "-a", s, {"--global"})),
        b(spawn_node(prefix + "-b", s, {"--global", "--seed", a->endpoint})),
        me(pg_node(prefix + "-t", s, {a->endpoint})) {
    if (!me->wait_for_nodes(2, 20s)) throw std::runtime_error(prefix + ": the nodes did not meet");
  }
};

}  // namespace

TEST_CASE("pg: a group spans nodes; joins count; leave; which_groups; local members") {
  three_nodes c("pg");
  auto& a = c.a;
  auto& b = c.b;
  auto& me = c.me;
  auto& rt = me->rt();
  otter::scoped_process p(rt);

  REQUIRE(p.await(pg::join("room", p.self())));
  REQUIRE(p.await(pg::join("room", p.self())));  // twice: listed twice
  CHECK(pg::get_local_members(rt, "room") == std::vector<otter::pid>{p.self(), p.self()});
  auto ea = p.await(otter::call<pid_list>(a->probe, enlist{"room", 2}));
  auto eb = p.await(otter::call<pid_list>(b->probe, enlist{"room", 3}));
  REQUIRE(ea);
  REQUIRE(eb);
  REQUIRE(ea->code == 0);
  REQUIRE(eb->code == 0);
  REQUIRE(ea->pids.size() == 2);
  REQUIRE(eb->pids.size() == 3);

  std::vector<otter::pid> all{p.self(), p.self()};
  all.insert(all.end(), ea->pids.begin(), ea->pids.end());
  all.insert(all.end(), eb->pids.begin(), eb->pids.end());
  all = sorted(all);
  CHECK(eventually([&] { return sorted(pg::get_members(rt, "room")) == all; }));
  CHECK(pg::which_groups(rt) == std::vector<std::string>{"room"});
  CHECK(pg::get_local_members(rt, "room").size() == 2);
  for (const char* n : {"pg-a", "pg-b"}) {
    INFO(n);
    CHECK(eventually([&] { return members_on(p, n, "room") == all; }));
  }
  CHECK(pg::get_members(rt, "nobody").empty());
  CHECK(pg::get_members(rt, "room", "no-such-scope").empty());

  // Each leave removes one membership; a third finds none.
  REQUIRE(p.await(pg::leave("room", p.self())));
  CHECK(pg::get_local_members(rt, "room") == std::vector<otter::pid>{p.self()});
  REQUIRE(p.await(pg::leave("room", p.self())));
  auto again = p.await(pg::leave("room", p.self()));
  REQUIRE_FALSE(again);
  CHECK(again.code() == errc::not_found);
  // Another node's process cannot be joined from here.
  auto foreign = p.await(pg::join("room", ea->pids[0]));
  REQUIRE_FALSE(foreign);
  CHECK(foreign.code() == errc::badarg);
  // An unknown scope: the call finds no server.
  auto unknown = p.await(pg::join("room", p.self(), "no-such-scope"));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.code() == errc::noproc);

  std::vector<otter::pid> remote(ea->pids.begin(), ea->pids.end());
  remote.insert(remote.end(), eb->pids.begin(), eb->pids.end());
  remote = sorted(remote);
  CHECK(eventually([&] { return members_on(p, "pg-a", "room") == remote; }));
  CHECK(sorted(pg::get_members(rt, "room")) == remote);
}

TEST_CASE("pg: members that exit leave everywhere; a node down takes its members; monitors") {
  three_nodes c("pgx");
  auto& a = c.a;
  auto& b = c.b;
  auto& me = c.me;
  auto& rt = me->rt();
  otter::scoped_process p(rt);
  otter::scoped_process group_watcher(rt);

  auto sub = p.await(pg::monitor_scope());
  REQUIRE(sub);
  CHECK(sub->groups.empty());
  auto gsub = group_watcher.await(pg::monitor("other"));
  REQUIRE(gsub);

  auto ea = p.await(otter::call<pid_list>(a->probe, enlist{"g", 2}));
  auto eb = p.await(otter::call<pid_list>(b->probe, enlist{"g", 2}));
  REQUIRE((ea && eb && ea->code == 0 && eb->code == 0));
  // One join event per join, from each node, in each node's order.
  std::vector<otter::pid> joined;
  for (int i = 0; i < 2; ++i) {
    auto e = p.receive<pg::pg_event>(20s);
    REQUIRE(e);
    CHECK(e->ref == sub->ref);
    CHECK(e->joined);
    CHECK(e->group == "g");
    CHECK(e->scope == "pg");
    joined.insert(joined.end(), e->pids.begin(), e->pids.end());
  }
  std::vector<otter::pid> expected(ea->pids.begin(), ea->pids.end());
  expected.insert(expected.end(), eb->pids.begin(), eb->pids.end());
  CHECK(sorted(joined) == sorted(expected));
  CHECK(sorted(pg::get_members(rt, "g")) == sorted(expected));

  // A member that exits leaves: here, and on the other node.
  CHECK(p.await(otter::call<pong>(ea->pids[0], crash{"bye"})).code() == errc::exited);
  auto left = p.receive<pg::pg_event>(20s);
  REQUIRE(left);
  CHECK_FALSE(left->joined);
  CHECK(left->pids == std::vector<otter::pid>{ea->pids[0]});
  CHECK(pg::get_members(rt, "g").size() == 3);
  CHECK(eventually([&] { return members_on(p, "pgx-b", "g").size() == 3; }));

  // A node that dies takes its members with it.
  b->proc->kill_now();
  auto gone = p.receive<pg::pg_event>(30s);
  REQUIRE(gone);
  CHECK_FALSE(gone->joined);
  CHECK(sorted(gone->pids) == sorted(eb->pids));
  CHECK(pg::get_members(rt, "g") == std::vector<otter::pid>{ea->pids[1]});
  // pgx-a finds pgx-b down by itself (its own failure detection): eventually.
  CHECK(eventually(
      [&] { return members_on(p, "pgx-a", "g") == std::vector<otter::pid>{ea->pids[1]}; }, 20s));

  // The group monitor saw none of it (another group); it sees its own group's changes.
  CHECK_FALSE(group_watcher.receive<pg::pg_event>(200ms));
  auto eo = p.await(otter::call<pid_list>(a->probe, enlist{"other", 1}));
  REQUIRE((eo && eo->code == 0));
  auto ge = group_watcher.receive<pg::pg_event>(20s);
  REQUIRE(ge);
  CHECK(ge->ref == gsub->ref);
  CHECK(ge->group == "other");
  CHECK(ge->pids == eo->pids);
  // After demonitor, nothing more arrives.
  REQUIRE(group_watcher.await(pg::demonitor(gsub->ref)));
  auto eo2 = p.await(otter::call<pid_list>(a->probe, enlist{"other", 1}));
  REQUIRE(eo2);
  CHECK(eventually([&] { return pg::get_members(rt, "other").size() == 2; }));
  CHECK_FALSE(group_watcher.receive<pg::pg_event>(200ms));
  auto bad = group_watcher.await(pg::demonitor(gsub->ref));
  CHECK(bad.code() == errc::not_found);
}

TEST_CASE("pg: a node that joins late gets every membership; broadcast reaches each member once") {
  scratch s;
  auto a = spawn_node("pgb-a", s, {"--global"});
  auto ea_node = a.get();
  auto me = pg_node("pgb-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 20s));
  auto& rt = me->rt();
  otter::scoped_process p(rt);
  auto ea = p.await(otter::call<pid_list>(ea_node->probe, enlist{"fan", 3}));
  REQUIRE((ea && ea->code == 0));
  // b joins the cluster after the memberships exist: its first sync brings them.
  auto b = spawn_node("pgb-b", s, {"--global", "--seed", a->endpoint});
  REQUIRE(me->wait_for_nodes(2, 20s));
  auto eb = p.await(otter::call<pid_list>(b->probe, enlist{"fan", 2}));
  REQUIRE((eb && eb->code == 0));
  CHECK(eventually([&] { return members_on(p, "pgb-b", "fan").size() == 5; }));

  std::vector<otter::pid> local;
  for (int i = 0; i < 2; ++i) {
    auto w = rt.start<probe>("pgb-t");
    REQUIRE(w);
    local.push_back(*w);
  }
  REQUIRE(p.await(pg::join("fan", local)));
  CHECK(eventually([&] { return pg::get_members(rt, "fan").size() == 7; }));

  auto sent = pg::broadcast(rt, "fan", add{42});
  CHECK(sent.local_members == 2);
  CHECK(sent.nodes == 2);
  std::vector<otter::pid> every(local);
  every.insert(every.end(), ea->pids.begin(), ea->pids.end());
  every.insert(every.end(), eb->pids.begin(), eb->pids.end());
  for (const auto& m : every) {
    INFO(otter::to_string(m));
    CHECK(eventually([&] {
      auto log = p.await(otter::call<log_reply>(m, get_log{}));
      return log && log->values == std::vector<std::int64_t>{42};
    }));
  }
  // A group nobody is in: nothing sent, nothing fails.
  auto none = pg::broadcast(rt, "empty", add{1});
  CHECK(none.local_members == 0);
  CHECK(none.nodes == 0);
}
