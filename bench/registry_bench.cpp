// The `registry` group: the global registry on nodes in this process, talking over loopback
// TCP without encryption (as Erlang's distribution does by default), one worker each.
// - otter_whereis_global_per_s: local lookups on one thread (1,000 names in the table).
// - otter_register_global_us / otter_unregister_global_us: median time for the call to
//   return success with 3 nodes (the change is then visible on every node).
// - otter_register_visible_5_us: median time from asking to register until all of 5 nodes
//   answer the new Pid (polled directly on each node's replica).
// - otter_call_by_name_us / otter_call_by_pid_us: remote call round trips to one server.
// Registrations and calls run in a process of the first node (coroutine handlers), as the
// Erlang baseline runs them in an Erlang process.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <otter/global.hpp>
#include <otter/node.hpp>

#include "bench.hpp"
#include "cluster.hpp"

namespace otter_bench {
namespace registry_group {

using namespace std::chrono_literals;

struct echo {
  std::int64_t seq = 0;
  MSGPACK_DEFINE(seq);
};
OTTER_MESSAGE(echo);
struct reg_run {
  std::string prefix;
  std::int64_t n = 0;
  MSGPACK_DEFINE(prefix, n);
};
OTTER_MESSAGE(reg_run);
struct reg_one {
  std::string name;
  MSGPACK_DEFINE(name);
};
OTTER_MESSAGE(reg_one);
struct call_run {
  otter::pid target;
  std::string name;
  std::int64_t n = 0;
  MSGPACK_DEFINE(target, name, n);
};
OTTER_MESSAGE(call_run);
struct timings {
  std::vector<double> a_us, b_us;
  std::int64_t failures = 0;
  MSGPACK_DEFINE(a_us, b_us, failures);
};
OTTER_MESSAGE(timings);

class echo_srv : public otter::gen_server<echo_srv> {
 public:
  using calls = otter::msgs<echo>;
  echo handle_call(const echo& e, otter::from&) { return e; }
};

double micros(clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock::now() - t0).count();
}

class driver : public otter::gen_server<driver> {
 public:
  using calls = otter::msgs<reg_run, call_run>;
  using casts = otter::msgs<reg_one>;

  // Registers prefix-0..n-1 to itself (timing each), then unregisters them (timing each).
  otter::task<timings> handle_call(const reg_run& r, otter::from&) {
    timings t;
    for (std::int64_t i = 0; i < r.n; ++i) {
      std::string name = r.prefix + std::to_string(i);
      const auto t0 = clock::now();
      auto ok = co_await otter::register_global(std::move(name), otter::self());
      t.a_us.push_back(micros(t0));
      if (!ok) ++t.failures;
    }
    for (std::int64_t i = 0; i < r.n; ++i) {
      std::string name = r.prefix + std::to_string(i);
      const auto t0 = clock::now();
      auto ok = co_await otter::unregister_global(std::move(name));
      t.b_us.push_back(micros(t0));
      if (!ok) ++t.failures;
    }
    co_return t;
  }
  // Alternates calls by Pid and by global name to the same server.
  otter::task<timings> handle_call(const call_run& c, otter::from&) {
    timings t;
    const otter::dest by_name = c.name;
    for (std::int64_t i = 0; i < c.n; ++i) {
      auto t0 = clock::now();
      auto a = co_await otter::call<echo>(c.target, echo{i});
      t.a_us.push_back(micros(t0));
      t0 = clock::now();
      auto b = co_await otter::call<echo>(by_name, echo{i});
      t.b_us.push_back(micros(t0));
      if (!a || !b) ++t.failures;
    }
    co_return t;
  }
  otter::task<void> handle_cast(const reg_one& r) {
    std::string name = r.name;
    (void)co_await otter::register_global(std::move(name), otter::self());
  }
};

// The nodes, each with a global registry, synced before the constructor returns.
struct cluster {
  std::vector<std::shared_ptr<otter::global_registry>> registries;
  local_cluster lc;
  std::vector<std::unique_ptr<otter::node>>& nodes = lc.nodes;

