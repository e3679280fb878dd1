// otter-node: runs one otter node (global registry, root supervisor, optionally the demo
// servers) from flags or a config file, until SIGTERM or SIGINT. `otter-node --help` documents
// the flags; config.hpp the file.
//
// Guarantees:
// - `READY <name> <endpoint> <creation>` is printed on stdout (one line, flushed) only once the
//   node is up, has joined one of its seeds (or waited join_timeout for them, with a warning),
//   its registry holds every member's names, and, with --demo, the demo servers' names resolve.
// - SIGTERM/SIGINT: the supervision tree stops in order (releasing its global names), then the
//   node says goodbye to its peers (they see it leave at once), and the exit code is 0. A second
//   signal during that exits at once with code 1.
// - Exit code 2 for bad arguments, 1 for a node that cannot start; one line on stderr says why.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <otter/demo.hpp>
#include <otter/log.hpp>
#include <otter/otter.hpp>

#include "config.hpp"
#include "json_log.hpp"

namespace {

using otter::node_tool::node_config;
namespace defaults = otter::node_tool::node_tool_defaults;

const char* signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

// True once every name resolves in the node's registry replica, waiting up to `timeout`. The
// registry offers no notification of a name appearing, so this looks at the local replica (a
// read, no network) every demo_names_poll, within a deadline.
bool wait_for_names(otter::runtime& rt, const std::vector<std::string>& names,
                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (const auto& n : names) all = all && otter::whereis_global(rt, n).has_value();
    if (all) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(defaults::demo_names_poll);
  }
}

int run(const node_config& c, const sigset_t& stop_signals) {
  otter::node_options o;
  o.name = c.name;
  o.listen = c.listen;
  // A node listed among its own seeds (one config for every host) does not wait for itself.
  for (const auto& seed : c.seeds) {
    if (seed != c.listen) o.seeds.push_back(seed);
  }
  o.secret_file = c.secret_file;
  o.insecure = c.insecure;
  o.workers = c.workers;
  auto started = otter::start_node(o);
  if (!started) {
    // The message names the node and endpoint, or the secret file, as the case may be.
    std::fprintf(stderr, "otter-node: %s\n", started.err().message.c_str());
    return 1;
  }
  otter::node& n = **started;
  spdlog::info("otter-node: node {} is up at {} (creation {})", n.name(), n.endpoint(),
               n.creation());

  if (!o.seeds.empty() && !n.wait_for_nodes(1, defaults::join_timeout)) {
    spdlog::warn("otter-node: no seed answered within {} ms; running alone until one does",
                 defaults::join_timeout.count());
  }
  if (!otter::global_registry::of(n.rt())->wait_synced(defaults::sync_timeout)) {
    spdlog::warn("otter-node: the registry did not receive every member's names within {} ms",
                 defaults::sync_timeout.count());
  }
  if (c.demo) {
    otter::scoped_process me(n.rt());
    if (auto sup = otter::demo::start(me, n.name()); !sup) {
      std::fprintf(stderr, "otter-node: cannot start the demo servers: %s\n",
                   sup.err().message.c_str());
      n.shutdown();
      return 1;
    }
    auto names = otter::demo::global_names(n.name());
    names.emplace_back(otter::demo::demo_defaults::kv_name);
    if (!wait_for_names(n.rt(), names, defaults::demo_names_timeout)) {
      spdlog::warn("otter-node: the demo servers' global names did not all appear within {} ms",
                   defaults::demo_names_timeout.count());
    }
    spdlog::info("otter-node: demo servers running: echo@{0}, counter@{0}, kv@{0}", n.name());
  }

  std::printf("READY %s %s %u\n", n.name().c_str(), n.endpoint().c_str(), n.creation());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("otter-node: {} received; stopping the supervision tree, then leaving",
               signal_name(sig));
  std::thread([&stop_signals] {
    int again = 0;
    sigwait(&stop_signals, &again);
    std::fprintf(stderr, "otter-node: second %s during shutdown; exiting at once\n",
                 signal_name(again));
    std::_Exit(1);
  }).detach();
  n.shutdown();
  spdlog::info("otter-node: node {} stopped", c.name);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked before any thread starts, so every thread inherits the mask and only sigwait
  // receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto parsed = otter::node_tool::parse_command_line(argc, argv);
  if (!parsed.out.empty()) std::fputs(parsed.out.c_str(), stdout);
  if (!parsed.err.empty()) std::fprintf(stderr, "%s\n", parsed.err.c_str());
  if (!parsed.config) return parsed.exit_code;

  // Logs go to stderr: stdout carries the READY line for scripts.
  // otter-node's own lines (and the demo servers') go through its logger; the libraries' through
  // otter's ("otter"). --log-level and --log-format set both.
  spdlog::set_default_logger(spdlog::stderr_color_mt("otter-node"));
  if (parsed.config->log_format == "json") {
    spdlog::default_logger()->set_formatter(
        std::make_unique<otter::node_tool::json_log_formatter>(parsed.config->name));
    otter::logger()->set_formatter(
        std::make_unique<otter::node_tool::json_log_formatter>(parsed.config->name));
  }
  const auto level = spdlog::level::from_str(parsed.config->log_level);
  spdlog::set_level(level);
  otter::set_log_level(level);
  try {
    return run(*parsed.config, stop_signals);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "otter-node: %s\n", e.what());
    return 1;
  }
}
