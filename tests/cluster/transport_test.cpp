// Multi-process tests of the transport: real node processes on loopback, real sockets.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "cluster_fixture.hpp"
#include "test_hooks.hpp"

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <otter/log.hpp>

using namespace cluster_test;
using otter::errc;

TEST_CASE("three nodes form a full mesh through one seed") {
  scratch s;
  auto a = spawn_node("mesh-a", s);
  auto b = spawn_node("mesh-b", s, {"--seed", a->endpoint});
  auto me = local_node("mesh-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(2, 15s));
  auto names = me->nodes();
  std::vector<std::string> got;
  for (auto& n : names) got.push_back(n.name);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"mesh-a", "mesh-b"});
  // b learnt about the test node through a: it can call a process of ours... and we of its.
  otter::scoped_process p(me->rt());
  auto r = p.await(otter::call<pong>(b->probe, ping{7}));
  REQUIRE(r);
  CHECK(r->node == "mesh-b");
  CHECK(r->seq == 7);
}

TEST_CASE("call, cast and send reach remote servers; remote errors come back as values") {
  scratch s;
  auto a = spawn_node("cc-a", s);
  auto me = local_node("cc-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  otter::scoped_process p(me->rt());
  REQUIRE(p.cast(a->probe, add{1}));
  REQUIRE(p.send(a->probe, add{2}));
  auto log = p.await(otter::call<log_reply>(a->probe, get_log{}));
  REQUIRE(log);
  CHECK(log->values == std::vector<std::int64_t>{1, 2});
  auto bad = p.await(otter::call<pong>(a->probe, add{3}));  // not a call type of the probe
  REQUIRE_FALSE(bad);
  CHECK(bad.code() == errc::badarg);
  auto slow = p.await(otter::call<pong>(a->probe, nap{400}, 100ms));
  CHECK(slow.code() == errc::timeout);
  CHECK(p.await(otter::call<pong>(a->probe, ping{5}))->seq == 5);  // the late reply was discarded
  CHECK_FALSE(p.receive<pong>(300ms));
  auto crashed = p.await(otter::call<pong>(a->probe, crash{"remote boom"}));
  REQUIRE_FALSE(crashed);
  CHECK(crashed.code() == errc::exited);
  CHECK(crashed.err().reason.str() == "remote boom");
  // The probe is gone now: calls to its Pid fail with noproc from the remote node.
  auto gone = p.await(otter::call<pong>(a->probe, ping{}));
  CHECK(gone.code() == errc::noproc);
}

TEST_CASE("monitors and links work across nodes") {
  scratch s;
  auto a = spawn_node("ml-a", s);
  auto me = local_node("ml-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  otter::scoped_process p(me->rt());
  auto ref = p.monitor(a->probe);
  p.link(a->probe);
  (void)p.cast(a->probe, crash{"linked crash"});
  auto d = p.receive<otter::down>(10s);
  REQUIRE(d);
  CHECK(d->ref == ref);
  CHECK(d->who == a->probe);
  CHECK(d->reason.str() == "linked crash");
  auto x = p.receive<otter::exit_msg>(10s);
  REQUIRE(x);
  CHECK(x->from == a->probe);
  CHECK(x->reason.str() == "linked crash");
  // Monitoring the dead Pid now: noproc, answered by its node.
  p.monitor(a->probe);
  auto d2 = p.receive<otter::down>(10s);
  REQUIRE(d2);
  CHECK(d2->reason == otter::exit_reason::noproc());
}

TEST_CASE("a remote process monitors and links to a local one") {
  scratch s;
  auto a = spawn_node("rm-a", s);
  auto me = local_node("rm-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  auto local = me->rt().start<probe>(std::string("rm-t"));
  REQUIRE(local);
  otter::scoped_process p(me->rt());
  REQUIRE(p.await(otter::call<otter::ok_reply>(a->probe, watch{*local})));
  REQUIRE(p.await(otter::stop(*local, otter::exit_reason("local_done"))));
  REQUIRE(eventually([&] {
    auto ev = p.await(otter::call<events>(a->probe, events_q{}));
    return ev && ev->items.size() == 2;
  }));
  auto ev = p.await(otter::call<events>(a->probe, events_q{}));
  std::sort(ev->items.begin(), ev->items.end());
  CHECK(ev->items == std::vector<std::string>{"DOWN local_done", "EXIT local_done"});
}

TEST_CASE("a Pid sent inside a message works on a third node") {
  scratch s;
  auto a = spawn_node("fw-a", s);
  auto b = spawn_node("fw-b", s, {"--seed", a->endpoint});
  auto me = local_node("fw-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(2, 15s));
  otter::scoped_process p(me->rt());
  // a's probe calls b's probe, whose Pid it only knows from our message.
  auto r = p.await(otter::call<pong>(a->probe, relay{b->probe, 42}, 10s));
  REQUIRE(r);
  CHECK(r->node == "fw-b");
  CHECK(r->seq == 42);
  // And a Pid of ours, relayed through a, reaches back here.
  auto local = me->rt().start<probe>(std::string("fw-t"));
  auto back = p.await(otter::call<pong>(a->probe, relay{*local, 9}, 10s));
  REQUIRE(back);
  CHECK(back->node == "fw-t");
}

TEST_CASE("100,000 casts from one sender arrive at a remote server in order") {
  scratch s;
  auto a = spawn_node("ord-a", s);
  auto me = local_node("ord-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  otter::scoped_process p(me->rt());
  constexpr int n = 100000;
  for (int i = 0; i < n; ++i) REQUIRE(p.cast(a->probe, add{i}));
  auto log = p.await(otter::call<log_reply>(a->probe, get_log{}, 60s));
  REQUIRE(log);
  REQUIRE(log->values.size() == n);
  for (int i = 0; i < n; ++i) REQUIRE(log->values[i] == i);
}

// A reply is delivered by a worker waiting on the sockets; its caller may take it, exit and be
// freed at once, while that worker is still in the delivery. Under ThreadSanitizer (CI) this
// caught a worker that delivered while it counted as quiescent, its process freed under it.
TEST_CASE(
    "callers that exit right after their remote reply: every reply arrives, none freed early") {
  scratch s;
  auto a = spawn_node("brief-a", s);
  auto me = local_node("brief-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  constexpr int threads = 4, calls = 150;
  std::atomic<int> answered{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < calls; ++i) {
        otter::scoped_process p(me->rt());
        auto r = p.await(otter::call<pong>(a->probe, ping{t * calls + i}, 30s));
        if (r && r->seq == t * calls + i) answered.fetch_add(1);
      }
    });
  }
  for (auto& c : callers) c.join();
  CHECK(answered.load() == threads * calls);
}

TEST_CASE("SIGKILL of a node: calls in flight fail with nodedown, monitors fire noconnection") {
  scratch s;
  auto a = spawn_node("kill-a", s);
  auto me = local_node("kill-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  otter::scoped_process watcher(me->rt());
  auto ref = watcher.monitor(a->probe);
  watcher.link(a->probe);
  std::atomic<int> code{-1};
  std::thread caller([&] {
    otter::scoped_process p(me->rt());
    auto r =
        p.await(otter::call<pong>(a->probe, nap{60000}, 60s));  // far longer than failure detection
    code = static_cast<int>(r.code());
  });
  std::this_thread::sleep_for(300ms);  // let the call reach the node (not a correctness wait)
  a->proc->kill_now();
  caller.join();
  CHECK(code == static_cast<int>(errc::nodedown));
  auto d = watcher.receive<otter::down>(10s);
  REQUIRE(d);
  CHECK(d->ref == ref);
  CHECK(d->reason == otter::exit_reason::noconnection());
  auto x = watcher.receive<otter::exit_msg>(10s);
  REQUIRE(x);
  CHECK(x->reason == otter::exit_reason::noconnection());
  CHECK(me->nodes().empty());
  // Calls and casts to the dead node return at once.
  otter::scoped_process p(me->rt());
  CHECK(p.await(otter::call<pong>(a->probe, ping{}, 30s)).code() == errc::nodedown);
}

TEST_CASE("a killed node restarted with the same name reconnects; its old Pids are dead") {
  scratch s;
  auto a = spawn_node("re-a", s);
  auto me = local_node("re-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  const otter::pid old_probe = a->probe;
  const std::string ep = a->endpoint;
  a->proc->kill_now();
  REQUIRE(eventually([&] { return me->nodes().empty(); }));
  // Same name, same endpoint, new incarnation.
  a->argv.push_back("--listen");
  a->argv.push_back(ep);
  a->proc = std::make_unique<child>(a->argv);
  REQUIRE(a->wait_ready());
  CHECK(a->creation != old_probe.creation);
  REQUIRE(me->wait_for_nodes(1, 15s));
  otter::scoped_process p(me->rt());
  CHECK(p.await(otter::call<pong>(a->probe, ping{3}))->node == "re-a");
  auto stale = p.await(otter::call<pong>(old_probe, ping{}));
  CHECK(stale.code() == errc::noproc);
  p.monitor(old_probe);
  auto d = p.receive<otter::down>(5s);
  REQUIRE(d);
  CHECK(d->reason == otter::exit_reason::noproc());
}

TEST_CASE("a node without the secret is refused; a hidden node is not listed") {
  scratch s, other;
  auto a = spawn_node("sec-a", s);
  auto intruder = local_node("sec-x", other, {a->endpoint});
  auto member = local_node("sec-t", s, {a->endpoint});
  REQUIRE(member->wait_for_nodes(1, 15s));
  CHECK_FALSE(intruder->wait_for_nodes(1, 2s));
  otter::scoped_process ip(intruder->rt());
  CHECK_FALSE(ip.await(otter::call<pong>(a->probe, ping{}, 2s)));

  auto tool = local_node("sec-tool", s, {a->endpoint}, true);
  REQUIRE(eventually([&] { return tool->peers().size() == 1; }));
  otter::scoped_process tp(tool->rt());
  CHECK(tp.await(otter::call<pong>(a->probe, ping{1}))->node == "sec-a");
  std::this_thread::sleep_for(500ms);
  for (auto& n : member->nodes()) CHECK(n.name != "sec-tool");
}

TEST_CASE("a Python client written from docs/PROTOCOL.md calls a server by name") {
  scratch s;
  auto a = spawn_node("py-node", s);
  const std::string script = std::string(OTTER_SOURCE_DIR) + "/docs/examples/otter_client.py";
  {
    child py({"/usr/bin/python3", script, a->endpoint, s.secret(), "probe", "cluster_test::ping",
              "[3]"});
    auto line = py.read_line(20s);
    REQUIRE(line);
    CHECK(*line == R"([3, "py-node"])");
    CHECK(py.wait_exit() == 0);
  }
  {
    child py({"/usr/bin/python3", script, a->endpoint, s.secret(), "nobody", "cluster_test::ping",
              "[3]"});
    CHECK_FALSE(py.read_line(20s));  // the error goes to stderr
    CHECK(py.wait_exit() == 1);
  }
  {
    // An untyped body: the probe takes the first request type it converts to (ping).
    child py({"/usr/bin/python3", script, a->endpoint, s.secret(), "probe", "", "[9]"});
    auto line = py.read_line(20s);
    REQUIRE(line);
    CHECK(*line == R"([9, "py-node"])");
  }
}

TEST_CASE("a name registered on another node is reached as {name, node}") {
  scratch s;
  auto a = spawn_node("na-a", s);
  auto me = local_node("na-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  otter::scoped_process p(me->rt());
  auto r = p.await(otter::call<pong>(otter::dest::at("probe", "na-a"), ping{4}));
  REQUIRE(r);
  CHECK(r->node == "na-a");
  REQUIRE(p.cast(otter::dest::at("probe", "na-a"), add{8}));
  CHECK(p.await(otter::call<log_reply>(otter::dest::at("probe", "na-a"), get_log{}))->values ==
        std::vector<std::int64_t>{8});
  auto missing = p.await(otter::call<pong>(otter::dest::at("nobody", "na-a"), ping{}));
  CHECK(missing.code() == errc::noproc);
  CHECK_THAT(missing.err().message, Catch::Contains("'nobody'"));
  auto no_node = p.await(otter::call<pong>(otter::dest::at("probe", "no-such-node"), ping{}));
  CHECK(no_node.code() == errc::nodedown);
}

namespace {
struct counter_args {
  std::int64_t start = 0;
  MSGPACK_DEFINE(start);
};
OTTER_MESSAGE(counter_args);
class spawned_counter : public otter::gen_server<spawned_counter> {
 public:
  using calls = otter::msgs<ping>;
  explicit spawned_counter(counter_args a) : n_(a.start) {}
  otter::result<void> init() {
    if (n_ < 0) return otter::error{otter::errc::init_failed, "negative start"};
    return otter::ok();
  }
  pong handle_call(const ping&, otter::from&) { return pong{++n_, "spawned"}; }

 private:
  std::int64_t n_;
};
}  // namespace

TEST_CASE("a server is spawned on another node by its factory name") {
  scratch s;
  auto a = local_node("sp-a", s);
  otter::register_factory<spawned_counter, counter_args>(*a, "counter");
  auto b = local_node("sp-b", s, {a->endpoint()});
  REQUIRE(b->wait_for_nodes(1, 15s));
  otter::scoped_process p(b->rt());
  auto started = p.await(otter::spawn_on("sp-a", "counter", counter_args{41}));
  REQUIRE(started);
  CHECK(started->node == a->id());
  CHECK(p.await(otter::call<pong>(*started, ping{}))->seq == 42);
  auto failed = p.await(otter::spawn_on("sp-a", "counter", counter_args{-1}));
  CHECK(failed.code() == errc::init_failed);
  auto unknown = p.await(otter::spawn_on("sp-a", "no_such_factory", counter_args{}));
  CHECK(unknown.code() == errc::badarg);
  auto nowhere = p.await(otter::spawn_on("sp-zzz", "counter", counter_args{}));
  CHECK(nowhere.code() == errc::nodedown);
}

TEST_CASE("a cut link makes both sides see nodedown; when restored, they reconnect") {
  scratch s;
  auto a = local_node("cut-a", s);
  auto b = local_node("cut-b", s, {a->endpoint()});
  REQUIRE(a->wait_for_nodes(1, 15s));
  REQUIRE(b->wait_for_nodes(1, 15s));
  auto srv = a->rt().start<probe>(std::string("cut-a"));
  otter::scoped_process watcher(b->rt());
  auto ref = watcher.monitor(*srv);
  // Partition: each side drops the other's traffic.
  otter::test_hooks::set_blocked(*a, "cut-b", true);
  otter::test_hooks::set_blocked(*b, "cut-a", true);
  auto d = watcher.receive<otter::down>(10s);
  REQUIRE(d);
  CHECK(d->ref == ref);
  CHECK(d->reason == otter::exit_reason::noconnection());
  REQUIRE(eventually([&] { return a->nodes().empty() && b->nodes().empty(); }));
  // Heal: the handshake runs again and both see each other.
  otter::test_hooks::set_blocked(*a, "cut-b", false);
  otter::test_hooks::set_blocked(*b, "cut-a", false);
  REQUIRE(a->wait_for_nodes(1, 15s));
  REQUIRE(b->wait_for_nodes(1, 15s));
  CHECK(watcher.await(otter::call<pong>(*srv, ping{11}))->seq == 11);
}

TEST_CASE("one side forgetting the other (a one-way cut) heals too") {
  scratch s;
  auto a = local_node("half-a", s);
  auto b = local_node("half-b", s, {a->endpoint()});
  REQUIRE(a->wait_for_nodes(1, 15s));
  REQUIRE(b->wait_for_nodes(1, 15s));
  otter::test_hooks::set_blocked(*a, "half-b", true);  // only a stops hearing b
  REQUIRE(eventually([&] { return a->nodes().empty(); }));
  otter::test_hooks::set_blocked(*a, "half-b", false);
  REQUIRE(a->wait_for_nodes(1, 15s));
  REQUIRE(b->wait_for_nodes(1, 15s));
  auto srv = b->rt().start<probe>(std::string("half-b"));
  otter::scoped_process p(a->rt());
  CHECK(p.await(otter::call<pong>(*srv, ping{12}))->seq == 12);
}

namespace shop {
struct get {
  std::int64_t n = 0;
  MSGPACK_DEFINE(n);
};
OTTER_MESSAGE(get);
}  // namespace shop
namespace admin {
struct get {
  std::int64_t n = 0;
  MSGPACK_DEFINE(n);
};
OTTER_MESSAGE(get);
}  // namespace admin

namespace {
// Handles shop::get only.
class shop_server : public otter::gen_server<shop_server> {
 public:
  using calls = otter::msgs<shop::get>;
  std::int64_t handle_call(const shop::get& g, otter::from&) { return g.n * 10; }
};
}  // namespace

TEST_CASE("messages of one name in two namespaces do not collide on the wire") {
  scratch s;
  auto a = local_node("ns-a", s);
  auto b = local_node("ns-b", s, {a->endpoint()});
  REQUIRE(b->wait_for_nodes(1, 15s));
  auto srv = a->rt().start<shop_server>();
  REQUIRE(srv);
  otter::scoped_process p(b->rt());
  auto right = p.await(otter::call<std::int64_t>(*srv, shop::get{4}));
  REQUIRE(right);
  CHECK(*right == 40);
  // Same short name, same fields, other namespace: not a request this server takes.
  auto wrong = p.await(otter::call<std::int64_t>(*srv, admin::get{4}));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.code() == errc::badarg);
  CHECK(wrong.err().message.find("admin::get") != std::string::npos);
}

TEST_CASE("an application's own spdlog default logger survives starting a node") {
  scratch s;
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
  auto app_logger = std::make_shared<spdlog::logger>("my-app", sink);
  spdlog::set_default_logger(app_logger);
  const auto app_level = spdlog::get_level();
  {
    auto a = local_node("log-a", s);
    auto b = local_node("log-b", s, {a->endpoint()});
    REQUIRE(b->wait_for_nodes(1, 15s));  // both log "member node ... is up" through otter's logger
    spdlog::info("the application speaks");
    CHECK(spdlog::default_logger() == app_logger);
    CHECK(spdlog::get_level() == app_level);
  }
  CHECK(spdlog::default_logger() == app_logger);
  const auto lines = sink->last_formatted();
  REQUIRE(lines.size() == 1);  // only its own line went to the application's logger
  CHECK(lines[0].find("the application speaks") != std::string::npos);
  CHECK(otter::logger()->name() == "otter");
  spdlog::set_default_logger(spdlog::stderr_color_mt("restored-default"));
}

// A node's sockets are served by whichever of its workers is free. A handler that runs past the
// failure timeout, or a process working through a remote backlog with a slow handler, must not
// leave them unserved: the peers would declare the node down.
TEST_CASE("a handler running past the failure timeout does not take its node down") {
  scratch s;
  auto a = spawn_node("nap-a", s);
  auto me = local_node("nap-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  otter::scoped_process watcher(me->rt());
  me->monitor_nodes(watcher.self());
  otter::scoped_process p(me->rt());
  SECTION("one call of 4 s") {
    auto r = p.await(otter::call<pong>(a->probe, nap{4000}, 30s));
    INFO((r ? std::string("answered") : r.err().message));
    REQUIRE(r);
    CHECK(r->seq == 4000);
  }
  SECTION("a backlog of 1,500 casts of 2 ms each") {
    constexpr int n = 1500;
    for (int i = 0; i < n; ++i) REQUIRE(p.cast(a->probe, nap{2}));
    auto log = p.await(otter::call<log_reply>(a->probe, get_log{}, 60s));
    INFO((log ? std::string("answered") : log.err().message));
    REQUIRE(log);
    CHECK(log->values.size() == n);
  }
  CHECK_FALSE(watcher.receive<otter::nodedown>(100ms));
  CHECK(me->nodes().size() == 1);
  // ...and the busy node kept hearing this one: it still lists it as up.
  CHECK(members_of(p, "nap-a") == std::vector<std::string>{"nap-t"});
}
