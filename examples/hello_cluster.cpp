// A user's program: its own GenServer, a node, a global name, and a call by name to another
// node. Run two (the second joins through the first; the secret is $OTTER_SECRET_FILE or
// ~/.otter/secret, created on first use):
//   hello_cluster a --listen tcp://127.0.0.1:7001
//   hello_cluster b --seed tcp://127.0.0.1:7001
// b greets greeter@a by name; a's greeter greets greeter@b back from inside its handler (a
// coroutine: the worker thread is not blocked while it waits). Ctrl-C stops a node cleanly.
#include <signal.h>

#include <cstdio>
#include <otter/otter.hpp>

struct greet {
  std::string from;
  bool back = false;  // a greeting back: do not answer it with another
  MSGPACK_DEFINE(from, back);
};
OTTER_MESSAGE(greet);
struct greeting {
  std::string text;
  MSGPACK_DEFINE(text);
};
OTTER_MESSAGE(greeting);

class greeter : public otter::gen_server<greeter> {
 public:
  using calls = otter::msgs<greet>;
  explicit greeter(std::string node) : node_(std::move(node)) {}

  otter::task<greeting> handle_call(const greet& g, otter::from&) {
    std::printf("%s: greeted by %s\n", node_.c_str(), g.from.c_str());
    if (!g.back) {
      const otter::dest to("greeter@" + g.from);  // a global name, on another node
      greet back{node_, true};
      auto r = co_await otter::call<greeting>(to, std::move(back));
      if (r)
        std::printf("%s: greeter@%s answered \"%s\"\n", node_.c_str(), g.from.c_str(),
                    r->text.c_str());
    }
    co_return greeting{"hello " + g.from + ", this is " + node_};
  }

 private:
  std::string node_;
};

int main(int argc, char** argv) {
  if (argc < 2)
    return std::fprintf(stderr, "usage: hello_cluster NAME [--listen EP] [--seed EP]\n"), 2;
  setvbuf(stdout, nullptr, _IOLBF, 0);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before any thread starts: sigwait gets them

  otter::node_options o;
  o.name = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    (std::string(argv[i]) == "--seed" ? o.seeds.emplace_back() : o.listen) = argv[i + 1];
  }
  // The node, its global registry and root supervisor; with a seed, it returns once joined
  // and holding every member's names (node_options::join_timeout).
  auto node = otter::start_node(o);
  if (!node) return std::fprintf(stderr, "%s\n", node.err().message.c_str()), 1;
  auto& rt = (*node)->rt();

  otter::scoped_process me(rt);  // lets main call servers
  auto g = rt.start<greeter>(o.name);
  if (!g) return std::fprintf(stderr, "%s\n", g.err().message.c_str()), 1;
  if (auto r = me.await(otter::register_global("greeter@" + o.name, *g)); !r) {
    return std::fprintf(stderr, "%s\n", r.err().message.c_str()), 1;
  }
  std::printf("%s: up at %s, greeter@%s registered\n", o.name.c_str(), (*node)->endpoint().c_str(),
              o.name.c_str());

  for (const auto& peer : (*node)->nodes()) {
    auto r = me.await(otter::call<greeting>("greeter@" + peer.name, greet{o.name}));
    if (r)
      std::printf("%s: greeter@%s answered \"%s\"\n", o.name.c_str(), peer.name.c_str(),
                  r->text.c_str());
  }
  int sig = 0;
  sigwait(&stop, &sig);
  (*node)->shutdown();  // the supervision tree stops, the global names go, the peers are told
  return 0;
}
