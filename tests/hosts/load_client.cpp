// A client for the multi-host scenarios: joins the cluster as a member (so it resolves global
// names locally), calls a server by name in a loop, and prints what it saw as `name value unit`
// lines. Every call is accounted for: made = ok + failed, and the failures are reported with
// their wall-clock times so the scenario can check they overlap the outage it caused.
//
//   load_client --name N --listen tcp://IP:0 --seed EP --secret-file F --target NAME
//               [--calls N] [--duration-ms D] [--timeout-ms T] [--kv] [--prefix P]
//
// --kv: the requests are ["put", "<name>-<i>", i]; at the end the puts that succeeded since
// the holder last changed (or a call last failed) are read back from it with ["keys"]. The name
// is resolved here before each call (a local read), so the client knows which holder each put
// reached: a clean handover can move `kv` without any call failing, and the demo kv store does
// not replicate.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <otter/otter.hpp>

namespace {

std::int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string name, listen, seed, secret, target, prefix;
  long calls = 0, duration_ms = 0, timeout_ms = 1000;
  bool kv = false;
  CLI::App app{"load_client: calls a server by name in a loop and reports what it saw"};
  app.add_option("--name", name)->required();
  app.add_option("--listen", listen)->required();
  app.add_option("--seed", seed)->required();
  app.add_option("--secret-file", secret)->required();
  app.add_option("--target", target)->required();
  app.add_option("--calls", calls);
  app.add_option("--duration-ms", duration_ms);
  app.add_option("--timeout-ms", timeout_ms);
  app.add_option("--prefix", prefix);
  app.add_flag("--kv", kv);
  std::string stop_file;
  app.add_option("--stop-file", stop_file, "stop once this file exists");
  CLI11_PARSE(app, argc, argv);
  if (calls <= 0 && duration_ms <= 0) {
    std::fprintf(stderr, "load_client: give --calls or --duration-ms\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  otter::node_options o;
  o.name = name;
  o.listen = listen;
  o.seeds = {seed};
  o.secret_file = secret;
  o.workers = 1;
  auto n = otter::start_node(o);
  if (!n) {
    std::fprintf(stderr, "load_client: %s\n", n.err().message.c_str());
    return 1;
  }
  if (!(*n)->wait_for_nodes(1, std::chrono::seconds(20)) ||
      !otter::global_registry::of((*n)->rt())->wait_synced(std::chrono::seconds(20))) {
    std::fprintf(stderr, "load_client: could not join through %s\n", seed.c_str());
    return 1;
  }
  auto holder = std::make_unique<otter::scoped_process>((*n)->rt());
  otter::scoped_process& me = *holder;
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  const auto t_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(duration_ms);
  long made = 0, ok = 0, failed = 0;
  double max_call_ms = 0;
  std::int64_t first_fail = 0, last_fail_end = 0;
  std::vector<std::string> put_after_failure;  // keys put to `current` since the last failure
  std::optional<otter::pid> current;           // the holder the calls go to
  long holders_seen = 0;
  std::set<std::string> errors;
  std::vector<std::int64_t> windows;  // lengths of the runs of failures, ms
  bool in_window = false;
  std::int64_t window_start = 0;
  for (long i = 0;; ++i) {
    if (calls > 0 && i >= calls) break;
    if (duration_ms > 0 && std::chrono::steady_clock::now() >= t_end) break;
    if (!stop_file.empty() && i % 50 == 0 && std::filesystem::exists(stop_file)) break;
    const std::string key = name + "-" + std::to_string(i);
    otter::dynamic req = kv ? otter::dynamic::of(std::make_tuple(std::string("put"), key, i))
                            : otter::dynamic::of(std::make_tuple(std::string("ping"), i));
    const std::int64_t start_ms = epoch_ms();
    const auto t0 = std::chrono::steady_clock::now();
    const auto to = otter::whereis_global((*n)->rt(), target);
    if (to != current) {
      current = to;
      put_after_failure.clear();  // another holder (or none): what went before is elsewhere
      if (to) ++holders_seen;
    }
    auto r = to ? me.await(otter::call<otter::dynamic>(*to, std::move(req), timeout))
                : otter::result<otter::dynamic>(otter::error{
                      otter::errc::noproc, "no process registered as '" + target + "'"});
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    max_call_ms = std::max(max_call_ms, ms);
    ++made;
    if (r) {
      ++ok;
      if (kv) put_after_failure.push_back(key);
      if (in_window) {
        windows.push_back(epoch_ms() - window_start);
        in_window = false;
      }
    } else {
      if (!in_window) {
        window_start = start_ms;
        in_window = true;
      }
      ++failed;
      if (first_fail == 0) first_fail = start_ms;
      last_fail_end = epoch_ms();
      put_after_failure.clear();
      errors.insert(std::string(otter::to_string(r.code())));
      // A failed call returns at once when the name is unknown: do not spin on it.
      if (ms < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  long verified = 0, missing = 0;
  if (kv && !put_after_failure.empty()) {
    auto keys = me.await(otter::call<otter::dynamic>(
        *current, otter::dynamic::of(std::vector<std::string>{"keys"}), std::chrono::seconds(10)));
    std::set<std::string> have;
    if (keys) {
      try {
        for (auto& k : keys->as<std::vector<std::string>>()) have.insert(k);
      } catch (const std::exception&) {
      }
    }
    for (const auto& k : put_after_failure) (have.contains(k) ? verified : missing) += 1;
  }
  if (in_window) windows.push_back(epoch_ms() - window_start);
  std::int64_t max_window = 0;
  std::string window_list;
  for (auto w : windows) {
    max_window = std::max(max_window, w);
    window_list += (window_list.empty() ? "" : ",") + std::to_string(w);
  }
  std::string errs;
  for (const auto& e : errors) errs += (errs.empty() ? "" : ",") + e;
  std::printf("%scalls_made %ld calls\n", prefix.c_str(), made);
  std::printf("%scalls_ok %ld calls\n", prefix.c_str(), ok);
  std::printf("%scalls_failed %ld calls\n", prefix.c_str(), failed);
  std::printf("%serror_window_ms %lld ms\n", prefix.c_str(),
              static_cast<long long>(failed > 0 ? last_fail_end - first_fail : 0));
  std::printf("%sfirst_failure_epoch_ms %lld ms\n", prefix.c_str(),
              static_cast<long long>(first_fail));
  std::printf("%slast_failure_epoch_ms %lld ms\n", prefix.c_str(),
              static_cast<long long>(last_fail_end));
  std::printf("%smax_call_ms %.1f ms\n", prefix.c_str(), max_call_ms);
  std::printf("%smax_failure_window_ms %lld ms\n", prefix.c_str(),
              static_cast<long long>(max_window));
  std::printf("%sfailure_windows_ms %s ms\n", prefix.c_str(),
              window_list.empty() ? "-" : window_list.c_str());
  if (kv) {
    std::printf("%sholders_seen %ld holders\n", prefix.c_str(), holders_seen);
    std::printf("%sputs_verified %ld calls\n", prefix.c_str(), verified);
    std::printf("%sputs_missing %ld calls\n", prefix.c_str(), missing);
  }
  std::printf("%serrors %s -\n", prefix.c_str(), errs.empty() ? "none" : errs.c_str());
  std::fflush(stdout);
  holder.reset();
  (*n)->shutdown();
  return 0;
}
