#include "world.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <spdlog/sinks/base_sink.h>
#include <otter/log.hpp>

#include "manual_executor.hpp"
#include "sim_hooks.hpp"
#include "simulation.hpp"
#include "timer_service.hpp"
#include "transport.hpp"

namespace otter::sim {

using namespace std::chrono_literals;

namespace {
// otter's own log lines, into the world's trace (with --trace).
class trace_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit trace_sink(world& w) : w_(w) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    w_.note("  " + w_.acting() + ": " + std::string(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  world& w_;
};
}  // namespace

world::world(std::uint64_t seed, world_options options)
    : rng_(seed), options_(options), net_(seed) {
  if (options_.trace) {
    otter::set_log_sinks({std::make_shared<trace_sink>(*this)});
    otter::set_log_level(spdlog::level::debug);
  }
  clock_.now = sim_clock::time_point{} + 1000h;  // away from zero: nothing is "long ago"
  epoch_ = clock_.now;
  net_.set_now(clock_.now);
}

world::~world() {
  // Nodes go first (their networks refer to net_), without goodbyes: the world just ends.
  for (auto& s : slots_) {
    if (s.n) {
      net_.kill(s.net_slot);
      net_detail::crash(*s.n);
      s.registry.reset();
      s.n.reset();
    }
  }
}

std::chrono::milliseconds world::elapsed() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now - epoch_);
}

void world::note(const std::string& what) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.now - epoch_).count();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "[%8.3f ms] ", static_cast<double>(us) / 1000.0);
  std::string line = stamp + what;
  if (options_.trace) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  trace_.push_back(std::move(line));
  if (trace_.size() > options_.trace_keep) trace_.pop_front();
}

std::string world::recent_trace() const {
  std::ostringstream out;
  for (const auto& l : trace_) out << "  " << l << "\n";
  return out.str();
}

int world::add_node(const std::string& name, int seed_slot) {
  const int i = static_cast<int>(slots_.size());
  const int net_slot = net_.add_slot("tcp://10.213." + std::to_string(i / 250) + "." +
                                     std::to_string(i % 250 + 1) + ":7001");
  slots_.push_back(node_slot{name, net_slot, 0, nullptr, nullptr});
  wake_of_.push_back(sim_clock::time_point::max());
  if (slot_of_net_.size() <= static_cast<std::size_t>(net_slot)) slot_of_net_.resize(net_slot + 1);
  slot_of_net_[net_slot] = i;
  start(i, seed_slot);
  return i;
}

void world::start(int slot, int seed_slot, bool restarting) {
  node_slot& s = slots_[slot];
  acting_ = slot;
  node_options o;
  o.name = s.name;
  o.listen = net_.endpoint_of(s.net_slot);
  if (seed_slot >= 0) o.seeds = {net_.endpoint_of(slots_[seed_slot].net_slot)};
  if (restarting) {
    // A node restarted by its operator has the deployment's static seed list (every host), as
    // otter-node's --seed flags or a seeds file would give it: a cluster whose every node
    // restarted during a partition, each through a node of its own side, would otherwise be
    // two clusters for ever once it heals (no node would know an address on the other side).
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (static_cast<int>(i) != slot && static_cast<int>(i) != seed_slot) {
        o.seeds.push_back(net_.endpoint_of(slots_[i].net_slot));
      }
    }
  }
  o.creation = next_creation_++;
  o.heartbeat_interval = options_.heartbeat_interval;
  o.failure_timeout = options_.failure_timeout;
  o.watch_neighbours = options_.watch_neighbours;
  s.creation = o.creation;
  auto n = net_detail::start_simulated_node(
      o, clock_, [&](const std::string& rid) { return net_.attach(s.net_slot, rid); });
  if (!n) throw std::runtime_error("simulated node " + s.name + ": " + n.err().message);
  s.n = std::move(*n);
  auto g = global_registry::start(*s.n);
  if (!g) throw std::runtime_error("simulated registry " + s.name + ": " + g.err().message);
  s.registry = *g;
  acting_ = -1;
  refresh(slot);
  note("start " + s.name + " (creation " + std::to_string(o.creation) + ")" +
       (seed_slot >= 0 ? " seed " + slots_[seed_slot].name : std::string()));
}

