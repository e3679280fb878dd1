// A node that runs a `greeter` server, greets the greeters of the other nodes by name, and
// reports nodes coming and going.   usage: hello_cluster NAME [HOST:]PORT [[HOST:]SEED_PORT]
#include <signal.h>

#include <cstdio>
#include <otter/otter.hpp>

struct greet {
  std::string from;
  MSGPACK_DEFINE(from);
};
OTTER_MESSAGE(greet);
struct greeting {
  std::string text;
  std::int64_t count = 0;
  MSGPACK_DEFINE(text, count);
};
OTTER_MESSAGE(greeting);

// The user's server: one handler per request type.
class greeter : public otter::gen_server<greeter> {
 public:
  using calls = otter::msgs<greet>;
  explicit greeter(std::string node) : node_(std::move(node)) {}
  greeting handle_call(const greet& g, otter::from&) {
    return {"hello " + g.from + ", this is " + node_, ++count_};
  }

 private:
  std::string node_;
  std::int64_t count_ = 0;
};

// Prints membership changes (net_kernel:monitor_nodes in Erlang).
class watcher : public otter::gen_server<watcher> {
 public:
  using infos = otter::msgs<otter::nodeup, otter::nodedown>;
  void handle_info(const otter::nodeup& u) { std::printf("  nodeup %s\n", u.node.c_str()); }
  void handle_info(const otter::nodedown& d) {
    std::printf("  nodedown %s (%s)\n", d.node.c_str(), d.reason.c_str());
  }
};

// "7001" -> tcp://127.0.0.1:7001, "10.0.0.5:7001" -> tcp://10.0.0.5:7001
std::string endpoint(std::string a) {
  return "tcp://" + (a.find(':') == std::string::npos ? "127.0.0.1:" + a : a);
}

int main(int argc, char** argv) {
  if (argc < 3) return std::fprintf(stderr, "usage: hello_cluster NAME PORT [SEED_PORT]\n"), 2;
  setvbuf(stdout, nullptr, _IOLBF, 0);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  otter::node_options o;
  o.name = argv[1];
  o.listen = endpoint(argv[2]);
  if (argc > 3) o.seeds = {endpoint(argv[3])};
  auto node = otter::node::start(o);
  if (!node) return std::fprintf(stderr, "%s\n", node.err().message.c_str()), 1;
  auto& rt = (*node)->rt();
  otter::start_options named;
  named.name = "greeter";
  (void)rt.start_with<greeter>(named, o.name);
  (*node)->monitor_nodes(*rt.start<watcher>());
  std::printf("%s listening on %s\n", o.name.c_str(), (*node)->endpoint().c_str());

  (*node)->wait_for_nodes(2, std::chrono::seconds(10));
  otter::scoped_process me(rt);
  for (const auto& peer : (*node)->nodes()) {
    auto r = me.call<greeting>(otter::dest::at("greeter", peer.name), greet{o.name});
    if (r) std::printf("  %s -> %s: \"%s\"\n", o.name.c_str(), peer.name.c_str(), r->text.c_str());
  }
  int sig = 0;
  sigwait(&stop, &sig);
  std::printf("%s shutting down\n", o.name.c_str());
  return 0;
}
