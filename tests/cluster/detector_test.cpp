// Failure detection that scales (net/src/detector.cpp): each node watches only a few ring
// neighbours, yet a member killed without a goodbye is declared down by every node, including
// those that did not watch it (they learn of it from a watcher and confirm it with a probe).
#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

#include "cluster_fixture.hpp"

using namespace cluster_test;
using namespace std::chrono_literals;

namespace {

// The members of a ring ordered by node id that `self` watches with k neighbours each side
// (net/src/detector.cpp, choose_neighbours).
std::vector<std::uint64_t> ring_neighbours(std::vector<std::uint64_t> ids, std::uint64_t self,
                                           std::size_t k) {
  std::sort(ids.begin(), ids.end());
  const std::size_t n = ids.size();
  const auto after =
      static_cast<std::size_t>(std::upper_bound(ids.begin(), ids.end(), self) - ids.begin());
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < k; ++i) {
    out.push_back(ids[(after + i) % n]);
    out.push_back(ids[(after + n - 1 - i) % n]);
  }
  return out;
}

}  // namespace

TEST_CASE("a SIGKILLed member is declared down by a node that does not watch it") {
  scratch s;
  auto me = local_node("ring-t", s);
  std::vector<std::unique_ptr<test_node>> kids;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 6; ++i) {
    kids.push_back(spawn_node("ring-" + std::to_string(i), s, {"--seed", me->endpoint()}));
    ids.push_back(otter::node_id_of("ring-" + std::to_string(i)));
  }
  REQUIRE(me->wait_for_nodes(6, 30s));
  {  // every member sees every other (the mesh closed by gossip)
    otter::scoped_process p(me->rt());
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (int i = 0; i < 6; ++i) {
      while (members_of(p, "ring-" + std::to_string(i)).size() < 6) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(50ms);
      }
    }
  }
  // Seven members, one neighbour each side (the default): four members we do not watch.
  const auto watched = ring_neighbours(ids, me->id(), otter::net_defaults::watch_neighbours);
  std::size_t victim = kids.size();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (std::find(watched.begin(), watched.end(), ids[i]) == watched.end()) victim = i;
  }
  REQUIRE(victim < kids.size());
  const std::string victim_name = "ring-" + std::to_string(victim);

  otter::scoped_process watcher(me->rt());
  me->monitor_nodes(watcher.self());
  kids[victim]->proc->kill_now();  // SIGKILL: no goodbye
  auto down = watcher.receive<otter::nodedown>(20s);
  REQUIRE(down);
  CHECK(down->node == victim_name);
  CHECK(down->reason == "noconnection");
  const auto left = me->nodes();
  CHECK(left.size() == 5);
  CHECK(std::none_of(left.begin(), left.end(),
                     [&](const otter::node_info& n) { return n.name == victim_name; }));
  // Nobody else was declared down: the probes of the others were answered.
  CHECK_FALSE(watcher.receive<otter::nodedown>(2s));
  CHECK(me->nodes().size() == 5);
}
