// otter-bench: one group of figures per run, one `name value unit` line per figure.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace otter_bench {

using clock = std::chrono::steady_clock;

inline void report(std::string_view name, double value, std::string_view unit) {
  std::printf("%.*s %.6g %.*s\n", static_cast<int>(name.size()), name.data(), value,
              static_cast<int>(unit.size()), unit.data());
  std::fflush(stdout);
}

inline double seconds_since(clock::time_point t0) {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

// The p-quantile (0..1) of samples (sorted here, by value).
template <class T>
double percentile(std::vector<T> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v.empty() ? 0.0 : static_cast<double>(v[i]);
}

inline double median(std::vector<double> v) {
  return percentile(std::move(v), 0.5);
}

// Resident set size of this process in bytes (from /proc/self/statm).
std::uint64_t resident_bytes();

// Each group runs the figures whose names contain `only` (all when empty).
int run_core(std::string_view only);
int run_net(std::string_view only);
int run_registry(std::string_view only);
int run_supervisor(std::string_view only);
int run_pg(std::string_view only);
int run_scale(std::string_view only);
// Peer processes of the net group (started by otter-bench itself).
int run_net_peer(int argc, char** argv);
int run_zmq_peer(int argc, char** argv);

}  // namespace otter_bench