void world::crash(int slot) {
  node_slot& s = slots_[slot];
  if (!s.n) return;
  note("crash " + s.name);
  net_.kill(s.net_slot);
  net_detail::crash(*s.n);
  s.registry.reset();
  s.n.reset();
  refresh(slot);
}

void world::leave(int slot) {
  node_slot& s = slots_[slot];
  if (!s.n) return;
  note("leave " + s.name);
  acting_ = slot;
  s.n->shutdown();
  acting_ = -1;
  s.registry.reset();
  s.n.reset();
  refresh(slot);
}

void world::restart(int slot, int seed_slot) {
  if (slots_[slot].n) crash(slot);
  start(slot, seed_slot, true);
}

void world::cut(int from, int to) {
  if (net_.is_cut(from, to)) return;
  note("cut " + slots_[from].name + " -> " + slots_[to].name);
  net_.cut(from, to);
  cut_since_[{from, to}] = clock_.now;
}

void world::heal(int from, int to) {
  if (!net_.is_cut(from, to)) return;
  // A cut longer than the failure bound may have broken the TCP connections under it: then
  // what they held is lost (both ends have declared the other down by then).
  const auto since = cut_since_[{from, to}];
  const bool long_cut = clock_.now - since > options_.failure_timeout + options_.heartbeat_interval;
  const bool drop = long_cut && std::uniform_int_distribution<int>(0, 1)(rng_) == 1;
  note("heal " + slots_[from].name + " -> " + slots_[to].name +
       (drop ? " (held frames lost)" : " (held frames delivered late)"));
  net_.heal(from, to, drop);
  cut_since_.erase({from, to});
}

void world::heal_all() {
  for (std::size_t a = 0; a < slots_.size(); ++a) {
    for (std::size_t b = 0; b < slots_.size(); ++b) {
      if (a != b) heal(static_cast<int>(a), static_cast<int>(b));
    }
  }
}

bool world::connected(int a, int b) {
  if (!alive(a) || !alive(b)) return false;
  return net_detail::transport_of(*slots_[a].n).link_state_of(slots_[b].name) ==
             net_detail::link_state::up &&
         net_detail::transport_of(*slots_[b].n).link_state_of(slots_[a].name) ==
             net_detail::link_state::up;
}

void world::refresh(int slot) {
  busy_.erase(slot);
  if (wake_of_[slot] != sim_clock::time_point::max()) wakes_.erase({wake_of_[slot], slot});
  wake_of_[slot] = sim_clock::time_point::max();
  node_slot& s = slots_[slot];
  if (!s.n) return;
  auto& ex = detail::manual_executor_of(s.n->rt());
  if (ex.runnable() > 0 || ex.wants_io() || net_.has_arrivals(s.net_slot)) busy_.insert(slot);
  wake_of_[slot] = std::min(detail::manual_timers_of(s.n->rt()).next(),
                            net_detail::transport_of(*s.n).next_deadline());
  if (wake_of_[slot] != sim_clock::time_point::max()) wakes_.insert({wake_of_[slot], slot});
}

void world::touched() {
  for (std::size_t i = 0; i < slots_.size(); ++i) refresh(static_cast<int>(i));
}

std::vector<world::candidate> world::candidates() {
  auto out = node_candidates();
  for (const auto& f : net_.due()) out.push_back({kind::deliver, -1, 0, f});
  return out;
}

std::vector<world::candidate> world::node_candidates() {
  // The nodes with something due now, in slot order (the order the seeded pick reads).
  std::vector<int> due(busy_.begin(), busy_.end());
  for (auto it = wakes_.begin(); it != wakes_.end() && it->first <= clock_.now; ++it) {
    due.push_back(it->second);
  }
  std::sort(due.begin(), due.end());
  due.erase(std::unique(due.begin(), due.end()), due.end());
  std::vector<candidate> out;
  for (const int i : due) {
    node_slot& s = slots_[i];
    if (!s.n) continue;
    runtime& rt = s.n->rt();
    auto& ex = detail::manual_executor_of(rt);
    for (std::size_t k = 0; k < ex.runnable(); ++k) {
      out.push_back({kind::run, static_cast<int>(i), k, {}});
    }
    if (ex.wants_io() || net_.has_arrivals(s.net_slot) ||
        net_detail::transport_of(*s.n).next_deadline() <= clock_.now) {
      out.push_back({kind::io, static_cast<int>(i), 0, {}});
    }
    if (detail::manual_timers_of(rt).next() <= clock_.now) {
      out.push_back({kind::timers, static_cast<int>(i), 0, {}});
    }
  }
  return out;
}

