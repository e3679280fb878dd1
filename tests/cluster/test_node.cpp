// A node for multi-process tests: starts, registers a `probe` server, prints
// "READY <endpoint> <creation> <probe pid>" on stdout, and runs until SIGTERM or stdin closes.
//
//   test_node NAME SECRET_FILE [--listen EP] [--seed EP]... [--insecure] [--global]
//             [--sup-name NAME] [--debug]
// With --global it is started with otter::start_node (global registry, root supervisor) and
// is ready once it has every member's names. --sup-name puts a probe registered globally as
// NAME under the root supervisor.
//
// Commands on stdin (one per line; the answer is one line on stdout), for tests that cannot
// reach the node through the cluster (a partition):
//   reg NAME POLICY   the probe registers a new probe as NAME -> "REG <ok> <code> <pid>"
//   block NODE 0|1    test_hooks::set_blocked              -> "BLOCK"
// End of input stops the node, as SIGTERM does.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <thread>

#include <otter/log.hpp>
#include <otter/otter.hpp>
#include "test_hooks.hpp"

#include "probe.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: test_node NAME SECRET_FILE [--listen EP] [--seed EP]...\n");
    return 2;
  }
  otter::node_options o;
  o.name = argv[1];
  o.secret_file = argv[2];
  o.workers = 2;
  bool global = false;
  std::string sup_name;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--listen" && i + 1 < argc) {
      o.listen = argv[++i];
    } else if (a == "--seed" && i + 1 < argc) {
      o.seeds.push_back(argv[++i]);
    } else if (a == "--insecure") {
      o.insecure = true;
    } else if (a == "--global") {
      global = true;
    } else if (a == "--debug") {
      otter::set_log_level(spdlog::level::debug);
    } else if (a == "--sup-name" && i + 1 < argc) {
      sup_name = argv[++i];
    } else {
      std::fprintf(stderr, "test_node: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // workers inherit the mask; main waits below

  auto n = global ? otter::start_node(o) : otter::node::start(o);
  if (!n) {
    std::fprintf(stderr, "test_node: %s\n", n.err().message.c_str());
    return 1;
  }
  if (global) {
    // Ready means: the seeds' members are connected and their names are here.
    if (!o.seeds.empty() && !(*n)->wait_for_nodes(1, std::chrono::seconds(20))) return 1;
    if (!otter::global_registry::of((*n)->rt())->wait_synced(std::chrono::seconds(20))) return 1;
  }
  if (!sup_name.empty()) {
    // A probe under the root supervisor, registered globally as sup_name on every start.
    otter::scoped_process me((*n)->rt());
    auto spec = otter::worker<cluster_test::probe>("svc", o.name);
    spec.global_name = sup_name;
    auto root = otter::root_supervisor((*n)->rt());
    if (!root || !me.await(otter::supervisor::start_child(*root, spec))) return 1;
  }
  otter::start_options so;
  so.name = "probe";
  auto probe = (*n)->rt().start_with<cluster_test::probe>(so, o.name, n->get());
  if (!probe) return 1;
  std::printf("READY %s %u %s\n", (*n)->endpoint().c_str(), (*n)->creation(),
              otter::to_string(*probe).c_str());
  std::fflush(stdout);
  std::thread commands([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream in(line);
      std::string cmd, arg;
      int flag = 0;
      in >> cmd >> arg >> flag;
      if (cmd == "reg") {
        otter::scoped_process me((*n)->rt());
        auto r = me.await(otter::call<cluster_test::reg_result>(
            *probe, cluster_test::reg_global{arg, false, static_cast<std::uint8_t>(flag)},
            std::chrono::seconds(20)));
        std::printf("REG %d %d %s\n", r && r->ok ? 1 : 0, r ? r->code : -1,
                    r ? otter::to_string(r->holder).c_str() : "-");
      } else if (cmd == "block") {
        otter::test_hooks::set_blocked(**n, arg, flag != 0);
        std::printf("BLOCK\n");
      } else {
        std::printf("ERROR unknown command\n");
      }
      std::fflush(stdout);
    }
    ::kill(::getpid(), SIGTERM);
  });
  commands.detach();
  int sig = 0;
  sigwait(&set, &sig);
  (*n)->shutdown();
  return 0;
}