  explicit cluster(int n)
      : lc(n, "bench", [this](otter::node& node) {
          auto g = otter::global_registry::start(node);
          if (!g) throw std::runtime_error(g.err().message);
          registries.push_back(*g);
        }) {
    for (auto& g : registries) {
      if (!g->wait_synced(20s)) throw std::runtime_error("the bench registries did not sync");
    }
  }
};

}  // namespace registry_group

int run_registry(std::string_view only) {
  using namespace registry_group;
  auto wanted = [&](std::string_view name) {
    return only.empty() || name.find(only) != std::string_view::npos;
  };
  {
    cluster c(3);
    auto& a = *c.nodes[0];
    otter::scoped_process me(a.rt());
    auto drv = a.rt().start<driver>();
    if (!drv) return 1;
    if (wanted("otter_whereis_global_per_s")) {
      for (int i = 0; i < 1000; ++i) {
        if (!me.await(otter::register_global("w-" + std::to_string(i), *drv))) return 1;
      }
      const std::int64_t n = 20'000'000;
      std::vector<std::string> keys;
      for (int i = 0; i < 1000; ++i) keys.push_back("w-" + std::to_string(i));
      std::uint64_t found = 0;
      const auto t0 = clock::now();
      for (std::int64_t i = 0; i < n; ++i) {
        found += otter::whereis_global(a.rt(), keys[static_cast<std::size_t>(i) % keys.size()])
                     .has_value();
      }
      const double s = seconds_since(t0);
      if (found != static_cast<std::uint64_t>(n)) return 1;
      report("otter_whereis_global_per_s", static_cast<double>(n) / s, "ops/s");
    }
    if (wanted("otter_register_global_us") || wanted("otter_unregister_global_us")) {
      (void)me.await(otter::call<timings>(*drv, reg_run{"warm-", 200}, 600s));
      auto r = me.await(otter::call<timings>(*drv, reg_run{"reg-", 2000}, 600s));
      if (!r || r->failures != 0) return 1;
      report("otter_register_global_us", median(r->a_us), "us");
      report("otter_unregister_global_us", median(r->b_us), "us");
    }
    if (wanted("otter_call_by_name_us") || wanted("otter_call_by_pid_us")) {
      auto srv = c.nodes[1]->rt().start<echo_srv>();
      if (!srv) return 1;
      otter::scoped_process remote(c.nodes[1]->rt());
      if (!remote.await(otter::register_global("bench-echo", *srv))) return 1;
      (void)me.await(otter::call<timings>(*drv, call_run{*srv, "bench-echo", 2000}, 600s));
      auto r = me.await(otter::call<timings>(*drv, call_run{*srv, "bench-echo", 20000}, 600s));
      if (!r || r->failures != 0) return 1;
      report("otter_call_by_pid_us", median(r->a_us), "us");
      report("otter_call_by_name_us", median(r->b_us), "us");
    }
  }
  if (wanted("otter_register_visible_5_us")) {
    cluster c(5);
    auto drv = c.nodes[0]->rt().start<driver>();
    if (!drv) return 1;
    otter::scoped_process me(c.nodes[0]->rt());
    std::vector<double> us;
    for (int i = 0; i < 1200; ++i) {
      const std::string name = "vis-" + std::to_string(i);
      const auto t0 = clock::now();
      (void)me.cast(*drv, reg_one{name});
      for (;;) {
        bool all = true;
        for (auto& g : c.registries) all = all && g->whereis(name).has_value();
        if (all) break;
        if (seconds_since(t0) > 10) return 1;
      }
      if (i >= 200) us.push_back(micros(t0));  // the first 200 warm up
    }
    report("otter_register_visible_5_us", median(us), "us");
  }
  return 0;
}

}  // namespace otter_bench
