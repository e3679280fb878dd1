#include "scale.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>

#include <otter/log.hpp>

#include "link_state.hpp"
#include "sim_hooks.hpp"
#include "transport.hpp"
#include "world.hpp"

namespace otter::sim {

namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

// Counts the nodedowns a node's membership reports (node::monitor_nodes).
class down_counter : public gen_server<down_counter> {
 public:
  using infos = msgs<nodeup, nodedown>;
  explicit down_counter(std::shared_ptr<std::uint64_t> downs) : downs_(std::move(downs)) {}
  void handle_info(const nodeup&) {}
  void handle_info(const nodedown&) { ++*downs_; }

 private:
  std::shared_ptr<std::uint64_t> downs_;
};

class scale_run {
 public:
  explicit scale_run(const scale_options& o)
      : o_(o), w_(o.seed, world_options{.watch_neighbours = o.watch_neighbours}) {}

  scale_report run() {
    otter::set_log_level(spdlog::level::off);
    try {
      join();
      if (r_.failure.empty()) idle();
      if (r_.failure.empty()) crash_wave();
      if (r_.failure.empty()) partition();
      if (r_.failure.empty()) loss();
    } catch (const std::exception& e) {
      r_.failure = std::string("exception: ") + e.what();
    }
    return r_;
  }

 private:
  void figure(const std::string& name, double value, const std::string& unit) {
    r_.figures.push_back({name + "_" + std::to_string(o_.nodes), value, unit});
    // Under --progress each as it is found too: a run of 1,000 nodes takes long.
    if (o_.progress)
      std::fprintf(stderr, "%s_%d %g %s\n", name.c_str(), o_.nodes, value, unit.c_str());
  }
  void progress(const std::string& phase) {
    if (!o_.progress) return;
    const auto now = std::chrono::steady_clock::now();
    std::fprintf(stderr, "%s: %.1f s wall, %llu events, simulated %.1f s\n", phase.c_str(),
                 std::chrono::duration<double>(now - wall_).count(),
                 static_cast<unsigned long long>(w_.events()),
                 static_cast<double>(w_.elapsed().count()) / 1000.0);
    wall_ = now;
  }
  int rand(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(w_.rng()); }
  std::vector<int> live() {
    std::vector<int> out;
    for (std::size_t i = 0; i < w_.size(); ++i) {
      if (w_.alive(static_cast<int>(i))) out.push_back(static_cast<int>(i));
    }
    return out;
  }
  bool up(int from, int to) {
    return net_detail::transport_of(w_.at(from)).link_state_of(w_.name_of(to)) ==
           net_detail::link_state::up;
  }
  // Every live node has every other live node up.
  bool converged() {
    const auto l = live();
    for (int i : l) {
      if (w_.at(i).nodes().size() + 1 < l.size()) return false;
    }
    for (int i : l) {
      for (int j : l) {
        if (i != j && !up(i, j)) return false;
      }
    }
    return true;
  }
  // Runs the world in steps of `every` until `done` holds or `limit` has passed; the
  // simulated time it took, or nothing.
  std::optional<ms> run_until(const std::function<bool()>& done, ms every, ms limit,
                              const std::string& what) {
    const auto t0 = w_.now();
    while (!done()) {
      if (w_.now() - t0 >= limit) {
        r_.failure = what + " did not happen within " + std::to_string(limit.count()) + " ms";
        return std::nullopt;
      }
      w_.run_until(w_.now() + every);
    }
    return std::chrono::duration_cast<ms>(w_.now() - t0);
  }

  void join() {
    const auto t0 = w_.now();
    for (int i = 0; i < o_.nodes; ++i) {
      w_.add_node("s" + std::to_string(i), i == 0 ? -1 : rand(0, std::max(0, i - 1)));
      if (i % 8 == 7) w_.run_until(w_.now() + 100ms);
      if (i % 128 == 127) progress(std::to_string(i + 1) + " nodes added");
    }
    const auto started = w_.now() - t0;
    progress("nodes started");
    auto took = run_until([&] { return converged(); }, 250ms, 300s, "the join's convergence");
    if (!took) return;
    figure("sim_scale_join_converged_s", std::chrono::duration<double>(started + *took).count(),
           "s");
    progress("join converged");
    w_.run_until(w_.now() + 10s);
    // One more node joins the settled cluster.
    const int joiner = w_.add_node("s" + std::to_string(o_.nodes), rand(0, o_.nodes - 1));
    const auto others = live();
    auto one = run_until(
        [&] {
          for (int i : others) {
            if (i != joiner && (!up(i, joiner) || !up(joiner, i))) return false;
          }
          return true;
        },
        10ms, 60s, "one node's join of the settled cluster");
    if (!one) return;
    figure("sim_scale_join_one_s", std::chrono::duration<double>(*one).count(), "s");
    progress("one more joined");
  }

