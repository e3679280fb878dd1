// Command line (CLI11) and config file (toml++) of otter-node; see config.hpp.
#include "config.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

namespace otter::node_tool {

namespace {

constexpr std::array<std::string_view, 6> log_levels = {"trace", "debug", "info",
                                                        "warn",  "error", "off"};
constexpr std::array<std::string_view, 2> log_formats = {"text", "json"};
constexpr std::array<std::string_view, 14> config_keys = {
    "name",        "listen",  "advertise",     "seeds",       "seeds_file",
    "secret_file", "demo",    "log_level",     "log_format",  "workers",
    "insecure",    "metrics", "mailbox_limit", "busy_poll_us"};

constexpr const char* footer = R"(
The config file (TOML) takes the same settings:
  name = "n1"                        listen = "tcp://0.0.0.0:7001"
  advertise = "tcp://10.0.0.1:7001"  seeds = ["tcp://host1:7001"]
  seeds_file = "/etc/otter/seeds"    secret_file = "/etc/otter/secret"
  demo = true                        log_level = "info"
  log_format = "text"                workers = 0
  insecure = false                   metrics = "tcp://0.0.0.0:9100"
  mailbox_limit = 100000             busy_poll_us = 50
A flag given on the command line wins over the file.

Addresses: the node binds --listen and tells the others --advertise (they differ behind NAT or
port mapping). A wildcard listen address (tcp://0.0.0.0:PORT, tcp://*:PORT) needs --advertise:
without it the node exits 1 (peers cannot connect to a wildcard). HOST may be a host name
anywhere (DNS or /etc/hosts). A seed is tcp://HOST:PORT or dns:NAME:PORT: every A/AAAA record of
NAME is a seed (a Kubernetes headless service), resolved again every 5 s; a --seeds-file is read
again when it changes (checked every second). Seeds are knocked at until they answer, for as
long as the node runs: a node that lost every member rejoins when a seed comes back.

Once the node is up, has joined its seeds (or given up waiting, with a warning) and holds its
members' names, it prints one line on stdout:  READY <name> <endpoint> <creation>
(the endpoint advertised)
It runs until SIGTERM, SIGINT or SIGHUP (all three: a clean stop), then stops its supervision
tree, leaves the cluster and exits 0; a signal during startup stops it at once (exit 0, no
READY); a second one while it stops (0.5 s or more after the first) exits at once with 1.
SIGPIPE is ignored. Logs go to stderr, one line each: text, or with --log-format json one JSON
object per line (time, level, node, logger, message, fields). Exit codes: 0 clean stop, 1 the
node could not start (one line on stderr says why: the secret file, the listen address, every
seed refused it (wrong secret?), or its name is held by a live member for longer than a
restart takes to be noticed), 2 bad arguments or config file.

--demo starts echo@NAME, counter@NAME and kv@NAME under the root supervisor, and a kv server
that competes for the global name `kv` (one node holds it, the others take over when it dies;
the data is not replicated).

--metrics tcp://HOST:PORT serves the node's metrics in Prometheus' text format at
http://HOST:PORT/metrics (GET only; port 0 picks a free one, logged). A port that cannot be
bound stops the node from starting (exit 1).)";

// The largest mailbox limit (the next value means "unlimited" to the runtime).
constexpr std::int64_t max_busy_poll_us = 100000;
constexpr std::int64_t max_mailbox_limit = std::int64_t{otter::defaults::unlimited_mailbox} - 1;

struct usage_error {
  std::string message;
};

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

bool is_tcp_endpoint(std::string_view e) {
  return e.starts_with("tcp://") && e.find(':', 6) != std::string_view::npos;
}

bool is_dns_seed(std::string_view e) {
  return e.starts_with("dns:") && e.find(':', 4) != std::string_view::npos;
}

// Reads the settings in `path` into `c`, except those the command line gave (`given`).
void read_config_file(const std::string& path, node_config& c,
                      const std::function<bool(std::string_view)>& given) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw usage_error{path + ":" + std::to_string(e.source().begin.line) + ": " +
                      std::string(e.description())};
  }
  const auto bad = [&](std::string_view key, std::string_view want) {
    return usage_error{path + ": '" + std::string(key) + "' must be " + std::string(want)};
  };
  for (auto&& [key, value] : t) {
    if (std::find(config_keys.begin(), config_keys.end(), key.str()) == config_keys.end()) {
      throw usage_error{path + ": unknown setting '" + std::string(key.str()) +
                        "' (known: name, listen, advertise, seeds, seeds_file, "
                        "secret_file, demo, log_level, log_format, workers, insecure, metrics, "
                        "mailbox_limit, busy_poll_us)"};
    }
  }
  const auto text = [&](std::string_view key, std::string& out) {
    if (!t.contains(key)) return;
    auto v = t[key].value<std::string>();
    if (!v || !t[key].is_string()) throw bad(key, "a string");
    if (!given(key)) out = *v;
  };
  const auto flag = [&](std::string_view key, bool& out) {
    if (!t.contains(key)) return;
    auto v = t[key].value<bool>();
    if (!v) throw bad(key, "true or false");
    if (!given(key)) out = *v;
  };
  text("name", c.name);
  text("listen", c.listen);
  text("advertise", c.advertise);
  text("seeds_file", c.seeds_file);
  text("secret_file", c.secret_file);
  text("log_level", c.log_level);
  text("log_format", c.log_format);
  text("metrics", c.metrics);
  flag("demo", c.demo);
  flag("insecure", c.insecure);
  // A whole number from 0 to `most`.
  const auto count = [&](std::string_view key, std::int64_t most, const char* what, auto& out) {
    if (!t.contains(key)) return;
    auto v = t[key].value<std::int64_t>();
    if (!v || !t[key].is_integer() || *v < 0 || *v > most) throw bad(key, what);
    if (!given(key)) out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
  };
  count("workers", 4096, "an integer from 0 to 4096", c.workers);
  count("mailbox_limit", max_mailbox_limit, "an integer from 0 (unlimited) to 4294967294",
        c.mailbox_limit);
  count("busy_poll_us", max_busy_poll_us, "an integer from 0 (never) to 100000", c.busy_poll_us);
  if (t.contains("seeds")) {
    const toml::array* a = t["seeds"].as_array();
    if (a == nullptr || !a->is_homogeneous(toml::node_type::string)) {
      throw bad("seeds", "an array of strings");
    }
    if (!given("seeds")) {
      c.seeds.clear();
      for (const auto& s : *a) c.seeds.push_back(*s.value<std::string>());
    }
  }
}

