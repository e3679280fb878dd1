// The `pg` group: process groups on 3 nodes in this process, over loopback TCP without
// encryption (as Erlang's distribution by default), one worker each. bench/erlang/pg_bench.erl
// measures the same in Erlang (pg + a send loop); bench/pg_baseline.sh runs both.
// - otter_pg_broadcast_per_s: member deliveries per second of pg::broadcast to a group of
//   1,000 members spread evenly over the 3 nodes (sent from a process of the first node,
//   counted when every member has handled every message).
// - otter_pg_join_visible_us: median time from a join on the first node until get_members on
//   both other nodes lists the new member (polled on each node's view).
// - otter_pg_rtt_us: median remote call round trip in the same cluster, to read the join
//   figure in round trips.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <otter/node.hpp>
#include <otter/pg.hpp>

#include "bench.hpp"
#include "cluster.hpp"

namespace otter_bench {
namespace pg_group {

using namespace std::chrono_literals;

struct tick {
  std::int64_t round = 0;
  MSGPACK_DEFINE(round);
};
OTTER_MESSAGE(tick);
struct echo {
  std::int64_t seq = 0;
  MSGPACK_DEFINE(seq);
};
OTTER_MESSAGE(echo);

std::atomic<std::int64_t> delivered{0};

class member : public otter::gen_server<member> {
 public:
  using calls = otter::msgs<echo>;
  using casts = otter::msgs<tick>;
  void handle_cast(const tick&) { delivered.fetch_add(1, std::memory_order_relaxed); }
  echo handle_call(const echo& e, otter::from&) { return e; }
};

bool wait_members(local_cluster& c, const std::string& group, std::size_t n) {
  const auto t0 = clock::now();
  for (;;) {
    bool all = true;
    for (auto& node : c.nodes) all = all && otter::pg::get_members(node->rt(), group).size() == n;
    if (all) return true;
    if (seconds_since(t0) > 20) return false;
    std::this_thread::sleep_for(1ms);
  }
}

}  // namespace pg_group

int run_pg(std::string_view only) {
  using namespace pg_group;
  auto wanted = [&](std::string_view name) {
    return only.empty() || name.find(only) != std::string_view::npos;
  };
  local_cluster c(3, "pgbench", [](otter::node& node) {
    if (auto s = otter::pg::start_scope(node); !s) throw std::runtime_error(s.err().message);
  });
  std::vector<std::unique_ptr<otter::scoped_process>> on;
  for (auto& n : c.nodes) on.push_back(std::make_unique<otter::scoped_process>(n->rt()));

  if (wanted("otter_pg_broadcast_per_s")) {
    constexpr int members = 1000;
    for (int i = 0; i < members; ++i) {
      const std::size_t k = static_cast<std::size_t>(i % 3);
      auto m = c.nodes[k]->rt().start<member>();
      if (!m || !on[k]->await(otter::pg::join("bench", *m))) return 1;
    }
    if (!wait_members(c, "bench", members)) return 1;
    auto& rt = c.nodes[0]->rt();
    auto run = [&](std::int64_t rounds) {
      delivered.store(0);
      const auto t0 = clock::now();
      for (std::int64_t r = 0; r < rounds; ++r) (void)otter::pg::broadcast(rt, "bench", tick{r});
      const std::int64_t want = rounds * members;
      while (delivered.load(std::memory_order_relaxed) < want) {
        if (seconds_since(t0) > 60) return -1.0;
        std::this_thread::sleep_for(100us);
      }
      return static_cast<double>(want) / seconds_since(t0);
    };
    if (run(200) < 0) return 1;  // warm-up
    const double per_s = run(3000);
    if (per_s < 0) return 1;
    report("otter_pg_broadcast_per_s", per_s, "msgs/s");
  }

  if (wanted("otter_pg_join_visible_us") || wanted("otter_pg_rtt_us")) {
    std::vector<double> join_us, rtt_us;
    auto target = c.nodes[1]->rt().start<member>();
    if (!target) return 1;
    for (int i = 0; i < 1200; ++i) {
      const std::string group = "vis-" + std::to_string(i);
      auto m = c.nodes[0]->rt().start<member>();
      if (!m) return 1;
      const auto t0 = clock::now();
      if (!on[0]->await(otter::pg::join(group, *m))) return 1;
      for (;;) {
        if (!otter::pg::get_members(c.nodes[1]->rt(), group).empty() &&
            !otter::pg::get_members(c.nodes[2]->rt(), group).empty()) {
          break;
        }
        if (seconds_since(t0) > 10) return 1;
      }
      const double us = std::chrono::duration<double, std::micro>(clock::now() - t0).count();
      const auto t1 = clock::now();
      if (!on[0]->await(otter::call<echo>(*target, echo{i}))) return 1;
      const double rtt = std::chrono::duration<double, std::micro>(clock::now() - t1).count();
      if (i >= 200) {  // the first 200 warm up
        join_us.push_back(us);
        rtt_us.push_back(rtt);
      }
    }
    report("otter_pg_join_visible_us", median(join_us), "us");
    report("otter_pg_rtt_us", median(rtt_us), "us");
  }
  return 0;
}

}  // namespace otter_bench
