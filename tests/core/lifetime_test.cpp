// The lifetime rules of docs/ARCHITECTURE.md ("Lifetimes"): what refers to a runtime stays safe
// to use and to destroy after the runtime has shut down, and after it is gone. Run under ASan
// (with the system malloc) these catch any use of freed memory.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <thread>

#include "test_servers.hpp"

using namespace otter_test;
using otter::errc;

TEST_CASE("a scoped_process alive when its runtime shuts down becomes a dead handle") {
  otter::runtime rt({.node_name = "life", .workers = 2});
  otter::scoped_process me(rt);
  auto srv = rt.start<recorder>();
  REQUIRE(srv);
  REQUIRE(me.await(otter::call<pong>(*srv, ping{1}))->seq == 1);
  const otter::pid server = *srv;

  rt.shutdown();
  CHECK(rt.stopped());
  CHECK_FALSE(me.alive());
  auto r = me.await(otter::call<pong>(server, ping{2}));
  REQUIRE_FALSE(r);
  CHECK(r.code() == errc::shutting_down);
  CHECK(me.send(server, add{1, 0}).code() == errc::shutting_down);
  CHECK_FALSE(me.receive<add>(10ms));
  CHECK(me.await(otter::stop(server)).code() == errc::shutting_down);
  me.link(server);  // no effect, no crash
  (void)me.monitor(server);
  // The runtime itself refuses new work, and Pids of it are dead.
  CHECK(rt.start<recorder>().code() == errc::shutting_down);
  CHECK(rt.cast(server, add{1, 0}).code() == errc::shutting_down);
  CHECK_FALSE(rt.alive(server));
  rt.shutdown();  // idempotent
}

TEST_CASE("a scoped_process may outlive the runtime object itself") {
  auto rt = std::make_unique<otter::runtime>(otter::runtime_options{.workers = 2});
  auto me = std::make_unique<otter::scoped_process>(*rt);
  auto srv = rt->start<recorder>();
  REQUIRE(srv);
  const otter::pid server = *srv;
  rt.reset();
  CHECK_FALSE(me->alive());
  CHECK(me->await(otter::call<pong>(server, ping{1})).code() == errc::shutting_down);
  me.reset();  // harmless
}

TEST_CASE("a scoped_process made on a stopped runtime is a dead handle from the start") {
  otter::runtime rt({.workers = 1});
  rt.shutdown();
  otter::scoped_process me(rt);
  CHECK(me.self().is_nil());
  CHECK(me.await(otter::call<pong>(otter::pid{rt.node_id(), 1, rt.creation()}, ping{1})).code() ==
        errc::shutting_down);
}

namespace {
struct park {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(park);
// Keeps every caller waiting.
class parker : public otter::gen_server<parker> {
 public:
  using calls = otter::msgs<park>;
  otter::noreply_t handle_call(const park&, otter::from& f) {
    parked_.push_back(std::move(f));
    return otter::noreply;
  }

 private:
  std::vector<otter::from> parked_;
};
}  // namespace

TEST_CASE("a thread waiting in scoped_process::await is released by its runtime's shutdown") {
  otter::runtime rt({.workers = 2});
  auto srv = rt.start<parker>();
  REQUIRE(srv);
  std::atomic<int> code{0};
  std::thread caller([&] {
    otter::scoped_process me(rt);
    auto r = me.await(otter::call<otter::ok_reply>(*srv, park{}, 60s));
    code = r ? -1 : static_cast<int>(r.code());
  });
  REQUIRE(eventually([&] { return rt.row(*srv) && rt.row(*srv)->handled == 1; }));
  rt.shutdown();
  caller.join();
  // Not the call's timeout, nor an answer from the parked `from`: the shutdown itself.
  CHECK(code == static_cast<int>(errc::shutting_down));
}