  void idle() {
    w_.run_until(w_.now() + 10s);  // the join's gossip and syncs die down
    const auto sent = w_.net().frames_sent();
    const auto window = 10s;
    w_.run_until(w_.now() + window);
    const double per_node = static_cast<double>(w_.net().frames_sent() - sent) /
                            static_cast<double>(live().size()) /
                            std::chrono::duration<double>(window).count();
    figure("sim_scale_idle_frames_per_node_s", per_node, "frames/s");
    progress("idle");
  }

  // Faults strike at a moment of the seed's choosing within a heartbeat round (the rounds fall
  // on the clock's multiples of 600 ms): a crash just after a round is the slowest to find.
  void random_phase() { w_.run_until(w_.now() + ms(rand(0, 599))); }

  void crash_wave() {
    random_phase();
    auto l = live();
    std::shuffle(l.begin(), l.end(), w_.rng());
    const std::size_t k = std::max<std::size_t>(1, l.size() / 10);
    crashed_.assign(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(k));
    const auto t0 = w_.now();
    for (int c : crashed_) w_.crash(c);
    const auto survivors = live();
    std::vector<ms> seen(crashed_.size(), ms::max());
    auto took = run_until(
        [&] {
          bool all = true;
          for (std::size_t x = 0; x < crashed_.size(); ++x) {
            if (seen[x] != ms::max()) continue;
            const bool everyone = std::all_of(survivors.begin(), survivors.end(),
                                              [&](int s) { return !up(s, crashed_[x]); });
            if (everyone) {
              seen[x] = std::chrono::duration_cast<ms>(w_.now() - t0);
            } else {
              all = false;
            }
          }
          return all;
        },
        20ms, 60s, "the crash wave's detection");
    if (!took) return;
    std::sort(seen.begin(), seen.end());
    figure("sim_scale_detect_max_ms", static_cast<double>(seen.back().count()), "ms");
    figure("sim_scale_detect_p50_ms", static_cast<double>(seen[seen.size() / 2].count()), "ms");
    progress("crash wave detected");
  }

  void partition() {
    random_phase();
    auto l = live();
    std::shuffle(l.begin(), l.end(), w_.rng());
    const std::vector<int> a(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(l.size() / 2));
    const std::vector<int> b(l.begin() + static_cast<std::ptrdiff_t>(l.size() / 2), l.end());
    for (int x : a) {
      for (int y : b) {
        w_.cut(x, y);
        w_.cut(y, x);
      }
    }
    auto split = run_until(
        [&] {
          for (int x : a) {
            for (int y : b) {
              if (up(x, y) || up(y, x)) return false;
            }
          }
          return true;
        },
        50ms, 60s, "the partition's detection");
    if (!split) return;
    figure("sim_scale_partition_detect_ms", static_cast<double>(split->count()), "ms");
    progress("partition detected");
    const auto t0 = w_.now();
    for (int x : a) {
      for (int y : b) {
        w_.heal(x, y);
        w_.heal(y, x);
      }
    }
    for (int c : crashed_) w_.restart(c, rand(0, o_.nodes - 1));
    auto healed = run_until([&] { return converged(); }, 250ms, 300s, "the heal's convergence");
    if (!healed) return;
    figure("sim_scale_heal_converged_s", std::chrono::duration<double>(w_.now() - t0).count(), "s");
    progress("healed");
  }

  void loss() {
    w_.run_until(w_.now() + 10s);
    auto downs = std::make_shared<std::uint64_t>(0);
    for (int i : live()) {
      auto p = w_.at(i).rt().start<down_counter>(downs);
      if (p) w_.at(i).monitor_nodes(*p);
    }
    w_.touched();
    w_.net().set_loss(o_.loss_percent);
    const auto window = std::chrono::seconds(o_.loss_seconds);
    w_.run_until(w_.now() + window);
    w_.net().set_loss(0);
    const double node_hours =
        static_cast<double>(live().size()) * std::chrono::duration<double>(window).count() / 3600.0;
    figure("sim_scale_false_downs", static_cast<double>(*downs), "downs");
    figure("sim_scale_false_downs_per_node_hour", static_cast<double>(*downs) / node_hours,
           "downs/node/h");
    progress("loss");
  }

  const scale_options& o_;
  world w_;
  scale_report r_;
  std::vector<int> crashed_;
  std::chrono::steady_clock::time_point wall_ = std::chrono::steady_clock::now();
};

}  // namespace

scale_report run_scale(const scale_options& o) {
  scale_run s(o);
  return s.run();
}

}  // namespace otter::sim
