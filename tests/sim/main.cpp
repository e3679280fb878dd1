// otter-sim: runs seeded schedules in the deterministic simulator (scenario.hpp).
//
//   otter-sim --seeds 10000 [--first 1] [--nodes K] [--jobs 2]   many schedules, in parallel
//             [--watch W]   ring neighbours watched on each side (default by seed: 1 or 2)
//   otter-sim --seed 1234 --nodes 5 --trace                      one, with its event trace
//   otter-sim --scenario lost_unregister [--seed S] [--trace]     a directed schedule
//   otter-sim --scale 1000 [--seed S] [--watch W] [--loss PERCENT] [--progress]
//             N nodes through a join, a crash wave, a partition and loss (scale.hpp): figures
//
// Without --nodes and --watch, seed s runs scenario.hpp's seeded_schedule(s). Prints schedules per
// second and, for each violated invariant, the seed, the violation and the command that replays it.
// Exit code: 0 no violation, 1 some, 2 bad arguments.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scale.hpp"
#include "scenario.hpp"

namespace {

struct args {
  std::uint64_t seed = 0, first = 1, seeds = 0;
  int nodes = 0, chaos = 10, jobs = 2, watch = -1, scale = 0;
  double loss = 1.0;
  bool trace = false, broken = false, progress = false;
  std::string scenario;
};

bool parse(int argc, char** argv, args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (k == "--trace") {
      a.trace = true;
    } else if (k == "--progress") {
      a.progress = true;
    } else if (k == "--broken-invariant") {
      a.broken = true;
    } else if ((v = value()) == nullptr) {
      return false;
    } else if (k == "--scenario") {
      a.scenario = v;
      if (a.seed == 0) a.seed = 1;
    } else if (k == "--seed") {
      a.seed = std::strtoull(v, nullptr, 10);
    } else if (k == "--first") {
      a.first = std::strtoull(v, nullptr, 10);
    } else if (k == "--seeds") {
      a.seeds = std::strtoull(v, nullptr, 10);
    } else if (k == "--nodes") {
      a.nodes = std::atoi(v);
    } else if (k == "--chaos") {
      a.chaos = std::atoi(v);
    } else if (k == "--scale") {
      a.scale = std::atoi(v);
    } else if (k == "--loss") {
      a.loss = std::atof(v);
    } else if (k == "--watch") {
      a.watch = std::atoi(v);
    } else if (k == "--jobs") {
      a.jobs = std::max(1, std::atoi(v));
    } else {
      return false;
    }
  }
  if (a.scale != 0) return a.scale >= 2 && a.seeds == 0 && a.loss >= 0 && a.loss < 100;
  return (a.seed != 0) != (a.seeds != 0) && a.nodes >= 0 && a.nodes <= 64 && a.chaos >= 0;
}

otter::sim::schedule_options options_for(const args& a, std::uint64_t seed) {
  otter::sim::schedule_options o = otter::sim::seeded_schedule(seed);
  if (a.nodes != 0) o.nodes = a.nodes;
  o.chaos_seconds = a.chaos;
  if (a.watch >= 0) o.watch_neighbours = static_cast<std::size_t>(a.watch);  // 0: every member
  o.trace = a.trace;
  o.broken_invariant = a.broken;
  o.scenario = a.scenario;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  args a;
  if (!parse(argc, argv, a)) {
    std::fprintf(
        stderr,
        "usage: otter-sim (--seed S | --seeds N [--first F] [--jobs J]) [--nodes K] "
        "[--chaos SECONDS] [--watch W] [--scenario NAME] [--trace] [--broken-invariant]\n"
        "       otter-sim --scale N [--seed S] [--watch W] [--loss PERCENT] [--progress]\n");
    return 2;
  }
  if (a.scale != 0) {
    otter::sim::scale_options o;
    o.seed = a.seed != 0 ? a.seed : 1;
    o.nodes = a.scale;
    if (a.watch >= 0) o.watch_neighbours = static_cast<std::size_t>(a.watch);
    o.loss_percent = a.loss;
    o.progress = a.progress;
    const auto r = otter::sim::run_scale(o);
    for (const auto& f : r.figures)
      std::printf("%s %g %s\n", f.name.c_str(), f.value, f.unit.c_str());
    if (!r.failure.empty()) std::printf("FAILED: %s\n", r.failure.c_str());
    return r.failure.empty() ? 0 : 1;
  }
  if (a.seed != 0) {
    auto r = otter::sim::run_schedule(options_for(a, a.seed));
    std::printf("seed %llu: %s (%llu events)\n", static_cast<unsigned long long>(a.seed),
                r.ok ? "ok" : "VIOLATION", static_cast<unsigned long long>(r.events));
    if (!r.ok) std::printf("%s\n", r.violation.c_str());
    return r.ok ? 0 : 1;
  }
  std::atomic<std::uint64_t> next{a.first}, done{0}, failed{0}, events{0};
  std::mutex print;  // serialises the report lines
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t end = a.first + a.seeds;
  std::vector<std::thread> pool;
  for (int j = 0; j < a.jobs; ++j) {
    pool.emplace_back([&] {
      for (std::uint64_t s = next++; s < end; s = next++) {
        auto r = otter::sim::run_schedule(options_for(a, s));
        events += r.events;
        if (!r.ok) {
          ++failed;
          std::lock_guard<std::mutex> l(print);
          std::printf("VIOLATION seed %llu: %s\n", static_cast<unsigned long long>(s),
                      r.violation.c_str());
          std::fflush(stdout);
        }
        const auto d = ++done;
        if (d % 1000 == 0) {
          const double secs =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::lock_guard<std::mutex> l(print);
          std::printf("%llu schedules, %.1f schedules/s, %llu violation(s)\n",
                      static_cast<unsigned long long>(d), static_cast<double>(d) / secs,
                      static_cast<unsigned long long>(failed.load()));
          std::fflush(stdout);
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "sim_schedules %llu\nsim_schedules_per_s %.1f schedules/s\nsim_events %llu\n"
      "sim_violations %llu\n",
      static_cast<unsigned long long>(done.load()), static_cast<double>(done) / secs,
      static_cast<unsigned long long>(events.load()),
      static_cast<unsigned long long>(failed.load()));
  return failed == 0 ? 0 : 1;
}
