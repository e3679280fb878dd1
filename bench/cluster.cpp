#include "cluster.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>

namespace otter_bench {

local_cluster::local_cluster(int n, const std::string& prefix,
                             const std::function<void(otter::node&)>& on_start) {
  using namespace std::chrono_literals;
  dir = std::filesystem::temp_directory_path() /
        ("otter-bench-" + prefix + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (int i = 0; i < n; ++i) {
    otter::node_options o;
    o.name = prefix + "-" + std::to_string(i);
    o.secret_file = dir + "/secret";
    o.insecure = true;
    o.workers = 1;
    if (i > 0) o.seeds = {nodes[0]->endpoint()};
    auto node = otter::node::start(o);
    if (!node) throw std::runtime_error(node.err().message);
    nodes.push_back(std::move(*node));
    if (on_start) on_start(*nodes.back());
  }
  for (auto& node : nodes) {
    if (!node->wait_for_nodes(static_cast<std::size_t>(n - 1), 20s)) {
      throw std::runtime_error("the bench cluster did not form");
    }
  }
}

local_cluster::~local_cluster() {
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) (*it)->shutdown();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace otter_bench
