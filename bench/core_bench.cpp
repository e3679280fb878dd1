// The `core` group: local call round trip, cast throughput (one and many senders), spawning
// a million gen_servers, and a call's cost with 500,000 unrelated messages queued.
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include <otter/core.hpp>

#include "bench.hpp"

namespace otter_bench {
// A named namespace: g++ 12 warns (-Wsubobject-linkage) about coroutine frames of templates
// instantiated with types from an anonymous namespace.
namespace core_group {

using namespace std::chrono_literals;

struct ping {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(ping);
struct pong {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(pong);
struct bump {
  std::int64_t k = 0;
  MSGPACK_DEFINE(k);
};
OTTER_MESSAGE(bump);
struct count {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(count);
struct counted {
  std::int64_t n = 0;
  MSGPACK_DEFINE(n);
};
OTTER_MESSAGE(counted);

// Erlang's bench_srv: ping -> pong, casts increment a counter, count returns it.
class bench_srv : public otter::gen_server<bench_srv> {
 public:
  using calls = otter::msgs<ping, count>;
  using casts = otter::msgs<bump>;
  using infos = otter::msgs<bump>;
  pong handle_call(const ping&, otter::from&) { return {}; }
  counted handle_call(const count&, otter::from&) { return {n_}; }
  void handle_cast(const bump&) { ++n_; }
  void handle_info(const bump&) {}

 private:
  std::int64_t n_ = 0;
};

// Drives a workload from inside an otter process, replying with what it measured.
struct call_loop {
  otter::pid target;
  std::int64_t warmup = 0;
  std::int64_t millis = 0;
  MSGPACK_DEFINE(target, warmup, millis);
};
OTTER_MESSAGE(call_loop);
struct cast_burst {
  otter::pid target;
  std::int64_t n = 0;
  MSGPACK_DEFINE(target, n);
};
OTTER_MESSAGE(cast_burst);
struct flood_then_call {
  otter::pid target;
  std::int64_t queued = 0;
  std::int64_t calls = 0;
  MSGPACK_DEFINE(target, queued, calls);
};
OTTER_MESSAGE(flood_then_call);
struct measured {
  std::int64_t ops = 0;
  double seconds = 0;
  MSGPACK_DEFINE(ops, seconds);
};
OTTER_MESSAGE(measured);

class driver : public otter::gen_server<driver> {
 public:
  using calls = otter::msgs<call_loop, cast_burst, flood_then_call>;
  using infos = otter::msgs<bump>;

  otter::task<measured> handle_call(const call_loop& c, otter::from&) {
    for (std::int64_t i = 0; i < c.warmup; ++i) (void)co_await otter::call<pong>(c.target, ping{});
    const auto t0 = clock::now();
    const auto until = t0 + std::chrono::milliseconds(c.millis);
    std::int64_t n = 0;
    while (true) {
      for (int k = 0; k < 256; ++k) {
        auto r = co_await otter::call<pong>(c.target, ping{});
        if (!r) throw std::runtime_error("call failed: " + r.err().message);
      }
      n += 256;
      if (clock::now() >= until) break;
    }
    co_return measured{n, seconds_since(t0)};
  }

  otter::task<measured> handle_call(const cast_burst& c, otter::from&) {
    const auto t0 = clock::now();
    for (std::int64_t i = 0; i < c.n; ++i) otter::cast(c.target, bump{i});
    auto r = co_await otter::call<counted>(c.target, count{}, 120s);
    if (!r) throw std::runtime_error("count failed: " + r.err().message);
    co_return measured{r->n, seconds_since(t0)};
  }