void validate(const node_config& c) {
  if (c.name.empty()) throw usage_error{"no node name: give --name NAME (or name in the config)"};
  if (c.listen.empty()) {
    throw usage_error{
        "no endpoint to listen on: give --listen tcp://HOST:PORT (or listen in the "
        "config)"};
  }
  if (!is_tcp_endpoint(c.listen)) {
    throw usage_error{"--listen '" + c.listen + "' is not of the form tcp://HOST:PORT"};
  }
  if (!c.advertise.empty() && !is_tcp_endpoint(c.advertise)) {
    throw usage_error{"--advertise '" + c.advertise + "' is not of the form tcp://HOST:PORT"};
  }
  for (const auto& s : c.seeds) {
    // A seed is knocked at, so its port must be one a node can listen on (1-65535).
    const auto hp =
        is_dns_seed(s) ? split_tcp_endpoint("tcp://" + s.substr(4)) : split_tcp_endpoint(s);
    if (!hp || hp->host.empty() || hp->port == 0) {
      throw usage_error{"--seed '" + s +
                        "' is not of the form tcp://HOST:PORT or dns:NAME:PORT (PORT from 1 to "
                        "65535)"};
    }
  }
  if (!c.metrics.empty() && !split_tcp_endpoint(c.metrics)) {
    throw usage_error{"--metrics '" + c.metrics +
                      "' is not of the form tcp://HOST:PORT (PORT from 0 to 65535)"};
  }
  if (std::find(log_levels.begin(), log_levels.end(), c.log_level) == log_levels.end()) {
    throw usage_error{"log level '" + c.log_level +
                      "' is not one of trace, debug, info, warn, error, off"};
  }
  if (std::find(log_formats.begin(), log_formats.end(), c.log_format) == log_formats.end()) {
    throw usage_error{"log format '" + c.log_format + "' is not one of text, json"};
  }
}

}  // namespace

std::optional<host_port> split_tcp_endpoint(std::string_view e) {
  if (!e.starts_with("tcp://")) return std::nullopt;
  e.remove_prefix(6);
  const auto colon = e.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = e.substr(0, colon), port = e.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  if (port.empty() || port.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(ch - '0');
  }
  if (value > 65535) return std::nullopt;
  return host_port{std::string(host), static_cast<std::uint16_t>(value)};
}

