// The `scale` group: N real otter-node processes (--demo --workers 1, CURVE on) on loopback,
// and this process as one more member (a node of its own, 1 worker) that measures, for each N
// of OTTER_SCALE_NODES (default "8 32 64 100"):
// - otter_scale_ready_s_N: from starting the first node until every node printed READY and
//   every member sees every other (asked of each node's agent). The nodes start 8 at a time
//   (each wave once the last is READY): 100 processes doing 99 CURVE handshakes each at once
//   on 2 cores is a test of the CPU, not of the protocol.
// - otter_scale_join_s_N: one more otter-node joining the formed cluster, from its start until
//   it is READY and every member sees it.
// - otter_scale_idle_cpu_pct_N: CPU of all nodes together (this one included) over 10 s of an
//   idle cluster, in percent of one core.
// - otter_scale_idle_frames_per_node_s_N: frames an otter-node sends per second meanwhile
//   (heartbeats, gossip; the two agent queries that count them included).
// - otter_scale_rss_mib_N: resident memory of an otter-node, on average.
// - otter_scale_register_us_N: median time for register_global from this node to return (the
//   name is then visible on every member), 20 names.
// - otter_scale_ctl_nodes_ms_N: `otterctl nodes` against the first node, end to end, median of 3.
// - otter_scale_detect_ms_N: from SIGKILL of a member that this node does not watch until no
//   member lists it any more.
// - otter_scale_settle_s_N: N nodes (this one included) started at once (the first, then the
//   others together),
//   from the first start until every node sees every other; otter_scale_settle_relinks_N:
//   the links (node, member) that went down and up again in the 10 s after (0: settled).
// - zmq_scale_fanout_us_N: the raw ZeroMQ floor of what a registration does (one message to
//   each of N - 1 members, and all their answers): one request to each of N - 1 processes
//   `otter-bench zmq-echo --curve` (a ROUTER and ZeroMQ's I/O thread each, as an otter-node has
//   a worker and that thread) over one CURVE DEALER each, until every echo is back; median of
//   50 rounds, measured before the nodes of that N start.
// Build with the tools (OTTER_BUILD_TOOLS): it runs the otter-node and otterctl built beside it.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <otter/agent.hpp>
#include <otter/global.hpp>
#include <otter/log.hpp>
#include <otter/node.hpp>
#include <otter/request.hpp>

#include "bench.hpp"
#include "child.hpp"
#include "raw_zmq.hpp"

