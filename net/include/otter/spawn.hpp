// Starting a server on another node by a registered factory name.
//
//   // on every node that should be able to run it:
//   otter::register_factory<counter, counter_args>(node, "counter");
//   // from anywhere in the cluster, inside a coroutine handler:
//   result<pid> p = co_await otter::spawn_on("shop-2", "counter", counter_args{5});
//   // or from a thread owning a scoped_process:
//   result<pid> p = me.await(otter::spawn_on("shop-2", "counter", counter_args{5}));
//
// The request goes to the node's `otter.spawner` server (started with every node), which runs
// the factory there: the server's init runs before the answer, and an init error comes back as
// init_failed. An unknown factory is badarg; an unknown or down node is nodedown.
#pragma once

#include <functional>
#include <string>

#include <otter/core.hpp>

namespace otter {

class node;

struct spawn_request {
  std::string factory;
  dynamic args;
  MSGPACK_DEFINE(factory, args);
};
OTTER_MESSAGE_AS(spawn_request, "spawn_request");
struct spawn_reply {
  pid started;
  MSGPACK_DEFINE(started);
};
OTTER_MESSAGE_AS(spawn_reply, "spawn_reply");

inline constexpr const char* spawner_name = "otter.spawner";

using factory_fn = std::function<result<pid>(runtime&, const dynamic& args)>;

// Makes `name` startable on `n` from other nodes (replaces an earlier factory of that name).
void register_factory(node& n, std::string name, factory_fn fn);

// Factory for a server S constructed from an Args decoded from the request.
template <class S, class Args>
void register_factory(node& n, std::string name) {
  register_factory(n, std::move(name), [](runtime& rt, const dynamic& args) -> result<pid> {
    Args a;
    try {
      a = args.as<Args>();
    } catch (const std::exception&) {
      return error{errc::badarg,
                   "arguments do not decode as '" + std::string(message_traits<Args>::name) + "'"};
    }
    return rt.start<S>(std::move(a));
  });
}

// co_await spawn_on(node, factory, args) (or scoped_process::await).
template <class Args>
task<result<pid>> spawn_on(std::string node_name, std::string factory, Args args) {
  // Locals, not temporaries in the co_await expression: g++ 12 destroys those twice (GCC bug
  // 100611).
  dest to = dest::at(spawner_name, std::move(node_name));
  spawn_request req{std::move(factory), dynamic::of(args)};
  auto r = co_await call<spawn_reply>(to, std::move(req));
  if (!r) co_return r.err();
  co_return r->started;
}

}  // namespace otter
