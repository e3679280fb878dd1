#include <catch2/catch.hpp>

#include "test_servers.hpp"

using namespace otter_test;
using otter::errc;

TEST_CASE("a registered name resolves for call, cast and send, and is unique") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto srv = rt.start<recorder>();
  REQUIRE(rt.register_name("rec", *srv));
  CHECK(rt.whereis("rec") == *srv);
  auto again = rt.register_name("rec", *rt.start<recorder>());
  REQUIRE_FALSE(again);
  CHECK(again.code() == errc::already_registered);
  CHECK(me.await(otter::call<pong>("rec", ping{5}))->seq == 5);
  REQUIRE(me.cast("rec", add{1, 0}));
  REQUIRE(me.send("rec", add{2, 0}));
  CHECK(me.await(otter::call<log_reply>("rec", get_log{}))->values ==
        std::vector<std::int64_t>{1, 2});
  CHECK(rt.registered().size() == 1);
  CHECK(rt.unregister_name("rec"));
  CHECK_FALSE(rt.whereis("rec"));
  CHECK(me.await(otter::call<pong>("rec", ping{})).code() == errc::noproc);
}

TEST_CASE("a name is removed automatically when its process exits, for any reason") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  for (const char* how : {"stop", "kill", "crash"}) {
    INFO(how);
    otter::start_options o;
    o.name = "transient";
    auto srv = rt.start_with<recorder>(o);
    REQUIRE(srv);
    CHECK(rt.whereis("transient") == *srv);
    auto ref = me.monitor(*srv);
    if (std::string(how) == "stop") {
      REQUIRE(me.await(otter::stop(*srv)));
    } else if (std::string(how) == "kill") {
      me.exit(*srv, otter::exit_reason::kill());
    } else {
      (void)me.cast(*srv, crash{"x"});
    }
    auto d = me.receive<otter::down>();
    REQUIRE(d);
    CHECK(d->ref == ref);
    CHECK_FALSE(rt.whereis("transient"));
  }
  // Re-registering for a new process works at once.
  otter::start_options o;
  o.name = "transient";
  CHECK(rt.start_with<recorder>(o));
}

TEST_CASE("registering a dead pid fails with noproc") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto srv = rt.start<recorder>();
  REQUIRE(me.await(otter::stop(*srv)));
  CHECK(rt.register_name("ghost", *srv).code() == errc::noproc);
  CHECK_FALSE(rt.whereis("ghost"));
}

TEST_CASE("send_after delivers once; a cancelled timer never fires") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto srv = rt.start<recorder>();
  rt.send_after(50ms, *srv, add{1, 0});
  auto cancelled = rt.send_after(50ms, *srv, add{2, 0});
  CHECK(rt.cancel_timer(cancelled));
  CHECK_FALSE(rt.cancel_timer(cancelled));
  rt.send_after(100ms, *srv, add{3, 0});
  REQUIRE(eventually(
      [&] { return me.await(otter::call<log_reply>(*srv, get_log{}))->values.size() == 2; }));
  CHECK(me.await(otter::call<log_reply>(*srv, get_log{}))->values ==
        std::vector<std::int64_t>{1, 3});
}

TEST_CASE("timers fire in deadline order whatever order they were set in") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto srv = rt.start<recorder>();
  for (int d : {120, 20, 80, 40, 100, 60}) {
    rt.send_after(std::chrono::milliseconds(d), *srv, add{d, 0});
  }
  REQUIRE(eventually(
      [&] { return me.await(otter::call<log_reply>(*srv, get_log{}))->values.size() == 6; }));
  CHECK(me.await(otter::call<log_reply>(*srv, get_log{}))->values ==
        std::vector<std::int64_t>{20, 40, 60, 80, 100, 120});
}

TEST_CASE("a process can set timers to itself from a handler") {
  otter::runtime rt(two_workers());
  struct ticker : otter::gen_server<ticker> {
    using casts = otter::msgs<ping>;
    using infos = otter::msgs<add>;
    using calls = otter::msgs<get_log>;
    std::vector<std::int64_t> ticks;
    void handle_cast(const ping&) {
      otter::send_after(10ms, otter::self(), add{1, 0});
      auto t = otter::send_after(20ms, otter::self(), add{99, 0});
      otter::cancel_timer(t);
    }
    void handle_info(const add& a) {
      ticks.push_back(a.value);
      if (ticks.size() < 3) otter::send_after(5ms, otter::self(), add{a.value + 1, 0});
    }
    log_reply handle_call(const get_log&, otter::from&) { return log_reply{ticks, {}}; }
  };
  auto srv = rt.start<ticker>();
  otter::scoped_process me(rt);
  REQUIRE(me.cast(*srv, ping{}));
  REQUIRE(eventually(
      [&] { return me.await(otter::call<log_reply>(*srv, get_log{}))->values.size() == 3; }));
  CHECK(me.await(otter::call<log_reply>(*srv, get_log{}))->values ==
        std::vector<std::int64_t>{1, 2, 3});
}
