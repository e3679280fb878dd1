// A cluster of nodes in this process for the remote groups: loopback TCP without encryption
// (as Erlang's distribution by default), one worker each, formed (every node sees every other)
// before the constructor returns.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <otter/node.hpp>

namespace otter_bench {

struct local_cluster {
  std::string dir;  // the shared secret file's folder, removed at the end
  std::vector<std::unique_ptr<otter::node>> nodes;

  // Nodes PREFIX-0 .. PREFIX-(n-1), all seeded by the first; on_start runs on each node as
  // soon as it has started (to start a registry or a pg scope there). Throws if the cluster
  // does not form within 20 s.
  local_cluster(int n, const std::string& prefix,
                const std::function<void(otter::node&)>& on_start = {});
  ~local_cluster();
  local_cluster(const local_cluster&) = delete;
  local_cluster& operator=(const local_cluster&) = delete;
};

}  // namespace otter_bench
