// The per-runtime root supervisor and the node's orderly shutdown through it.
#include <catch2/catch.hpp>

#include "sup_test_servers.hpp"

using namespace sup_test;
namespace sup = otter::supervisor;

TEST_CASE("every runtime has one root supervisor, started on first use from any thread") {
  otter::runtime rt(two_workers());
  std::vector<otter::pid> seen(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      auto r = otter::root_supervisor(rt);
      if (r) seen[i] = *r;
    });
  }
  for (auto& t : threads) t.join();
  for (auto& p : seen) {
    CHECK(p);
    CHECK(p == seen[0]);
  }
  // Another runtime (another node name: two runtimes started in the same instant may share a
  // creation, so only the node tells their Pids apart) has its own.
  auto o = two_workers();
  o.node_name = "other";
  otter::runtime other(o);
  CHECK(*otter::root_supervisor(other) != seen[0]);
  CHECK(rt.whereis(std::string(otter::supervisor_defaults::root_name)) == seen[0]);
  REQUIRE(otter::shutdown_root_supervisor(rt, 10s));
  REQUIRE(otter::shutdown_root_supervisor(other, 10s));
}

TEST_CASE("shutting the root supervisor down stops the whole tree in reverse start order") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto root = otter::root_supervisor(rt);
  REQUIRE(root);
  REQUIRE(
      me.await(sup::start_child(*root, sup::child("first", {}, {fx.spec("a1"), fx.spec("a2")}))));
  REQUIRE(me.await(sup::start_child(*root, fx.spec("middle"))));
  auto second = me.await(sup::start_child(*root, otter::dynamic_supervisor::child("second")));
  REQUIRE(second);
  REQUIRE(me.await(otter::dynamic_supervisor::start_child(*second, fx.spec("b1"))));
  CHECK(fx.log->with_prefix("start") ==
        std::vector<std::string>{"start a1", "start a2", "start middle", "start b1"});

  REQUIRE(otter::shutdown_root_supervisor(rt, 10s));
  CHECK(fx.log->with_prefix("stop") ==
        std::vector<std::string>{"stop b1 shutdown", "stop middle shutdown", "stop a2 shutdown",
                                 "stop a1 shutdown"});
  CHECK(!rt.whereis(std::string(otter::supervisor_defaults::root_name)));
  CHECK(rt.process_count() == 1);  // only `me` is left
  // A later use starts a new root.
  auto again = otter::root_supervisor(rt);
  REQUIRE(again);
  CHECK(*again != *root);
  REQUIRE(otter::shutdown_root_supervisor(rt, 10s));
}

TEST_CASE("shutting down a runtime without a root supervisor is a no-op") {
  otter::runtime rt(two_workers());
  CHECK(otter::shutdown_root_supervisor(rt, 1s));
}
