// The `supervisor` group: restart latency of a one_for_one child (from its crash to its
// replacement answering a call, over 10,000 crashes), and 100,000 children of a dynamic
// supervisor started, then stopped with their supervisor.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include <otter/core.hpp>
#include <otter/dynamic_supervisor.hpp>
#include <otter/supervisor.hpp>

#include "bench.hpp"

namespace otter_bench {
// A named namespace: g++ 12 warns (-Wsubobject-linkage) about coroutine frames of templates
// instantiated with types from an anonymous namespace.
namespace supervisor_group {

using namespace std::chrono_literals;

struct ping {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(ping);
struct pong {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(pong);
struct crash {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(crash);
struct child_up {
  otter::pid child;
  MSGPACK_DEFINE(child);
};
OTTER_MESSAGE(child_up);
struct run_restarts {
  std::int64_t n = 0;
  MSGPACK_DEFINE(n);
};
OTTER_MESSAGE(run_restarts);
struct latencies {
  std::vector<std::int64_t> ns;
  MSGPACK_DEFINE(ns);
};
OTTER_MESSAGE(latencies);
struct start_many {
  otter::pid sup;
  std::int64_t n = 0;
  MSGPACK_DEFINE(sup, n);
};
OTTER_MESSAGE(start_many);
struct started_many {
  std::int64_t ok = 0;
  double seconds = 0;
  MSGPACK_DEFINE(ok, seconds);
};
OTTER_MESSAGE(started_many);

// Tells `watcher` when it is up; answers ping; crashes (throws) on `crash`.
class crashy : public otter::gen_server<crashy> {
 public:
  using calls = otter::msgs<ping>;
  using casts = otter::msgs<crash>;
  explicit crashy(otter::pid watcher = {}) : watcher_(watcher) {}
  void init() {
    if (watcher_) otter::send(watcher_, child_up{otter::self()});
  }
  pong handle_call(const ping&, otter::from&) { return {}; }
  void handle_cast(const crash&) { throw std::runtime_error("crash"); }

 private:
  otter::pid watcher_;
};

// Crashes the child, waits for its replacement to announce itself, calls it, repeats.
class restart_driver : public otter::gen_server<restart_driver> {
 public:
  using calls = otter::msgs<run_restarts>;
  using infos = otter::msgs<child_up>;

  otter::noreply_t handle_call(const run_restarts& r, otter::from& f) {
    waiter_ = std::move(f);
    remaining_ = r.n;
    crash_current();
    return otter::noreply;
  }
  otter::task<void> handle_info(const child_up& u) {
    current_ = u.child;
    if (!waiter_.valid()) co_return;  // the first start
    auto r = co_await otter::call<pong>(u.child, ping{});
    if (!r) throw std::runtime_error("replacement did not answer: " + r.err().message);
    out_.ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0_).count());
    if (--remaining_ == 0) {
      waiter_.reply(std::move(out_));
      co_return;
    }
    crash_current();
  }

 private:
  void crash_current() {
    t0_ = clock::now();
    otter::cast(current_, crash{});
  }
  otter::from waiter_;
  std::int64_t remaining_ = 0;
  otter::pid current_;
  clock::time_point t0_;
  latencies out_;
};

// Starts `n` children under a dynamic supervisor, one call each, from inside the runtime.
class start_driver : public otter::gen_server<start_driver> {
 public:
  using calls = otter::msgs<start_many>;
  otter::task<started_many> handle_call(const start_many& m, otter::from&) {
    const otter::child_spec spec = otter::worker<crashy>("");
    const auto t0 = clock::now();
    std::int64_t ok = 0;
    for (std::int64_t i = 0; i < m.n; ++i) {
      auto r = co_await otter::dynamic_supervisor::start_child(m.sup, spec);
      if (r) ++ok;
    }
    co_return started_many{ok, seconds_since(t0)};
  }
};

otter::runtime_options opts() {
  otter::runtime_options o;
  o.node_name = "bench";
  return o;
}

void restart_latency() {
  otter::runtime rt(opts());
  otter::scoped_process me(rt);
  auto drv = rt.start<restart_driver>();
  otter::supervisor_flags flags;
  flags.max_restarts = 1000000000;  // the bench crashes on purpose
  auto sup = otter::supervisor::start(rt, flags, {otter::worker<crashy>("crashy", *drv)});
  if (!sup) throw std::runtime_error("supervisor start failed: " + sup.err().message);
  constexpr std::int64_t n = 10000;
  auto r = me.await(otter::call<latencies>(*drv, run_restarts{n}, 300s));
  if (!r || r->ns.size() != n) throw std::runtime_error("restart run failed");
  report("otter_restart_p50_us", percentile(r->ns, 0.50) / 1e3, "us");
  report("otter_restart_p99_us", percentile(r->ns, 0.99) / 1e3, "us");
  (void)me.await(otter::supervisor::stop(*sup));
}

void dynamic_100k() {
  otter::runtime rt(opts());
  otter::scoped_process me(rt);
  constexpr std::int64_t n = 100000;
  auto sup = otter::dynamic_supervisor::start(rt);
  auto drv = rt.start<start_driver>();
  auto r = me.await(otter::call<started_many>(*drv, start_many{*sup, n}, 300s));
  if (!r || r->ok != n) throw std::runtime_error("dynamic start failed");
  auto counts = me.await(otter::dynamic_supervisor::count_children(*sup));
  if (!counts || counts->active != n) throw std::runtime_error("dynamic count wrong");
  report("otter_dynsup_start_100k_s", r->seconds, "s");
  const auto ref = me.monitor(*sup);
  const auto t0 = clock::now();
  auto stopped =
      me.await(otter::dynamic_supervisor::stop(*sup, otter::exit_reason::shutdown(), 300s));
  auto d = me.receive<otter::down>(300s);
  const double secs = seconds_since(t0);
  if (!stopped || !d || d->ref != ref) throw std::runtime_error("dynamic stop failed");
  report("otter_dynsup_stop_100k_s", secs, "s");
}

}  // namespace supervisor_group

int run_supervisor(std::string_view only) {
  using namespace supervisor_group;
  auto want = [&](std::string_view name) { return only.empty() || name.find(only) != name.npos; };
  try {
    if (want("otter_restart")) restart_latency();
    if (want("otter_dynsup")) dynamic_100k();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "otter-bench supervisor: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace otter_bench
