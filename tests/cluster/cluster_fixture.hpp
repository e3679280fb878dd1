// Helpers for multi-process cluster tests: a private secret, test nodes as child processes,
// and an in-process node for the test itself.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <otter/agent.hpp>
#include <otter/global.hpp>
#include <otter/secret.hpp>

#include "child.hpp"
#include "probe.hpp"

namespace cluster_test {

// A fresh directory with a secret file in it, removed afterwards.
class scratch {
 public:
  scratch() {
    char tmpl[] = "/tmp/otter-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    secret_ = dir_ + "/secret";
    auto s = otter::load_or_create_secret(secret_);
    if (!s) throw std::runtime_error(s.err().message);
  }
  ~scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }
  const std::string& secret() const { return secret_; }

 private:
  std::string dir_, secret_;
};

struct test_node {
  std::unique_ptr<child> proc;
  std::string endpoint;
  std::uint32_t creation = 0;
  otter::pid probe;
  std::vector<std::string> argv;

  bool wait_ready() {
    auto line = proc->read_line(std::chrono::seconds(20));
    if (!line) return false;
    std::istringstream in(*line);
    std::string word, pid_text;
    in >> word >> endpoint >> creation >> pid_text;
    auto p = otter::parse_pid(pid_text);
    if (word != "READY" || !p) return false;
    probe = *p;
    return true;
  }
  void restart() { proc->restart(); }
};

inline std::unique_ptr<test_node> spawn_node(const std::string& name, const scratch& s,
                                             std::vector<std::string> extra = {}) {
  auto n = std::make_unique<test_node>();
  n->argv = {OTTER_TEST_NODE, name, s.secret()};
  for (auto& e : extra) n->argv.push_back(e);
  n->proc = std::make_unique<child>(n->argv);
  if (!n->wait_ready()) throw std::runtime_error("test node " + name + " did not start");
  return n;
}

inline std::unique_ptr<otter::node> local_node(const std::string& name, const scratch& s,
                                               std::vector<std::string> seeds = {},
                                               bool hidden = false) {
  otter::node_options o;
  o.name = name;
  o.secret_file = s.secret();
  o.seeds = std::move(seeds);
  o.hidden = hidden;
  o.workers = 2;
  auto n = otter::node::start(o);
  if (!n) throw std::runtime_error(n.err().message);
  return std::move(*n);
}

// An in-process node running the global registry, ready once it has every member's names.
inline std::unique_ptr<otter::node> global_node(const std::string& name, const scratch& s,
                                                std::vector<std::string> seeds = {}) {
  const bool joins = !seeds.empty();
  auto n = local_node(name, s, std::move(seeds));
  auto g = otter::global_registry::start(*n);
  if (!g) throw std::runtime_error(g.err().message);
  if (joins && !n->wait_for_nodes(1, std::chrono::seconds(20))) {
    throw std::runtime_error(name + " did not join");
  }
  if (!(*g)->wait_synced(std::chrono::seconds(20))) {
    throw std::runtime_error(name + ": the registry did not sync");
  }
  return n;
}

template <class Cond>
bool eventually(Cond&& cond, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// The members `node` sees up, asked of its node agent.
inline std::vector<std::string> members_of(otter::scoped_process& p, const std::string& node) {
  auto s = p.await(otter::call<otter::node_status>(otter::dest::at(otter::agent_name, node),
                                                   otter::node_status_q{}));
  std::vector<std::string> out;
  if (s) {
    for (const auto& m : s->members) out.push_back(m.name);
  }
  return out;
}

}  // namespace cluster_test
