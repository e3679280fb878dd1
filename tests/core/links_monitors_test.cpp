#include <catch2/catch.hpp>

#include "test_servers.hpp"

using namespace otter_test;
using otter::errc;
using otter::exit_reason;

namespace {

struct link_to {
  otter::pid target;
  MSGPACK_DEFINE(target);
};
OTTER_MESSAGE(link_to);
struct set_trap {
  bool on = false;
  MSGPACK_DEFINE(on);
};
OTTER_MESSAGE(set_trap);
struct watch {
  otter::pid target;
  MSGPACK_DEFINE(target);
};
OTTER_MESSAGE(watch);
struct unwatch {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(unwatch);
struct got {
  std::vector<std::string> events;
  MSGPACK_DEFINE(events);
};
OTTER_MESSAGE(got);

// Links/monitors on request, records exit_msg and down it receives.
class watcher : public otter::gen_server<watcher> {
 public:
  using calls = otter::msgs<link_to, set_trap, watch, unwatch, get_log>;
  otter::ok_reply handle_call(const link_to& l, otter::from&) {
    otter::link(l.target);
    return {};
  }
  otter::ok_reply handle_call(const set_trap& t, otter::from&) {
    otter::trap_exit(t.on);
    return {};
  }
  otter::ok_reply handle_call(const watch& w, otter::from&) {
    ref_ = otter::monitor(w.target);
    return {};
  }
  otter::ok_reply handle_call(const unwatch&, otter::from&) {
    otter::demonitor(ref_);
    return {};
  }
  got handle_call(const get_log&, otter::from&) { return got{events_}; }
  void handle_info(const otter::exit_msg& x) { events_.push_back("EXIT " + x.reason.str()); }
  void handle_info(const otter::down& d) {
    events_.push_back(std::string(d.ref == ref_ ? "DOWN " : "DOWN? ") + d.reason.str());
  }

 private:
  std::vector<std::string> events_;
  otter::monitor_ref ref_ = 0;
};

std::vector<std::string> events_of(otter::scoped_process& me, const otter::pid& w) {
  auto r = me.await(otter::call<got>(w, get_log{}));
  return r ? r->events : std::vector<std::string>{"<call failed>"};
}

}  // namespace

TEST_CASE("link semantics for each exit reason, without trap_exit") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  struct row {
    const char* reason;
    bool survives;
  };
  for (row r :
       {row{"normal", true}, row{"shutdown", false}, row{"kill", false}, row{"my_reason", false}}) {
    INFO("linked process exits with " << r.reason);
    auto victim = rt.start<recorder>();
    auto w = rt.start<watcher>();
    auto wref = me.monitor(*w);
    REQUIRE(me.await(otter::call<otter::ok_reply>(*w, link_to{*victim})));
    REQUIRE(me.await(otter::stop(*victim, exit_reason(r.reason))));
    if (r.survives) {
      CHECK(me.await(otter::call<got>(*w, get_log{})));  // still answers
      CHECK(rt.alive(*w));
    } else {
      auto d = me.receive<otter::down>();
      REQUIRE(d);
      CHECK(d->ref == wref);
      // A link's `kill` is an ordinary reason: the linked process exits with it (as in Erlang).
      CHECK(d->reason.str() == r.reason);
    }
  }
}

TEST_CASE("with trap_exit, linked exits arrive as exit_msg for every reason") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto w = rt.start<watcher>();
  REQUIRE(me.await(otter::call<otter::ok_reply>(*w, set_trap{true})));
  std::vector<std::string> expected;
  for (const char* reason : {"normal", "shutdown", "kill", "custom"}) {
    auto victim = rt.start<recorder>();
    REQUIRE(me.await(otter::call<otter::ok_reply>(*w, link_to{*victim})));
    REQUIRE(me.await(otter::stop(*victim, exit_reason(reason))));
    expected.push_back(std::string("EXIT ") + reason);
  }
  REQUIRE(eventually([&] { return events_of(me, *w).size() == expected.size(); }));
  CHECK(events_of(me, *w) == expected);
}

