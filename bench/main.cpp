// otter-bench GROUP: runs one group of figures (core, ...) and prints `name value unit` lines.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "bench.hpp"

namespace otter_bench {

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * 4096;
}

}  // namespace otter_bench

int main(int argc, char** argv) {
  const std::string usage =
      "usage: otter-bench GROUP [FILTER]   (groups: core, net, registry, supervisor, pg, scale; "
      "FILTER "
      "selects figures by name)\n";
  if (argc >= 2 && std::strcmp(argv[1], "net-peer") == 0)
    return otter_bench::run_net_peer(argc, argv);
  if (argc >= 2 &&
      (std::strcmp(argv[1], "zmq-echo") == 0 || std::strcmp(argv[1], "zmq-pull") == 0)) {
    return otter_bench::run_zmq_peer(argc, argv);
  }
  if (argc < 2 || argc > 3) {
    std::fputs(usage.c_str(), stderr);
    return 2;
  }
  const std::string group = argv[1];
  const std::string_view only = argc == 3 ? argv[2] : "";
  if (group == "core") return otter_bench::run_core(only);
  if (group == "net") return otter_bench::run_net(only);
  if (group == "registry") return otter_bench::run_registry(only);
  if (group == "supervisor") return otter_bench::run_supervisor(only);
  if (group == "pg") return otter_bench::run_pg(only);
  if (group == "scale") return otter_bench::run_scale(only);
  if (group == "-h" || group == "--help") {
    std::fputs(usage.c_str(), stdout);
    return 0;
  }
  std::fprintf(stderr, "otter-bench: unknown group '%s'\n%s", group.c_str(), usage.c_str());
  return 2;
}
