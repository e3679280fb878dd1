// The simulated world: N otter nodes in one process and one thread, on manual runtimes (no
// threads, no real clock) and the simulated network, driven one event at a time in an order a
// seeded generator chooses. An event is: one activation of one runnable process, one service
// of a node's transport, one frame delivered, one node's due timers fired. When nothing is due
// at the current time, the clock jumps to the next deadline. The same seed (and binary) gives
// the same run, event for event.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <otter/otter.hpp>

#include "sim_network.hpp"

namespace otter::sim {

struct world_options {
  std::chrono::milliseconds heartbeat_interval = net_defaults::heartbeat_interval;
  std::chrono::milliseconds failure_timeout = net_defaults::failure_timeout;
  std::size_t watch_neighbours = net_defaults::watch_neighbours;
  bool trace = false;            // print every event as it happens
  std::size_t trace_keep = 400;  // events kept for the report of a failure
};

class world {
 public:
  world(std::uint64_t seed, world_options options);
  ~world();
  world(const world&) = delete;
  world& operator=(const world&) = delete;

  // ---- nodes ----
  // A node in a new slot, named `name`, joining through the node in slot `seed_slot` (-1: none).
  int add_node(const std::string& name, int seed_slot);
  // The node in `slot` dies as by SIGKILL (no goodbye); restart() brings up a new incarnation.
  void crash(int slot);
  // It leaves cleanly (goodbye) and is gone.
  void leave(int slot);
  void restart(int slot, int seed_slot);
  bool alive(int slot) const { return slots_[slot].n != nullptr; }
  node& at(int slot) { return *slots_[slot].n; }
  const std::string& name_of(int slot) const { return slots_[slot].name; }
  std::size_t size() const { return slots_.size(); }
  std::uint32_t creation_of(int slot) const { return slots_[slot].creation; }

  // ---- the network ----
  sim_network& net() { return net_; }
  void cut(int from, int to);
  void heal(int from, int to);
  void heal_all();
  // Both ends consider each other up.
  bool connected(int a, int b);

  // ---- time and events ----
  sim_clock::time_point now() const { return clock_.now; }
  std::chrono::milliseconds elapsed() const;
  // Runs one event (advancing the clock when nothing is due now); false when nothing is left
  // at all (no process runnable, no frame in flight, no timer armed) before `limit`.
  bool step(sim_clock::time_point limit);
  void run_for(std::chrono::milliseconds d);
  void run_until(sim_clock::time_point t);
  // Whoever acted on nodes between events (started a process, sent it a message, killed one)
  // calls this before stepping again: the world's index of what is due looks again at every
  // node. (run_for and run_until do.)
  void touched();
  // Moves the clock to `t` (when later) without running anything.
  void advance_to(sim_clock::time_point t);
  // Moves the clock forward by `d` at once (a paused VM): every deadline in between is late.
  void jump(std::chrono::milliseconds d);
  std::uint64_t events() const { return events_; }
  // How far the clock jumped between `from` and `to` (jump()s).
  std::chrono::milliseconds jumped(sim_clock::time_point from, sim_clock::time_point to) const;
  std::mt19937_64& rng() { return rng_; }

  // ---- the trace ----
  void note(const std::string& what);
  // The node whose event is running ("world" between events): for log lines.
  std::string acting() const;
  std::string recent_trace() const;

 private:
  struct node_slot {
    std::string name;
    int net_slot = -1;
    std::uint32_t creation = 0;
    std::unique_ptr<node> n;
    std::shared_ptr<global_registry> registry;
  };
  enum class kind : std::uint8_t { run, io, deliver, timers };
  struct candidate {
    kind k;
    int slot = -1;
    std::size_t index = 0;  // run: which runnable process
    due_frame frame;        // deliver
  };
  // `restarting`: every other node is a seed too (world.cpp says why).
  void start(int slot, int seed_slot, bool restarting = false);
  std::vector<candidate> candidates();       // everything that may happen now, in pick order
  std::vector<candidate> node_candidates();  // the nodes' part of it (the rest: frames due)
  sim_clock::time_point next_deadline() const;
  void execute(const candidate& c);
  // Re-reads what `slot` has due (processes, I/O, arrivals, timers) into the index below.
  void refresh(int slot);

  std::mt19937_64 rng_;
  world_options options_;
  detail::manual_clock clock_;
  sim_clock::time_point epoch_;
  sim_network net_;
  std::vector<node_slot> slots_;
  std::vector<int> slot_of_net_;  // the world slot of each network slot
  // What is due, so that an event costs O(log N), not O(N) (1,000-node worlds): the nodes with
  // work now (runnable processes, I/O wanted, frames arrived), and each node's next deadline
  // (timers, transport). Kept by refresh(): an event changes only its own node, a delivery only
  // its receiver's.
  std::set<int> busy_;
  std::set<std::pair<sim_clock::time_point, int>> wakes_;
  std::vector<sim_clock::time_point> wake_of_;
  std::map<std::pair<int, int>, sim_clock::time_point> cut_since_;
  std::uint64_t events_ = 0;
  int acting_ = -1;
  sim_clock::time_point last_now_{};
  std::uint64_t events_at_now_ = 0;
  std::uint32_t next_creation_ = 100;
  std::deque<std::string> trace_;
  std::vector<std::pair<sim_clock::time_point, std::chrono::milliseconds>> jumps_;
};

}  // namespace otter::sim