TEST_CASE("otter::exit with kill is untrappable and reported as killed") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto w = rt.start<watcher>();
  REQUIRE(me.await(otter::call<otter::ok_reply>(*w, set_trap{true})));
  auto ref = me.monitor(*w);
  me.link(*w);
  me.exit(*w, exit_reason::kill());
  auto d = me.receive<otter::down>();
  REQUIRE(d);
  CHECK(d->ref == ref);
  CHECK(d->reason == exit_reason::killed());
  auto x = me.receive<otter::exit_msg>();
  REQUIRE(x);
  CHECK(x->reason == exit_reason::killed());
}

TEST_CASE("otter::exit with other reasons: trapped becomes a message, normal is ignored") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto plain = rt.start<watcher>();
  me.exit(*plain, exit_reason::normal());
  CHECK(me.await(otter::call<got>(*plain, get_log{})));  // ignored
  me.exit(*plain, exit_reason("bye"));
  REQUIRE(eventually([&] { return !rt.alive(*plain); }));

  auto trapping = rt.start<watcher>();
  REQUIRE(me.await(otter::call<otter::ok_reply>(*trapping, set_trap{true})));
  me.exit(*trapping, exit_reason("bye"));
  me.exit(*trapping, exit_reason::normal());
  REQUIRE(eventually([&] { return events_of(me, *trapping).size() == 2; }));
  CHECK(events_of(me, *trapping) == std::vector<std::string>{"EXIT bye", "EXIT normal"});
}

TEST_CASE("a link error propagates through a chain of links") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto a = rt.start<watcher>();
  auto b = rt.start<watcher>();
  auto c = rt.start<recorder>();
  REQUIRE(me.await(otter::call<otter::ok_reply>(*a, link_to{*b})));
  REQUIRE(me.await(otter::call<otter::ok_reply>(*b, link_to{*c})));
  me.monitor(*a);
  (void)me.cast(*c, crash{"chain_reaction"});
  auto d = me.receive<otter::down>();
  REQUIRE(d);
  CHECK(d->reason.str() == "chain_reaction");
  CHECK_FALSE(rt.alive(*b));
}

TEST_CASE("monitors carry the reason; demonitor stops the DOWN") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  for (const char* reason : {"normal", "shutdown", "oops"}) {
    auto target = rt.start<recorder>();
    auto w = rt.start<watcher>();
    REQUIRE(me.await(otter::call<otter::ok_reply>(*w, watch{*target})));
    REQUIRE(me.await(otter::stop(*target, exit_reason(reason))));
    REQUIRE(eventually([&] { return events_of(me, *w).size() == 1; }));
    CHECK(events_of(me, *w).at(0) == std::string("DOWN ") + reason);
  }
  auto target = rt.start<recorder>();
  auto w = rt.start<watcher>();
  REQUIRE(me.await(otter::call<otter::ok_reply>(*w, watch{*target})));
  REQUIRE(me.await(otter::call<otter::ok_reply>(*w, unwatch{})));
  REQUIRE(me.await(otter::stop(*target)));
  auto canary = rt.start<recorder>();
  REQUIRE(me.await(otter::call<otter::ok_reply>(*w, watch{*canary})));
  REQUIRE(me.await(otter::stop(*canary, exit_reason("canary"))));
  REQUIRE(eventually([&] { return events_of(me, *w).size() == 1; }));
  CHECK(events_of(me, *w) == std::vector<std::string>{"DOWN canary"});
}

TEST_CASE("monitoring or linking a dead process reports noproc at once") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto target = rt.start<recorder>();
  REQUIRE(me.await(otter::stop(*target)));
  auto ref = me.monitor(*target);
  auto d = me.receive<otter::down>(1s);
  REQUIRE(d);
  CHECK(d->ref == ref);
  CHECK(d->reason == exit_reason::noproc());
  me.monitor("no_such_name");
  auto d2 = me.receive<otter::down>(1s);
  REQUIRE(d2);
  CHECK(d2->reason == exit_reason::noproc());
  me.link(*target);
  auto x = me.receive<otter::exit_msg>(1s);
  REQUIRE(x);
  CHECK(x->reason == exit_reason::noproc());
}

TEST_CASE("unlink stops exit signals") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto target = rt.start<recorder>();
  me.link(*target);
  me.unlink(*target);
  REQUIRE(me.await(otter::stop(*target, exit_reason("unlinked"))));
  CHECK_FALSE(me.receive<otter::exit_msg>(200ms));
}
