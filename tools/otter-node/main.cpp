// otter-node: runs one otter node (global registry, root supervisor, optionally the demo
// servers) from flags or a config file, until SIGTERM, SIGINT or SIGHUP. `otter-node --help`
// documents the flags; config.hpp the file.
//
// Guarantees:
// - `READY <name> <endpoint> <creation>` is printed on stdout (one line, flushed) only once the
//   node is up, has joined one of its seeds (or waited join_timeout for them, with a warning),
//   its registry holds every member's names, and, with --demo, the demo servers' names resolve.
// - SIGTERM/SIGINT/SIGHUP: the supervision tree stops in order (releasing its global names),
//   then the node says goodbye to its peers (they see it leave at once), and the exit code is 0.
//   During startup (waiting for a seed, say) the node stops at once, without READY. A second
//   signal during the stop (not the first one delivered twice) exits at once with code 1. SIGPIPE
//   is ignored: a log reader that goes away costs the logs, not the node.
// - --metrics tcp://HOST:PORT: GET http://HOST:PORT/metrics answers otter::metrics_text (from
//   the node's start until its stop); a port that cannot be bound is a node that cannot start.
// - The soft open file limit is raised to the hard one at startup (logged): every connection
//   holds a descriptor.
// - Exit code 2 for bad arguments, 1 for a node that cannot start; one line on stderr says why.
//   Cannot start: the secret file, the listen address or the metrics address; every seed refused
//   our secret; a seed said a live member holds our name, still after name_in_use_patience.
//   With --log-format json that line is a JSON log line (level error) like the others; a bad
//   argument's stays plain (the log is not set up yet).
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <otter/demo.hpp>
#include <otter/log.hpp>
#include <otter/otter.hpp>

#include "config.hpp"
#include "json_log.hpp"
#include "metrics_server.hpp"

namespace {

using otter::node_tool::node_config;
namespace defaults = otter::node_tool::node_tool_defaults;

// With --log-format json, the lines saying why the node stops are log lines too (level error),
// so that a log shipper sees them as it sees the rest; else plain "otter-node: ..." lines.
// Set once, before any thread that could print one starts.
bool json_log = false;

void say_why(const std::string& why) {
  // (Even with --log-level off: a node that cannot start always says why.)
  if (json_log && spdlog::should_log(spdlog::level::err)) {
    spdlog::error("otter-node: {}", why);
    spdlog::default_logger()->flush();
  } else {
    std::fprintf(stderr, "otter-node: %s\n", why.c_str());
  }
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    default: return "SIGTERM";
  }
}

// The stop signals, taken by one thread from the start (they are blocked in every other
// thread): the first asks the node to stop, wherever startup is; a second one during the stop
// exits at once with code 1, unless it comes within defaults::same_stop_request of the first
// (timeout(1), for one, signals the process and then its process group: one request, twice).
class stop_signals {
 public:
  explicit stop_signals(const sigset_t& set) : set_(set) {
    std::thread([this] {
      std::chrono::steady_clock::time_point first;
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0) continue;
        {
          std::lock_guard<std::mutex> l(mutex_);
          if (sig_ == 0) {
            sig_ = sig;
            first = std::chrono::steady_clock::now();
            changed_.notify_all();
            continue;
          }
        }
        if (std::chrono::steady_clock::now() - first < defaults::same_stop_request) continue;
        say_why(std::string("second ") + signal_name(sig) + " while stopping; exiting at once");
        std::_Exit(1);
      }
    }).detach();  // lives as long as the process: a signal may come until the last moment
  }
  // The first stop signal, waiting up to `timeout` for one; 0 when none came.
  int wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mutex_);
    changed_.wait_for(l, timeout, [&] { return sig_ != 0; });
    return sig_;
  }
  int wait() {
    std::unique_lock<std::mutex> l(mutex_);
    changed_.wait(l, [&] { return sig_ != 0; });
    return sig_;
  }

 private:
  const sigset_t set_;
  std::mutex mutex_;  // protects sig_
  std::condition_variable changed_;
  int sig_ = 0;
};

// Waits until `done()` holds, a stop signal comes, or `timeout` passes, looking at `done`
// every `period` (what it reads has no notification: the node's view, the registry replica).
// True when done; `stopped` is set when a signal ended the wait.
template <class Done>
bool wait_until(stop_signals& stop, int& stopped, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if ((stopped = stop.wait_for(std::min(left, period))) != 0) return false;
  }
}