namespace otter_bench {
namespace scale_group {

using namespace std::chrono_literals;
using cluster_test::child;

double cpu_seconds_of(pid_t pid) {  // user + system time of a process, from /proc
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double rss_mib_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// How many members each node sees (asked of every node's agent at once); -1: no answer.
std::vector<int> members_seen(otter::scoped_process& p, const std::vector<std::string>& names) {
  auto r = p.await(
      otter::multi_call<otter::node_status>(names, otter::agent_name, otter::node_status_q{}, 2s));
  std::vector<int> out(names.size(), -1);
  for (const auto& [node, st] : r.replies) {
    const auto it = std::find(names.begin(), names.end(), node);
    out[static_cast<std::size_t>(it - names.begin())] = static_cast<int>(st.members.size());
  }
  return out;
}

// Frames sent by all the nodes together (their agents' counters).
double frames_out(otter::scoped_process& p, const std::vector<std::string>& names) {
  auto r = p.await(
      otter::multi_call<otter::node_status>(names, otter::agent_name, otter::node_status_q{}, 2s));
  double sum = 0;
  for (const auto& [node, st] : r.replies) sum += static_cast<double>(st.net.frames_out);
  return sum;
}

bool any_lists(otter::scoped_process& p, const std::vector<std::string>& names,
               const std::string& victim) {
  auto r = p.await(
      otter::multi_call<otter::node_status>(names, otter::agent_name, otter::node_status_q{}, 2s));
  for (const auto& [node, st] : r.replies) {
    for (const auto& m : st.members) {
      if (m.name == victim) return true;
    }
  }
  return !r.bad_nodes.empty();  // a node that did not answer may still list it
}

#ifdef OTTER_NODE_BIN
std::unique_ptr<child> spawn_node(const std::string& name, const std::string& secret,
                                  const std::string& seed) {
  std::vector<std::string> argv = {
      OTTER_NODE_BIN, "--name", name,        "--listen", "tcp://127.0.0.1:0", "--secret-file",
      secret,         "--demo", "--workers", "1",        "--log-level",       "error"};
  if (!seed.empty()) argv.insert(argv.end(), {"--seed", seed});
  return std::make_unique<child>(argv);
}

// The endpoint its READY line gives, or "" (and a line on stderr) when it did not start.
std::string ready(child& c, const std::string& name) {
  auto line = c.read_line(180s);
  std::istringstream in(line.value_or(""));
  std::string word, nm, endpoint;
  in >> word >> nm >> endpoint;
  if (word != "READY") {
    std::fprintf(stderr, "otter-bench scale: %s did not start\n", name.c_str());
    return std::string();
  }
  return endpoint;
}

// This process as one more member (1 worker), joining through `seed`; null (and a line on
// stderr) when it cannot start.
std::unique_ptr<otter::node> start_bench_node(const std::string& name, const std::string& secret,
                                              const std::string& seed) {
  otter::node_options o;
  o.name = name;
  o.secret_file = secret;
  o.seeds = {seed};
  o.workers = 1;
  auto me = otter::node::start(o);
  if (!me) {
    std::fprintf(stderr, "otter-bench scale: %s\n", me.err().message.c_str());
    return nullptr;
  }
  return std::move(*me);
}

// Links (node, member) that came up less than `within` ago, over all the nodes: after a quiet
// window as long, the links that went down and up again in it.
int young_links(otter::scoped_process& p, const std::vector<std::string>& names,
                std::chrono::milliseconds within) {
  auto r = p.await(
      otter::multi_call<otter::node_status>(names, otter::agent_name, otter::node_status_q{}, 2s));
  int young = 0;
  for (const auto& [node, st] : r.replies) {
    for (const auto& m : st.members) young += m.up_ms < within.count() ? 1 : 0;
  }
  return young + static_cast<int>(r.bad_nodes.size());  // one that did not answer: unsettled
}

// All at once: the first node alone (the others' seed), then the n - 1 others together, no
// pause between them (each does n - 1 CURVE handshakes while the others do theirs). Before
// local health and handshake sessions, 48 such nodes on two cores never settled: pairs went
// down and up for good. Reports from the first start until every node sees every other
// (asked by this process, which joins once all are READY), and the links that went down and
// up again in the 10 s after that (0 when settled).
int settle_one(int n, const std::string& dir) {
  const std::string secret = dir + "/secret";
  const std::string prefix = "settle" + std::to_string(n) + "-";
  std::vector<std::unique_ptr<child>> nodes;
  std::vector<std::string> names;
  const auto t0 = clock::now();
  names.push_back(prefix + "0");
  nodes.push_back(spawn_node(names[0], secret, ""));
  const std::string seed = ready(*nodes[0], names[0]);
  if (seed.empty()) return 1;
  for (int i = 1; i < n - 1; ++i) {  // n members with this process
    names.push_back(prefix + std::to_string(i));
    nodes.push_back(spawn_node(names.back(), secret, seed));
  }
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    if (ready(*nodes[i], names[i]).empty()) return 1;
  }
  auto me = start_bench_node(prefix + "bench", secret, seed);
  if (!me) return 1;
  otter::scoped_process p(me->rt());
  for (;;) {
    const auto seen = members_seen(p, names);
    if (std::all_of(seen.begin(), seen.end(), [&](int s) { return s == n - 1; })) break;
    if (seconds_since(t0) > 300) {
      std::fprintf(stderr, "otter-bench scale: %d nodes started at once did not settle in 300 s\n",
                   n);
      return 1;
    }
    std::this_thread::sleep_for(50ms);
  }
  const std::string sfx = "_" + std::to_string(n);
  report("otter_scale_settle_s" + sfx, seconds_since(t0), "s");
  std::this_thread::sleep_for(10s);
  report("otter_scale_settle_relinks" + sfx, young_links(p, names, 10s), "links");
  me->shutdown();
  for (auto& c : nodes) c->signal(SIGTERM);
  for (auto& c : nodes) c->wait_exit();
  return 0;
}

// zmq_scale_fanout_us_N (above); 0 and a line on stderr when an echo process does not start or
// answer.
double raw_fanout_us(int peers) {
  std::vector<std::unique_ptr<child>> echoes;
  for (int i = 0; i < peers; ++i) {
    echoes.push_back(
        std::make_unique<child>(std::vector<std::string>{"/proc/self/exe", "zmq-echo", "--curve"}));
  }
  zmq::context_t ctx(1);
  std::vector<zmq::socket_t> dealers;
  for (auto& e : echoes) {
    const auto endpoint = e->read_line(30s);
    if (!endpoint) {
      std::fprintf(stderr, "otter-bench scale: a zmq-echo process did not start\n");
      return 0;
    }
    zmq::socket_t& s = dealers.emplace_back(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    net_group::curve_client(s);
    s.connect(*endpoint);
  }
  std::vector<zmq::pollitem_t> items;
  for (auto& s : dealers) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
  const auto round = [&](std::int64_t seq) {
    const std::string m = net_group::packed(seq);
    for (auto& s : dealers) s.send(zmq::buffer(m), zmq::send_flags::none);
    int back = 0;
    const auto t0 = clock::now();
    while (back < peers) {
      if (seconds_since(t0) > 10) return false;
      zmq::poll(items, 1s);
      for (std::size_t i = 0; i < items.size(); ++i) {
        if ((items[i].revents & ZMQ_POLLIN) == 0) continue;
        zmq::message_t r;
        while (dealers[i].recv(r, zmq::recv_flags::dontwait)) ++back;
      }
    }
    return true;
  };
  std::vector<double> us;
  for (std::int64_t i = 0; i < 70; ++i) {  // the first 20: CURVE handshakes, warm caches
    const auto r0 = clock::now();
    if (!round(i)) {
      std::fprintf(stderr, "otter-bench scale: the zmq-echo processes did not all answer\n");
      return 0;
    }
    if (i >= 20) us.push_back(seconds_since(r0) * 1e6);
  }
  return median(us);
}

int run_one(int n, const std::string& dir) {
  report("zmq_scale_fanout_us_" + std::to_string(n), raw_fanout_us(n - 1), "us");
  const std::string secret = dir + "/secret";
  const std::string prefix = "scale" + std::to_string(n) + "-";
  std::vector<std::unique_ptr<child>> nodes;
  std::vector<std::string> names;
  const auto t0 = clock::now();
  std::string seed;
  const auto spawn = [&](const std::string& name) { return spawn_node(name, secret, seed); };
  for (int first = 0; first < n - 1;) {
    const int wave = first == 0 ? 1 : std::min(8, n - 1 - first);
    for (int i = first; i < first + wave; ++i) {
      names.push_back(prefix + std::to_string(i));
      nodes.push_back(spawn(names.back()));
    }
    for (int i = first; i < first + wave; ++i) {
      const auto ep =
          ready(*nodes[static_cast<std::size_t>(i)], names[static_cast<std::size_t>(i)]);
      if (ep.empty()) return 1;
      if (i == 0) seed = ep;  // the others join through the first
    }
    first += wave;
  }
  auto me = start_bench_node(prefix + "bench", secret, seed);
  if (!me) return 1;
  auto reg = otter::global_registry::start(*me);
  otter::scoped_process p(me->rt());
  // Formed: every node (and this one) sees the n - 1 others.
  for (;;) {
    const auto seen = members_seen(p, names);
    const bool all = me->nodes().size() == static_cast<std::size_t>(n - 1) &&
                     std::all_of(seen.begin(), seen.end(), [&](int s) { return s == n - 1; });
    if (all) break;
    if (seconds_since(t0) > 180) {
      std::fprintf(stderr, "otter-bench scale: the cluster of %d did not form in 180 s\n", n);
      return 1;
    }
    std::this_thread::sleep_for(20ms);
  }
  const std::string sfx = "_" + std::to_string(n);
  report("otter_scale_ready_s" + sfx, seconds_since(t0), "s");
  (void)(*reg)->wait_synced(30s);

  {  // one more node joins the formed cluster
    const std::string name = prefix + "joiner";
    const auto j0 = clock::now();
    auto joiner = spawn(name);
    if (ready(*joiner, name).empty()) return 1;
    std::vector<std::string> all = names;
    all.push_back(name);
    for (;;) {
      const auto seen = members_seen(p, all);
      if (std::all_of(seen.begin(), seen.end(), [&](int s) { return s == n; })) break;
      if (seconds_since(j0) > 60) {
        std::fprintf(stderr, "otter-bench scale: the joiner was not seen by all in 60 s\n");
        return 1;
      }
      std::this_thread::sleep_for(5ms);
    }
    report("otter_scale_join_s" + sfx, seconds_since(j0), "s");
    joiner->signal(SIGTERM);  // leaves cleanly: the cluster is n again
    joiner->wait_exit();
    std::this_thread::sleep_for(1s);
  }

  std::this_thread::sleep_for(3s);  // settle: joins and gossip done
  std::vector<double> cpu0;
  for (auto& c : nodes) cpu0.push_back(cpu_seconds_of(c->pid()));
  const double own0 = own_cpu_seconds();
  const double frames0 = frames_out(p, names);
  const auto w0 = clock::now();
  std::this_thread::sleep_for(10s);
  double cpu = own_cpu_seconds() - own0;
  const double frames = frames_out(p, names) - frames0;
  for (std::size_t i = 0; i < nodes.size(); ++i) cpu += cpu_seconds_of(nodes[i]->pid()) - cpu0[i];
  const double window = seconds_since(w0);
  report("otter_scale_idle_cpu_pct" + sfx, 100.0 * cpu / window, "%");
  report("otter_scale_idle_frames_per_node_s" + sfx,
         frames / window / static_cast<double>(names.size()), "frames/s");
  double rss = 0;
  for (auto& c : nodes) rss += rss_mib_of(c->pid());
  report("otter_scale_rss_mib" + sfx, rss / static_cast<double>(nodes.size()), "MiB");

  std::vector<double> reg_us;
  for (int i = 0; i < 20; ++i) {
    const std::string name = "scale-name-" + std::to_string(i);
    const auto r0 = clock::now();
    auto r = p.await(otter::register_global(name, p.self()));
    if (!r) {
      std::fprintf(stderr, "otter-bench scale: register_global: %s\n", r.err().message.c_str());
      return 1;
    }
    reg_us.push_back(seconds_since(r0) * 1e6);
  }
  report("otter_scale_register_us" + sfx, median(reg_us), "us");

  std::vector<double> ctl_ms;
  const std::string ctl = std::string(OTTERCTL_BIN) + " --node " + seed + " --secret-file " +
                          secret + " nodes > /dev/null";
  for (int i = 0; i < 3; ++i) {
    const auto c0 = clock::now();
    if (std::system(ctl.c_str()) != 0) std::fprintf(stderr, "otter-bench scale: otterctl failed\n");
    ctl_ms.push_back(seconds_since(c0) * 1e3);
  }
  report("otter_scale_ctl_nodes_ms" + sfx, median(ctl_ms), "ms");

  // A member this node does not watch (not one of its ring neighbours, net/src/detector.cpp):
  // it learns of the death from a watcher and a probe, the slowest path.
  std::vector<std::uint64_t> ring;
  for (const auto& nm : names) ring.push_back(otter::node_id_of(nm));
  std::vector<std::uint64_t> sorted = ring;
  std::sort(sorted.begin(), sorted.end());
  const auto after = static_cast<std::size_t>(
      std::upper_bound(sorted.begin(), sorted.end(), me->id()) - sorted.begin());
  std::vector<std::uint64_t> watched;
  for (std::size_t i = 0; i < otter::net_defaults::watch_neighbours && sorted.size() > 0; ++i) {
    watched.push_back(sorted[(after + i) % sorted.size()]);
    watched.push_back(sorted[(after + sorted.size() - 1 - i) % sorted.size()]);
  }
  std::size_t victim = 1;
  for (std::size_t i = 1; i < names.size(); ++i) {
    if (std::find(watched.begin(), watched.end(), ring[i]) == watched.end()) {
      victim = i;
      break;
    }
  }
  const std::string victim_name = names[victim];
  std::vector<std::string> others;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != victim) others.push_back(names[i]);
  }
  const auto k0 = clock::now();
  nodes[victim]->kill_now();
  while (any_lists(p, others, victim_name) && seconds_since(k0) < 30) {
    std::this_thread::sleep_for(10ms);
  }
  report("otter_scale_detect_ms" + sfx, seconds_since(k0) * 1e3, "ms");

  me->shutdown();
  for (auto& c : nodes) c->signal(SIGTERM);
  for (auto& c : nodes) c->wait_exit();
  return 0;
}

#endif
}  // namespace scale_group

int run_scale(std::string_view only) {
  (void)only;
#ifndef OTTER_NODE_BIN
  std::fprintf(stderr, "otter-bench scale: built without the tools (OTTER_BUILD_TOOLS=OFF)\n");
  return 2;
#endif
  otter::set_log_level(spdlog::level::warn);  // this node's own member up/down lines
  const char* env = std::getenv("OTTER_SCALE_NODES");
  std::istringstream sizes(env != nullptr ? env : "8 32 64 100");
  const std::string dir =
      std::filesystem::temp_directory_path() / ("otter-bench-scale-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  int rc = 0;
  for (int n = 0; sizes >> n;) {
    if (n < 3) continue;
#ifdef OTTER_NODE_BIN
    rc = scale_group::run_one(n, dir);
    if (rc == 0) rc = scale_group::settle_one(n, dir);
#endif
    if (rc != 0) break;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}

}  // namespace otter_bench