parse_outcome parse_command_line(int argc, char** argv) {
  node_config c;
  std::string config_file;
  CLI::App app{"Runs an otter node until SIGTERM, SIGINT or SIGHUP.", "otter-node"};
  app.get_formatter()->column_width(28);
  app.footer(footer);
  app.set_version_flag("--version", std::string("otter-node ") + OTTER_VERSION);
  app.add_option("--name", c.name, "This node's name, unique in the cluster (required)")
      ->type_name("NAME");
  app.add_option("--listen", c.listen,
                 "Endpoint to bind, a wildcard (tcp://0.0.0.0:PORT) allowed with --advertise; "
                 "port 0 picks a free one (required)")
      ->type_name("tcp://HOST:PORT");
  app.add_option("--advertise", c.advertise,
                 "Endpoint the others are told to reach this node at (default: the listen "
                 "address; port 0: the port bound)")
      ->type_name("tcp://HOST:PORT");
  app.add_option("--seed", c.seeds,
                 "A member to join through, or dns:NAME:PORT for every address of NAME "
                 "(repeatable; the rest of the cluster is learnt from them)")
      ->type_name("SEED");
  app.add_option("--seeds-file", c.seeds_file,
                 "File of seeds, one a line ('#' comments), read again when it changes")
      ->type_name("PATH");
  app.add_option("--secret-file", c.secret_file,
                 "Cluster secret, the same file on every node (mode 0600; created if missing). "
                 "Default: $OTTER_SECRET_FILE, else $CREDENTIALS_DIRECTORY/otter-secret (systemd), "
                 "else ~/.otter/secret")
      ->type_name("PATH");
  app.add_option("--config", config_file, "TOML file with the same settings (see below)")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  app.add_flag("--demo", c.demo,
               "Also run the demo servers: echo@NAME, counter@NAME, kv@NAME and `kv`");
  app.add_option("--log-level", c.log_level,
                 "trace, debug, info, warn, error or off (logs go to stderr; default info)")
      ->type_name("LEVEL");
  app.add_option("--log-format", c.log_format,
                 "text (default) or json: one JSON object per line (time, level, node, logger, "
                 "message, fields)")
      ->type_name("FORMAT");
  app.add_option("--workers", c.workers,
                 "Scheduler worker threads, 0 to 4096 (default 0: one per hardware thread)")
      ->check(CLI::Range(0, 4096).description(""))
      ->type_name("N");
  app.add_option("--mailbox-limit", c.mailbox_limit,
                 "Messages a process's mailbox holds at most; the newest beyond it are dropped "
                 "(a call fails with mailbox_full), counted and logged at most once a second "
                 "per process. 0: unlimited (default 100000)")
      ->check(CLI::Range(std::int64_t{0}, max_mailbox_limit).description(""))
      ->type_name("N");
  app.add_option("--busy-poll-us", c.busy_poll_us,
                 "While messages come densely, poll the sockets this many microseconds before "
                 "sleeping: lower remote latency for CPU while traffic flows; an idle node never "
                 "polls. 0: never (default 50)")
      ->check(CLI::Range(std::int64_t{0}, max_busy_poll_us).description(""))
      ->type_name("US");
  app.add_flag("--insecure", c.insecure,
               "No encryption or authentication (plaintext; for benchmarks, logged loudly)");
  app.add_option("--metrics", c.metrics,
                 "Serve Prometheus metrics at http://HOST:PORT/metrics (default: off)")
      ->type_name("tcp://HOST:PORT");

  parse_outcome out;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out.out = app.help();
    return out;
  } catch (const CLI::CallForAllHelp&) {
    out.out = app.help();
    return out;
  } catch (const CLI::CallForVersion& e) {
    out.out = std::string(e.what()) + "\n";
    return out;
  } catch (const CLI::ParseError& e) {
    out.exit_code = 2;
    out.err = "otter-node: " + one_line(e.what()) + " (see otter-node --help)";
    return out;
  }
  try {
    if (!config_file.empty()) {
      const auto given = [&](std::string_view key) {
        std::string flag = "--" + std::string(key);
        std::replace(flag.begin(), flag.end(), '_', '-');
        if (flag == "--seeds") flag = "--seed";
        return app.count(flag) > 0;
      };
      read_config_file(config_file, c, given);
    }
    validate(c);
  } catch (const usage_error& e) {
    out.exit_code = 2;
    out.err = "otter-node: " + one_line(e.message);
    return out;
  }
  out.config = std::move(c);
  return out;
}

}  // namespace otter::node_tool