// Why the node cannot join, from its seeds' answers: a seed says a live member holds our name
// and has said so for name_in_use_patience (a restarted node's predecessor is declared down
// well within that), or every seed refused us (our secret, most likely). Nothing while
// joining may still work.
std::optional<std::string> cannot_join(const otter::node& n) {
  const auto seeds = n.seeds();
  if (seeds.empty()) return std::nullopt;
  const auto at = std::chrono::steady_clock::now();
  bool all_refused = true, all_wrong_secret = true;
  for (const auto& s : seeds) {
    if (s.answer == otter::seed_answer::welcomed) return std::nullopt;
    if (s.answer == otter::seed_answer::name_in_use &&
        at - s.since >= defaults::name_in_use_patience) {
      return s.reason;  // "node name 'n1' is already in use by a live member at tcp://..."
    }
    // Two failed handshakes in a row: one could be a seed dying in the middle of it.
    const bool wrong_secret = s.answer == otter::seed_answer::wrong_secret &&
                              s.times >= defaults::refusals_before_giving_up;
    all_wrong_secret = all_wrong_secret && wrong_secret;
    all_refused = all_refused && (wrong_secret || s.answer == otter::seed_answer::refused);
  }
  if (!all_refused) return std::nullopt;
  std::string which;
  for (const auto& s : seeds) which += (which.empty() ? "" : ", ") + s.endpoint;
  if (all_wrong_secret) {
    return "refused by every seed (" + which + "): wrong secret? (" + seeds.front().reason + ")";
  }
  std::string why;
  for (const auto& s : seeds) why += (why.empty() ? "" : "; ") + s.endpoint + ": " + s.reason;
  return "refused by every seed: " + why;
}

// Each connection holds a descriptor, and the usual soft limit (1024) is below what a node with
// many clients needs: raised to the hard limit, which only root can raise further.
void raise_open_file_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  const rlim_t was = r.rlim_cur;
  // An unlimited hard limit still stops at the kernel's nr_open (1 Mi by default).
  const rlim_t want = r.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : r.rlim_max;
  if (was != RLIM_INFINITY && was < want) {
    r.rlim_cur = want;
    if (::setrlimit(RLIMIT_NOFILE, &r) == 0) {
      spdlog::info("otter-node: open file limit raised from {} to {} (one per connection)", was,
                   want);
      return;
    }
    spdlog::warn("otter-node: cannot raise the open file limit from {} to {}: {}", was, want,
                 std::strerror(errno));
  }
}

