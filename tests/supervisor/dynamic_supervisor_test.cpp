// Dynamic supervisors (Elixir's DynamicSupervisor, OTP's simple_one_for_one).
#include <catch2/catch.hpp>

#include "sup_test_servers.hpp"

using namespace sup_test;
using otter::child_status;
using otter::errc;
using otter::restart_type;
namespace dynsup = otter::dynamic_supervisor;

namespace {
// "w<i>", built by appending: g++ 12 -O2 reports a false -Wrestrict for "w" + std::to_string(i)
// (GCC bug 105651).
std::string worker_id(int i) {
  std::string id = "w";
  id += std::to_string(i);
  return id;
}
}  // namespace

TEST_CASE("a dynamic supervisor starts, counts and terminates children by Pid") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto s = dynsup::start(rt);
  REQUIRE(s);
  std::vector<otter::pid> kids;
  for (int i = 0; i < 3; ++i) {
    auto p = me.await(dynsup::start_child(*s, fx.spec(worker_id(i))));
    REQUIRE(p);
    kids.push_back(*p);
  }
  auto n = me.await(dynsup::count_children(*s));
  REQUIRE(n);
  CHECK(n->specs == 3);
  CHECK(n->active == 3);
  CHECK(n->workers == 3);

  REQUIRE(me.await(dynsup::terminate_child(*s, kids[1])));
  CHECK(!rt.alive(kids[1]));
  CHECK(fx.log->with_prefix("stop") == std::vector<std::string>{"stop w1 shutdown"});
  CHECK(me.await(dynsup::terminate_child(*s, kids[1])).code() == errc::not_found);
  auto rows = me.await(dynsup::which_children(*s));
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].child == kids[0]);
  CHECK((*rows)[1].child == kids[2]);
  CHECK((*rows)[0].status == child_status::running);

  std::string behaviour;
  behaviour = rt.row(*s)->behaviour;
  CHECK(behaviour == "dynamic_supervisor");
  REQUIRE(me.await(dynsup::stop(*s)));
  for (auto& p : kids) CHECK(!rt.alive(p));
}

TEST_CASE("a dynamic supervisor restarts permanent children and forgets temporary ones") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto s = dynsup::start(rt);
  REQUIRE(s);
  auto perm = me.await(dynsup::start_child(*s, fx.spec("perm")));
  auto temp = me.await(dynsup::start_child(*s, fx.spec("temp", restart_type::temporary)));
  auto trans = me.await(dynsup::start_child(*s, fx.spec("trans", restart_type::transient)));
  REQUIRE((perm && temp && trans));

  const auto pref = me.monitor(*perm), tref = me.monitor(*temp), xref = me.monitor(*trans);
  (void)me.cast(*perm, crash{});
  (void)me.cast(*temp, crash{});
  (void)me.cast(*trans, stop_with{"normal"});
  CHECK(wait_down(me, pref) == "crashed_perm");
  CHECK(wait_down(me, tref) == "crashed_temp");
  CHECK(wait_down(me, xref) == "normal");
  auto rows = me.await(dynsup::which_children(*s));
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);  // the restarted permanent child only
  CHECK((*rows)[0].child != *perm);
  CHECK(me.await(otter::call<pong>((*rows)[0].child, ping{}))->id == "perm");
  REQUIRE(me.await(dynsup::stop(*s)));
}

TEST_CASE("a dynamic supervisor refuses children beyond max_children") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  otter::dynamic_supervisor_options o;
  o.max_children = 2;
  auto s = dynsup::start(rt, o);
  REQUIRE(s);
  REQUIRE(me.await(dynsup::start_child(*s, fx.spec("a"))));
  REQUIRE(me.await(dynsup::start_child(*s, fx.spec("b"))));
  CHECK(me.await(dynsup::start_child(*s, fx.spec("c"))).code() == errc::max_children);
  REQUIRE(me.await(dynsup::stop(*s)));
}

TEST_CASE(
    "stopping a dynamic supervisor stops all its children at once, killing those that "
    "ignore shutdown after their timeout") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto s = dynsup::start(rt);
  REQUIRE(s);
  std::vector<otter::pid> kids;
  for (int i = 0; i < 100; ++i) {
    auto spec = fx.spec(worker_id(i));
    if (i % 10 == 0) {
      fx.control(worker_id(i))->ignore_shutdown = true;
      spec.shutdown = otter::shutdown_policy::timeout(100ms);
    }
    auto p = me.await(dynsup::start_child(*s, std::move(spec)));
    REQUIRE(p);
    kids.push_back(*p);
  }
  REQUIRE(me.await(dynsup::stop(*s)));
  for (auto& p : kids) CHECK(!rt.alive(p));
  CHECK(fx.log->with_prefix("stop").size() == 90);  // the 10 stubborn ones were killed
}

TEST_CASE("a dynamic supervisor under a supervisor is restarted with no children") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto top = otter::supervisor::start(rt, {}, {dynsup::child("pool")});
  REQUIRE(top);
  const auto pool = pid_of(me, *top, "pool");
  auto w = me.await(dynsup::start_child(pool, fx.spec("w")));
  REQUIRE(w);
  const auto wref = me.monitor(*w);
  me.exit(pool, otter::exit_reason::kill());
  CHECK(wait_down(me, wref) == "killed");  // through its link to the killed pool
  REQUIRE(eventually([&] { return pid_of(me, *top, "pool") && pid_of(me, *top, "pool") != pool; }));
  CHECK(me.await(dynsup::count_children(pid_of(me, *top, "pool")))->specs == 0);
  REQUIRE(me.await(otter::supervisor::stop(*top)));
}