  otter::task<measured> handle_call(const flood_then_call& f, otter::from&) {
    for (std::int64_t i = 0; i < f.queued; ++i) otter::send(otter::self(), bump{i});
    // As OTP's call_with_huge_message_queue: the 10,000 timed calls start right after the
    // flood, the first wake included.
    const auto t0 = clock::now();
    for (std::int64_t i = 0; i < f.calls; ++i) (void)co_await otter::call<pong>(f.target, ping{});
    co_return measured{f.calls, seconds_since(t0)};
  }
  void handle_info(const bump&) {}
};

otter::runtime_options opts() {
  otter::runtime_options o;
  o.node_name = "bench";
  if (const char* w = std::getenv("OTTER_BENCH_WORKERS")) o.workers = unsigned(std::atoi(w));
  return o;
}

void local_call() {
  otter::runtime rt(opts());
  otter::scoped_process me(rt);
  auto srv = rt.start<bench_srv>();
  auto drv = rt.start<driver>();
  auto r = me.await(otter::call<measured>(*drv, call_loop{*srv, 10000, 2000}, 60s));
  if (!r) throw std::runtime_error(r.err().message);
  const double us = r->seconds * 1e6 / static_cast<double>(r->ops);
  report("otter_local_call_us", us, "us");
  report("otter_local_call_per_s", static_cast<double>(r->ops) / r->seconds, "calls/s");
}

void local_cast() {
  otter::runtime rt(opts());
  otter::scoped_process me(rt);
  auto srv = rt.start<bench_srv>();
  auto drv = rt.start<driver>();
  constexpr std::int64_t n = 5000000;
  auto r = me.await(otter::call<measured>(*drv, cast_burst{*srv, n}, 120s));
  if (!r || r->ops != n) throw std::runtime_error("cast burst lost messages");
  report("otter_local_cast_per_s", static_cast<double>(n) / r->seconds, "msgs/s");
}

void local_cast_many() {
  otter::runtime rt(opts());
  constexpr int pairs = 100;
  constexpr std::int64_t per = 5000000 / pairs;
  std::vector<otter::pid> servers, drivers;
  for (int i = 0; i < pairs; ++i) {
    servers.push_back(*rt.start<bench_srv>());
    drivers.push_back(*rt.start<driver>());
  }
  std::atomic<int> done{0};
  std::atomic<bool> failed{false};
  // One outside thread per 25 drivers starts them (a call each); all bursts run at once.
  const auto t0 = clock::now();
  std::vector<std::thread> starters;
  for (int t = 0; t < 4; ++t) {
    starters.emplace_back([&, t] {
      std::vector<std::thread> callers;
      for (int i = t; i < pairs; i += 4) {
        callers.emplace_back([&, i] {
          otter::scoped_process me(rt);
          auto r = me.await(otter::call<measured>(drivers[i], cast_burst{servers[i], per}, 120s));
          if (!r || r->ops != per) failed = true;
          done.fetch_add(1);
        });
      }
      for (auto& c : callers) c.join();
    });
  }
  for (auto& s : starters) s.join();
  const double secs = seconds_since(t0);
  if (failed) throw std::runtime_error("cast_many lost messages");
  report("otter_local_cast_many_per_s", static_cast<double>(per * pairs) / secs, "msgs/s");
}

void spawn_million() {
  otter::runtime rt(opts());
  constexpr int n = 1000000;
  std::vector<otter::pid> pids;
  pids.reserve(n);
  const std::uint64_t rss0 = resident_bytes();
  const auto t0 = clock::now();
  for (int i = 0; i < n; ++i) {
    auto p = rt.start<bench_srv>();
    if (!p) throw std::runtime_error("start failed: " + p.err().message);
    pids.push_back(*p);
  }
  const double secs = seconds_since(t0);
  const std::uint64_t rss1 = resident_bytes();
  const double pid_bytes = static_cast<double>(pids.capacity() * sizeof(otter::pid));
  report("otter_spawn_gensrv_1m_s", secs, "s");
  report("otter_spawn_gensrv_bytes_per_proc", (static_cast<double>(rss1 - rss0) - pid_bytes) / n,
         "bytes");
}

void call_with_queue() {
  otter::runtime rt(opts());
  otter::scoped_process me(rt);
  auto srv = rt.start<bench_srv>();
  auto empty = rt.start<driver>();
  auto full = rt.start<driver>();
  auto a = me.await(otter::call<measured>(*empty, flood_then_call{*srv, 0, 10000}, 120s));
  auto b = me.await(otter::call<measured>(*full, flood_then_call{*srv, 500000, 10000}, 120s));
  if (!a || !b) throw std::runtime_error("queued-call run failed");
  report("otter_call_500k_queued_ratio", b->seconds / a->seconds, "x");
}

}  // namespace core_group

int run_core(std::string_view only) {
  using namespace core_group;
  auto want = [&](std::string_view name) { return only.empty() || name.find(only) != name.npos; };
  try {
    // Spawning first: its resident-memory figure must not see memory freed by other figures.
    if (want("otter_spawn")) spawn_million();
    if (want("otter_local_call")) local_call();
    if (want("otter_local_cast_per_s")) local_cast();
    if (want("otter_local_cast_many")) local_cast_many();
    if (want("otter_call_500k")) call_with_queue();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "otter-bench core: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace otter_bench