int run(const node_config& c, stop_signals& stop) {
  raise_open_file_limit();
  otter::node_options o;
  o.name = c.name;
  o.listen = c.listen;
  o.advertise = c.advertise;
  // A node listed among its own seeds (one config for every host) does not wait for itself.
  for (const auto& seed : c.seeds) {
    if (seed != c.listen && seed != c.advertise) o.seeds.push_back(seed);
  }
  o.seeds_file = c.seeds_file;
  o.secret_file = c.secret_file;
  o.insecure = c.insecure;
  o.workers = c.workers;
  o.mailbox_limit = c.mailbox_limit;  // 0: unlimited
  o.busy_poll = std::chrono::microseconds(c.busy_poll_us);
  o.join_timeout = std::chrono::milliseconds{0};  // joining is waited for below, interruptibly
  auto started = otter::start_node(o);
  if (!started) {
    // The message names the node and endpoint, or the secret file, as the case may be.
    say_why(started.err().message);
    return 1;
  }
  otter::node& n = **started;
  spdlog::info("otter-node: node {} is up at {} (creation {})", n.name(), n.endpoint(),
               n.creation());
  // Declared after the node: stopped (its thread joined) before the node goes.
  std::unique_ptr<otter::node_tool::metrics_server> metrics;
  if (!c.metrics.empty()) {
    const auto at = *otter::node_tool::split_tcp_endpoint(c.metrics);  // checked by the parser
    auto served = otter::node_tool::metrics_server::start(n, at);
    if (!served) {
      n.shutdown();
      say_why(served.err().message);
      return 1;
    }
    metrics = std::move(*served);
    spdlog::info("otter-node: metrics at http://{}:{}/metrics", at.host, metrics->port());
  }
  int sig = 0;
  const auto stopped_early = [&] {
    spdlog::info("otter-node: {} received during startup; stopping", signal_name(sig));
    n.shutdown();
    spdlog::info("otter-node: node {} stopped", c.name);
    return 0;
  };

  // The seeds there are (dns: ones resolved, the seeds file's; not this node itself): none, and
  // the node starts alone, joining when a seed appears.
  if (!n.seeds().empty()) {
    std::optional<std::string> refused;
    const bool joined = wait_until(stop, sig, defaults::join_timeout, defaults::startup_poll, [&] {
      refused = cannot_join(n);
      return refused.has_value() || !n.nodes().empty();
    });
    if (sig != 0) return stopped_early();
    if (refused && n.nodes().empty()) {
      n.shutdown();
      say_why(*refused);
      return 1;
    }
    if (!joined) {
      spdlog::warn("otter-node: no seed answered within {} ms; running alone until one does",
                   defaults::join_timeout.count());
    }
  }
  auto registry = otter::global_registry::of(n.rt());
  if (!wait_until(stop, sig, defaults::sync_timeout, defaults::startup_poll,
                  [&] { return registry->wait_synced(std::chrono::milliseconds{0}); })) {
    if (sig != 0) return stopped_early();
    spdlog::warn("otter-node: the registry did not receive every member's names within {} ms",
                 defaults::sync_timeout.count());
  }
  if (c.demo) {
    if ((sig = stop.wait_for(std::chrono::milliseconds{0})) != 0) return stopped_early();
    otter::scoped_process me(n.rt());
    if (auto sup = otter::demo::start(me, n.name()); !sup) {
      say_why("cannot start the demo servers: " + sup.err().message);
      n.shutdown();
      return 1;
    }
    auto names = otter::demo::global_names(n.name());
    names.emplace_back(otter::demo::demo_defaults::kv_name);
    // The registry offers no notification of a name appearing: this reads the local replica.
    const bool all =
        wait_until(stop, sig, defaults::demo_names_timeout, defaults::startup_poll, [&] {
          for (const auto& name : names) {
            if (!otter::whereis_global(n.rt(), name)) return false;
          }
          return true;
        });
    if (sig != 0) return stopped_early();
    if (!all) {
      spdlog::warn("otter-node: the demo servers' global names did not all appear within {} ms",
                   defaults::demo_names_timeout.count());
    }
    spdlog::info("otter-node: demo servers running: echo@{0}, counter@{0}, kv@{0}", n.name());
  }
  if ((sig = stop.wait_for(std::chrono::milliseconds{0})) != 0) return stopped_early();

  std::printf("READY %s %s %u\n", n.name().c_str(), n.endpoint().c_str(), n.creation());
  std::fflush(stdout);

  sig = stop.wait();
  spdlog::info("otter-node: {} received; stopping the supervision tree, then leaving",
               signal_name(sig));
  n.shutdown();
  spdlog::info("otter-node: node {} stopped", c.name);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked before any thread starts, so every thread inherits the mask and only sigwait
  // receives them.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
  // A closed pipe (stdout's reader, stderr's log reader gone) fails the write with EPIPE;
  // the node runs on.
  ::signal(SIGPIPE, SIG_IGN);

  auto parsed = otter::node_tool::parse_command_line(argc, argv);
  if (!parsed.out.empty()) std::fputs(parsed.out.c_str(), stdout);
  if (!parsed.err.empty()) std::fprintf(stderr, "%s\n", parsed.err.c_str());
  if (!parsed.config) return parsed.exit_code;

  // Logs go to stderr: stdout carries the READY line for scripts.
  // otter-node's own lines (and the demo servers') go through its logger; the libraries' through
  // otter's ("otter"). --log-level and --log-format set both.
  spdlog::set_default_logger(spdlog::stderr_color_mt("otter-node"));
  if (parsed.config->log_format == "json") {
    json_log = true;
    spdlog::default_logger()->set_formatter(
        std::make_unique<otter::node_tool::json_log_formatter>(parsed.config->name));
    otter::logger()->set_formatter(
        std::make_unique<otter::node_tool::json_log_formatter>(parsed.config->name));
  }
  const auto level = spdlog::level::from_str(parsed.config->log_level);
  spdlog::set_level(level);
  otter::set_log_level(level);
  // Never destroyed: its thread may take a signal until the process is gone.
  auto* stop = new stop_signals(stop_set);
  try {
    return run(*parsed.config, *stop);
  } catch (const std::exception& e) {
    say_why(e.what());
    return 1;
  }
}