sim_clock::time_point world::next_deadline() const {
  auto t = net_.next_delivery();
  if (!wakes_.empty()) t = std::min(t, wakes_.begin()->first);
  return t;
}

void world::execute(const candidate& c) {
  acting_ = c.k == kind::deliver ? -1 : c.slot;
  switch (c.k) {
    case kind::run: detail::manual_executor_of(slots_[c.slot].n->rt()).step(c.index); break;
    case kind::io: detail::manual_executor_of(slots_[c.slot].n->rt()).service_io(); break;
    case kind::timers: detail::manual_timers_of(slots_[c.slot].n->rt()).fire_due(clock_.now); break;
    case kind::deliver: {
      const int to = c.frame.forward ? c.frame.p->to : c.frame.p->from;
      net_.deliver(c.frame);
      refresh(slot_of_net_[to]);
      break;
    }
  }
  if (c.slot >= 0) refresh(c.slot);
  acting_ = -1;
}

std::string world::acting() const {
  return acting_ >= 0 ? slots_[acting_].name : std::string("world");
}

bool world::step(sim_clock::time_point limit) {
  // The candidates are the nodes' (listed) and then the frames due (counted, not listed: the
  // k-th is found in O(log n)); one is picked uniformly, in that order, as candidates() lists.
  std::vector<candidate> c;
  std::size_t frames = 0;
  const auto due = [&] {
    c = node_candidates();
    frames = net_.due_count();
    return !c.empty() || frames > 0;
  };
  if (!due()) {
    const auto t = next_deadline();
    if (t == sim_clock::time_point::max() || t > limit) return false;
    clock_.now = std::max(clock_.now, t);
    net_.set_now(clock_.now);
    if (!due()) return false;
  }
  const std::size_t pick =
      std::uniform_int_distribution<std::size_t>(0, c.size() + frames - 1)(rng_);
  if (pick < c.size()) {
    execute(c[pick]);
  } else {
    execute({kind::deliver, -1, 0, net_.due_at(pick - c.size())});
  }
  ++events_;
  if (events_ % 1000 == 0 && std::getenv("OTTER_SIM_DEBUG") != nullptr) {
    std::fprintf(stderr, "%llu events at %lld ms, %zu candidates\n",
                 static_cast<unsigned long long>(events_),
                 static_cast<long long>(elapsed().count()), c.size() + frames);
  }
  if (clock_.now != last_now_) {
    last_now_ = clock_.now;
    events_at_now_ = 0;
  } else if (++events_at_now_ > 1000000) {
    // A livelock: something is due for ever without the clock moving.
    std::string what;
    for (const auto& x : candidates()) {
      static const char* names[] = {"run", "io", "deliver", "timers"};
      what += std::string(" ") + names[static_cast<int>(x.k)] +
              (x.slot >= 0 ? "@" + slots_[x.slot].name : std::string());
    }
    throw std::runtime_error("a million events without the clock moving; due:" + what);
  }
  return true;
}

void world::run_for(std::chrono::milliseconds d) {
  run_until(clock_.now + d);
}

void world::run_until(sim_clock::time_point until) {
  touched();
  while (step(until)) {
  }
  advance_to(until);
}

void world::advance_to(sim_clock::time_point t) {
  if (clock_.now < t) {
    clock_.now = t;
    net_.set_now(t);
  }
}

std::chrono::milliseconds world::jumped(sim_clock::time_point from,
                                        sim_clock::time_point to) const {
  std::chrono::milliseconds total{0};
  for (const auto& [at, d] : jumps_) {
    if (at >= from && at <= to) total += d;
  }
  return total;
}

void world::jump(std::chrono::milliseconds d) {
  note("clock jumps " + std::to_string(d.count()) + " ms");
  jumps_.emplace_back(clock_.now, d);
  clock_.now += d;
  net_.set_now(clock_.now);
}

}  // namespace otter::sim
