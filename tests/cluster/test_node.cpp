// A node for multi-process tests: starts, registers a `probe` server, prints
// "READY <endpoint> <creation> <probe pid>" on stdout, and runs until SIGTERM or stdin closes.
//
//   test_node NAME SECRET_FILE [--listen EP] [--seed EP]... [--insecure]
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>

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
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--listen" && i + 1 < argc) {
      o.listen = argv[++i];
    } else if (a == "--seed" && i + 1 < argc) {
      o.seeds.push_back(argv[++i]);
    } else if (a == "--insecure") {
      o.insecure = true;
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

  auto n = otter::node::start(o);
  if (!n) {
    std::fprintf(stderr, "test_node: %s\n", n.err().message.c_str());
    return 1;
  }
  otter::start_options so;
  so.name = "probe";
  auto probe = (*n)->rt().start_with<cluster_test::probe>(so, o.name);
  if (!probe) return 1;
  std::printf("READY %s %u %s\n", (*n)->endpoint().c_str(), (*n)->creation(),
              otter::to_string(*probe).c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  (*n)->shutdown();
  return 0;
}
