// otter-node's settings: command-line flags and a TOML file carrying the same ones. A flag given
// on the command line wins over the file; the file wins over the defaults below.
//
//   # node.toml
//   name = "n1"
//   listen = "tcp://0.0.0.0:7001"    # bound; a wildcard needs advertise
//   advertise = "tcp://10.0.0.1:7001"  # what the others are told: an address they reach
//   seeds = ["tcp://host1:7001", "dns:otter-headless:7001"]
//   seeds_file = "/etc/otter/seeds"    # one seed a line, read again when it changes
//   secret_file = "/etc/otter/secret"
//   demo = true
//   log_level = "info"     # trace, debug, info, warn, error, off
//   log_format = "text"    # or "json": one JSON object per line (json_log.hpp)
//   workers = 0            # 0: one per hardware thread
//   insecure = false
//   metrics = "tcp://0.0.0.0:9100"   # Prometheus text at http://HOST:PORT/metrics; "" (default):
//   off
//   mailbox_limit = 100000 # messages a process's mailbox holds at most; 0: unlimited
//   busy_poll_us = 50      # polling before sleeping while traffic is dense; 0: never
//
// Parsing never exits the process and never prints: it says what to print and the exit code
// (0 after --help/--version, 2 for a bad argument or config file), and main does it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <otter/node.hpp>

namespace otter::node_tool {

// Every tunable of otter-node, with its unit.
namespace node_tool_defaults {
// How long startup waits for a seed to answer before going on alone (a node may start before
// its seeds; it joins them when they come up).
inline constexpr std::chrono::milliseconds join_timeout{10000};
// How long startup waits for the registry to receive every member's names.
inline constexpr std::chrono::milliseconds sync_timeout{10000};
// How long startup waits for the demo servers' global names to appear.
inline constexpr std::chrono::milliseconds demo_names_timeout{10000};
// A stop signal this soon after the first one is the same request delivered twice (timeout(1)
// signals the process, then its process group), not the second one that means "exit now".
inline constexpr std::chrono::milliseconds same_stop_request{500};
// Period of startup's looks at what it waits for (the node's view, the seeds' answers, the local
// registry replica: reads, no network), between which a stop signal ends the wait at once.
inline constexpr std::chrono::milliseconds startup_poll{10};
// How long a seed may keep saying that a live member holds this node's name before the node
// gives up (exit 1). A node killed and restarted at once elsewhere is refused so until the
// members declare its predecessor down (net_defaults::failure_timeout, 1.5 s, plus a probe:
// under 2 s); twice the failure timeout leaves that a clear margin.
inline constexpr std::chrono::milliseconds name_in_use_patience{
    2 * otter::net_defaults::failure_timeout};
// Failed encrypted handshakes in a row with every seed before the node gives up (exit 1,
// wrong secret?): ZeroMQ retries each 100 ms, so this costs little and a seed that died in
// the middle of one handshake does not count as a refusal.
inline constexpr unsigned refusals_before_giving_up = 2;
inline constexpr const char* log_level = "info";
inline constexpr const char* log_format = "text";
}  // namespace node_tool_defaults

struct node_config {
  std::string name;
  std::string listen;
  std::string advertise;  // empty: the listen address (not then a wildcard)
  std::vector<std::string> seeds;
  std::string seeds_file;
  std::string secret_file;  // empty: otter::default_secret_path()
  bool demo = false;
  bool insecure = false;
  std::string log_level = node_tool_defaults::log_level;
  std::string log_format = node_tool_defaults::log_format;  // text or json
  unsigned workers = 0;                                     // 0: one per hardware thread
  std::string metrics;  // tcp://HOST:PORT to serve /metrics on, or "" (metrics_server.hpp)
  // Messages a process's mailbox holds at most (node_options::mailbox_limit); 0: unlimited.
  std::uint32_t mailbox_limit = otter::defaults::mailbox_limit;
  // Microseconds the sockets are polled before sleeping while traffic is dense
  // (node_options::busy_poll); 0: never.
  unsigned busy_poll_us = static_cast<unsigned>(otter::net_defaults::busy_poll.count());
};

// HOST and PORT of tcp://HOST:PORT (HOST may be [an IPv6 address]), or nothing when `endpoint`
// is not of that form or PORT is not a number from 0 to 65535.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
};
std::optional<host_port> split_tcp_endpoint(std::string_view endpoint);

// What the command line decided: run with `config`, or print `out` (stdout) and `err` (stderr,
// one line) and exit with `exit_code`.
struct parse_outcome {
  std::optional<node_config> config;
  int exit_code = 0;
  std::string out;
  std::string err;
};

parse_outcome parse_command_line(int argc, char** argv);

}  // namespace otter::node_tool
