// Static supervisors, modelled on OTP's supervisor_SUITE.
#include <catch2/catch.hpp>

#include "sup_test_servers.hpp"

using namespace sup_test;
using otter::child_status;
using otter::errc;
using otter::restart_strategy;
using otter::restart_type;
namespace sup = otter::supervisor;

namespace sup_test {

// Ends child `id` of `sup` the way `how` says: normal, shutdown, abnormal, kill.
inline void end_child(otter::scoped_process& me, const otter::pid& child, const std::string& how) {
  if (how == "kill") {
    me.exit(child, otter::exit_reason::kill());
  } else if (how == "abnormal") {
    (void)me.cast(child, crash{});
  } else {
    (void)me.cast(child, stop_with{how});
  }
}

}  // namespace sup_test

TEST_CASE("restart types and exit reasons decide whether a child is restarted, per strategy") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  for (auto strategy : {restart_strategy::one_for_one, restart_strategy::one_for_all,
                        restart_strategy::rest_for_one}) {
    for (auto type : {restart_type::permanent, restart_type::transient, restart_type::temporary}) {
      for (std::string how : {"normal", "shutdown", "shutdown:detail", "abnormal", "kill"}) {
        INFO(otter::to_string(strategy)
             << ", a " << otter::to_string(type) << " child exits " << how);
        fixture fx;
        otter::supervisor_flags flags;
        flags.strategy = strategy;
        flags.max_restarts = 100;
        auto s = sup::start(rt, flags, {fx.spec("a"), fx.spec("b", type), fx.spec("c")});
        REQUIRE(s);
        const auto a = pid_of(me, *s, "a"), b = pid_of(me, *s, "b"), c = pid_of(me, *s, "c");
        REQUIRE(b);

        const auto ref = me.monitor(b);
        end_child(me, b, how);
        const std::string reason = wait_down(me, ref);
        CHECK(reason == (how == "abnormal" ? "crashed_b" : how == "kill" ? "killed" : how));

        const bool restarted =
            type == restart_type::permanent ||
            (type == restart_type::transient && how != "normal" && how.rfind("shutdown", 0) != 0);
        // The supervisor handled b's EXIT before this call (it was queued first).
        auto kids = me.await(sup::which_children(*s, 10s));
        REQUIRE(kids);
        auto row = child_of(me, *s, "b");
        if (restarted) {
          REQUIRE(row);
          CHECK(row->status == child_status::running);
          CHECK(row->child != b);
          CHECK(me.await(otter::call<pong>(row->child, ping{}))->id == "b");
        } else if (type == restart_type::temporary) {
          CHECK(!row);  // a temporary child's spec is forgotten
        } else {
          REQUIRE(row);
          CHECK(row->status == child_status::undefined);
          CHECK(!row->child);
        }
        const bool a_restarted = restarted && strategy == restart_strategy::one_for_all;
        const bool c_restarted = restarted && strategy != restart_strategy::one_for_one;
        CHECK((pid_of(me, *s, "a") != a) == a_restarted);
        CHECK((pid_of(me, *s, "c") != c) == c_restarted);
        CHECK(pid_of(me, *s, "a"));
        CHECK(pid_of(me, *s, "c"));
        REQUIRE(me.await(sup::stop(*s)));
      }
    }
  }
}

TEST_CASE(
    "a one_for_all restart terminates the other children in reverse order, then starts all "
    "in order") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  otter::supervisor_flags flags;
  flags.strategy = restart_strategy::one_for_all;
  auto s = sup::start(rt, flags, {fx.spec("a"), fx.spec("b"), fx.spec("c"), fx.spec("d")});
  REQUIRE(s);
  const auto b = pid_of(me, *s, "b");
  (void)me.cast(b, crash{});
  REQUIRE(eventually([&] { return fx.log->with_prefix("start").size() == 8; }));
  const std::vector<std::string> expected = {
      "start a",         "start b",         "start c",
      "start d",                                                // initial start, in order
      "stop d shutdown", "stop c shutdown", "stop a shutdown",  // bystanders, reverse order
      "start a",         "start b",         "start c",         "start d"};  // restart, in order
  std::vector<std::string> got;
  for (auto& e : fx.log->snapshot()) {
    if (e.rfind("stop b", 0) != 0) got.push_back(e);  // b's own crash log is not ordered
  }
  CHECK(got == expected);
  REQUIRE(me.await(sup::stop(*s)));
}

TEST_CASE("a temporary child terminated as a bystander of a restart is not restarted") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  for (auto strategy : {restart_strategy::one_for_all, restart_strategy::rest_for_one}) {
    INFO(otter::to_string(strategy));
    fixture fx;
    otter::supervisor_flags flags;
    flags.strategy = strategy;
    auto s =
        sup::start(rt, flags, {fx.spec("a"), fx.spec("t", restart_type::temporary), fx.spec("c")});
    REQUIRE(s);
    const auto a = pid_of(me, *s, "a"), t = pid_of(me, *s, "t");
    const auto ref = me.monitor(t);
    (void)me.cast(a, crash{});
    CHECK(wait_down(me, ref) == "shutdown");
    REQUIRE(eventually([&] { return pid_of(me, *s, "a") && pid_of(me, *s, "a") != a; }));
    auto kids = me.await(sup::which_children(*s));
    REQUIRE(kids);
    REQUIRE(kids->size() == 2);
    CHECK((*kids)[0].id == "a");
    CHECK((*kids)[1].id == "c");
    REQUIRE(me.await(sup::stop(*s)));
  }
}

TEST_CASE(
    "more restarts than the intensity allows shut the supervisor down and its parent "
    "restarts it") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  // inner: default intensity, 3 restarts in 5 s.
  auto outer = sup::start(rt, {}, {sup::child("inner", {}, {fx.spec("w")})});
  REQUIRE(outer);
  const auto inner = pid_of(me, *outer, "inner");
  REQUIRE(inner);
  for (int i = 0; i < 3; ++i) {
    const auto w = pid_of(me, inner, "w");
    REQUIRE(w);
    const auto ref = me.monitor(w);
    (void)me.cast(w, crash{});
    REQUIRE(wait_down(me, ref) == "crashed_w");
    REQUIRE(eventually([&] { return pid_of(me, inner, "w") && pid_of(me, inner, "w") != w; }));
  }
  const auto w = pid_of(me, inner, "w");
  const auto inner_ref = me.monitor(inner);
  (void)me.cast(w, crash{});  // the 4th restart in 5 s
  auto d = me.receive<otter::down>(20s);
  REQUIRE(d);
  CHECK(d->ref == inner_ref);
  CHECK(d->reason.str() == "shutdown");
  // The outer supervisor restarted inner (permanent), which started w again.
  REQUIRE(eventually([&] {
    auto p = pid_of(me, *outer, "inner");
    return p && p != inner && pid_of(me, p, "w");
  }));
  REQUIRE(me.await(sup::stop(*outer)));
}

TEST_CASE(
    "a child that fails to start makes the supervisor's start fail with its reason, and "
    "the children started before it are shut down") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  fx.control("c")->fail_after = 0;
  auto s = sup::start(rt, {}, {fx.spec("a"), fx.spec("b"), fx.spec("c"), fx.spec("d")});
  REQUIRE(!s);
  CHECK(s.err().code == errc::init_failed);
  CHECK(s.err().reason.str() == "refused_c");
  CHECK(s.err().message.find("'c'") != std::string::npos);
  REQUIRE(eventually([&] { return fx.log->with_prefix("stop").size() == 2; }));
  auto stops = fx.log->with_prefix("stop");
  std::sort(stops.begin(), stops.end());
  CHECK(stops == std::vector<std::string>{"stop a shutdown", "stop b shutdown"});
  CHECK(fx.control("d")->starts == 0);  // never started
}

TEST_CASE("stopping a supervisor stops its children in reverse start order") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto s = sup::start(rt, {}, {fx.spec("a"), fx.spec("b"), fx.spec("c")});
  REQUIRE(s);
  const auto a = pid_of(me, *s, "a");
  const auto sref = me.monitor(*s);
  REQUIRE(me.await(sup::stop(*s, otter::exit_reason::shutdown())));
  CHECK(fx.log->with_prefix("stop") ==
        std::vector<std::string>{"stop c shutdown", "stop b shutdown", "stop a shutdown"});
  CHECK(!rt.alive(a));
  CHECK(wait_down(me, sref) == "shutdown");  // the supervisor is gone too
}

TEST_CASE("a child that traps exits and ignores shutdown is killed after its shutdown timeout") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  fx.control("stubborn")->ignore_shutdown = true;
  auto stubborn = fx.spec("stubborn");
  stubborn.shutdown = otter::shutdown_policy::timeout(200ms);
  auto brutal = fx.spec("brutal");
  brutal.shutdown = otter::shutdown_policy::brutal_kill();
  auto s = sup::start(rt, {}, {fx.spec("a"), std::move(stubborn), std::move(brutal)});
  REQUIRE(s);
  const auto sp = pid_of(me, *s, "stubborn"), bp = pid_of(me, *s, "brutal");
  const auto sref = me.monitor(sp), bref = me.monitor(bp);
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(me.await(sup::stop(*s)));
  CHECK(std::chrono::steady_clock::now() - t0 >= 200ms);
  std::vector<std::string> reasons(2);
  for (int i = 0; i < 2; ++i) {
    auto d = me.receive<otter::down>(10s);
    REQUIRE(d);
    reasons[d->ref == sref ? 0 : 1] = d->reason.str();
    CHECK((d->ref == sref || d->ref == bref));
  }
  CHECK(reasons == std::vector<std::string>{"killed", "killed"});
  // Neither ran terminate; `a`, stopped last, did.
  CHECK(fx.log->with_prefix("stop") == std::vector<std::string>{"stop a shutdown"});
}

TEST_CASE(
    "start_child, terminate_child, restart_child and delete_child on a running "
    "supervisor") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto s = sup::start(rt, {}, {fx.spec("a")});
  REQUIRE(s);

  auto b = me.await(sup::start_child(*s, fx.spec("b")));
  REQUIRE(b);
  CHECK(me.await(otter::call<pong>(*b, ping{}))->id == "b");
  CHECK(me.await(sup::start_child(*s, fx.spec("b"))).code() == errc::already_started);

  REQUIRE(me.await(sup::terminate_child(*s, "b")));
  CHECK(!rt.alive(*b));
  CHECK(fx.log->with_prefix("stop b") == std::vector<std::string>{"stop b shutdown"});
  CHECK(child_of(me, *s, "b")->status == child_status::undefined);
  CHECK(me.await(sup::start_child(*s, fx.spec("b"))).code() == errc::already_present);
  CHECK(me.await(sup::terminate_child(*s, "nope")).code() == errc::not_found);

  auto b2 = me.await(sup::restart_child(*s, "b"));
  REQUIRE(b2);
  CHECK(*b2 != *b);
  CHECK(me.await(sup::restart_child(*s, "b")).code() == errc::running);
  CHECK(me.await(sup::delete_child(*s, "b")).code() == errc::running);
  REQUIRE(me.await(sup::terminate_child(*s, "b")));
  REQUIRE(me.await(sup::delete_child(*s, "b")));
  CHECK(!child_of(me, *s, "b"));
  CHECK(me.await(sup::restart_child(*s, "b")).code() == errc::not_found);

  // A child whose start fails is not added.
  fx.control("x")->fail_after = 0;
  auto x = me.await(sup::start_child(*s, fx.spec("x")));
  REQUIRE(!x);
  CHECK(x.err().reason.str() == "refused_x");
  CHECK(!child_of(me, *s, "x"));
  REQUIRE(me.await(sup::stop(*s)));
}

TEST_CASE("which_children and count_children describe every child") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto s = sup::start(rt, {},
                      {fx.spec("a", restart_type::transient), sup::child("inner", {}, {}),
                       fx.spec("c", restart_type::temporary)});
  REQUIRE(s);
  REQUIRE(me.await(sup::terminate_child(*s, "a")));
  auto kids = me.await(sup::which_children(*s));
  REQUIRE(kids);
  REQUIRE(kids->size() == 3);
  const auto& a = (*kids)[0];
  const auto& inner = (*kids)[1];
  const auto& c = (*kids)[2];
  CHECK(a.id == "a");
  CHECK(!a.child);
  CHECK(a.type == otter::child_type::worker);
  CHECK(a.restart == restart_type::transient);
  CHECK(a.status == child_status::undefined);
  CHECK(inner.id == "inner");
  CHECK(inner.child);
  CHECK(inner.type == otter::child_type::supervisor);
  CHECK(inner.status == child_status::running);
  CHECK(c.restart == restart_type::temporary);
  CHECK(otter::to_string(c.status) == "running");

  auto n = me.await(sup::count_children(*s));
  REQUIRE(n);
  CHECK(n->specs == 3);
  CHECK(n->active == 2);
  CHECK(n->supervisors == 1);
  CHECK(n->workers == 2);

  // The replies are plain msgpack structs: they can cross nodes.
  msgpack::sbuffer buf;
  msgpack::pack(buf, otter::which_children_reply{*kids});
  auto back = msgpack::unpack(buf.data(), buf.size()).get().as<otter::which_children_reply>();
  REQUIRE(back.children.size() == 3);
  CHECK(back.children[1].child == inner.child);
  CHECK(back.children[1].type == otter::child_type::supervisor);

  std::string behaviour;
  behaviour = rt.row(*s)->behaviour;
  CHECK(behaviour == "supervisor");
  REQUIRE(me.await(sup::stop(*s)));
}

TEST_CASE(
    "a child that keeps failing to restart leaves the supervisor responsive and "
    "stoppable") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  fx.control("flaky")->fail_after = 1;  // the first start works, every restart fails
  otter::supervisor_flags flags;
  flags.max_restarts = 1000000000;
  flags.max_seconds = std::chrono::seconds(3600);
  auto s = sup::start(rt, flags, {fx.spec("a"), fx.spec("flaky")});
  REQUIRE(s);
  (void)me.cast(pid_of(me, *s, "flaky"), crash{});
  REQUIRE(eventually([&] {
    auto row = child_of(me, *s, "flaky");
    return row && row->status == child_status::restarting && fx.control("flaky")->starts > 10;
  }));
  CHECK(child_of(me, *s, "a")->status == child_status::running);
  CHECK(me.await(sup::restart_child(*s, "flaky")).code() == errc::restarting);
  CHECK(me.await(sup::delete_child(*s, "flaky")).code() == errc::restarting);
  const auto sref = me.monitor(*s);
  REQUIRE(me.await(sup::stop(*s, otter::exit_reason::shutdown(), 10s)));
  CHECK(wait_down(me, sref) == "shutdown");
}

TEST_CASE("a restarting child comes back once its start works again") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  fx.control("flaky")->fail_after = 1;
  otter::supervisor_flags flags;
  flags.strategy = restart_strategy::rest_for_one;
  flags.max_restarts = 1000000000;
  auto s = sup::start(rt, flags, {fx.spec("flaky"), fx.spec("after")});
  REQUIRE(s);
  const auto after = pid_of(me, *s, "after");
  (void)me.cast(pid_of(me, *s, "flaky"), crash{});
  REQUIRE(
      eventually([&] { return child_of(me, *s, "flaky")->status == child_status::restarting; }));
  CHECK(!rt.alive(after));  // rest_for_one: terminated with it, waits for it
  fx.control("flaky")->fail_after = -1;
  REQUIRE(eventually([&] { return pid_of(me, *s, "flaky") && pid_of(me, *s, "after"); }));
  REQUIRE(me.await(sup::stop(*s)));
}

TEST_CASE("a child's global name is registered on every start") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto spec = fx.spec("named");
  spec.global_name = "the_named_one";
  auto s = sup::start(rt, {}, {spec});
  REQUIRE(s);
  const auto first = pid_of(me, *s, "named");
  CHECK(rt.whereis("the_named_one") == first);
  (void)me.cast(first, crash{});
  REQUIRE(eventually([&] {
    auto p = rt.whereis("the_named_one");
    return p && *p != first;
  }));
  CHECK(rt.whereis("the_named_one") == pid_of(me, *s, "named"));

  // A registrar installed on the runtime (the global registry installs one) is used instead;
  // its failure is a start failure. It belongs to that runtime only.
  std::vector<std::string> registered;
  std::mutex m;  // protects registered
  otter::detail::set_service(
      rt,
      std::make_shared<otter::detail::global_name_registrar>(otter::detail::global_name_registrar{
          [&](otter::runtime&, const std::string& name, const otter::pid&) -> otter::result<void> {
            std::lock_guard<std::mutex> l(m);
            registered.push_back(name);
            if (name == "taken") return otter::error{errc::already_registered, "'taken' is taken"};
            return otter::ok();
          }}));
  otter::runtime other(two_workers());
  {
    otter::scoped_process other_me(other);
    auto other_sup = sup::start(other, {}, {});
    REQUIRE(other_sup);
    auto o = fx.spec("o");
    o.global_name = "other_named";
    REQUIRE(other_me.await(sup::start_child(*other_sup, o)));
    CHECK(other.whereis("other_named"));  // registered locally: no registrar on `other`
  }
  auto g = fx.spec("g");
  g.global_name = "global_g";
  CHECK(me.await(sup::start_child(*s, g)));
  auto t = fx.spec("t");
  t.global_name = "taken";
  CHECK(me.await(sup::start_child(*s, t)).code() == errc::already_registered);
  otter::detail::set_service<otter::detail::global_name_registrar>(rt, nullptr);
  {
    std::lock_guard<std::mutex> l(m);
    CHECK(registered == std::vector<std::string>{"global_g", "taken"});
  }
  CHECK(!rt.whereis("global_g"));
  REQUIRE(me.await(sup::stop(*s)));
}

TEST_CASE("otter::stop on a supervisor tells its children to shut down") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto s = sup::start(rt, {}, {fx.spec("a"), fx.spec("b")});
  REQUIRE(s);
  const auto aref = me.monitor(pid_of(me, *s, "a")), bref = me.monitor(pid_of(me, *s, "b"));
  REQUIRE(me.await(otter::stop(*s)));
  CHECK(wait_down(me, aref) == "shutdown");
  CHECK(wait_down(me, bref) == "shutdown");
  auto stops = fx.log->with_prefix("stop");
  std::sort(stops.begin(), stops.end());
  CHECK(stops == std::vector<std::string>{"stop a shutdown", "stop b shutdown"});
}

namespace sup_test {

struct build_tree {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(build_tree);
struct tree_report {
  std::vector<std::string> steps;
  otter::pid sup;
  MSGPACK_DEFINE(steps, sup);
};
OTTER_MESSAGE(tree_report);

// Starts a supervisor linked to itself and drives it with awaited calls, from a handler.
class tree_builder : public otter::gen_server<tree_builder> {
 public:
  using calls = otter::msgs<build_tree>;
  explicit tree_builder(fixture* fx) : fx_(fx) {}

  otter::task<tree_report> handle_call(const build_tree&, otter::from&) {
    tree_report out;
    auto s = sup::start_link({}, {fx_->spec("a")});
    if (!s) throw std::runtime_error(s.err().message);
    out.sup = *s;
    auto b = co_await sup::start_child(*s, fx_->spec("b"));
    out.steps.push_back(b ? "started b" : "start_child failed: " + b.err().message);
    auto again = co_await sup::start_child(*s, fx_->spec("b"));
    out.steps.push_back(std::string("again: ") + std::string(otter::to_string(again.code())));
    auto t = co_await sup::terminate_child(*s, "a");
    out.steps.push_back(t ? "terminated a" : "terminate_child failed");
    auto rows = co_await sup::which_children(*s);
    for (auto& r : *rows) {
      out.steps.push_back(r.id + " " + std::string(otter::to_string(r.status)));
    }
    auto n = co_await sup::count_children(*s);
    out.steps.push_back("active " + std::to_string(n->active));
    auto d = co_await sup::delete_child(*s, "a");
    out.steps.push_back(d ? "deleted a" : "delete_child failed");
    co_return out;
  }

 private:
  fixture* fx_;
};

}  // namespace sup_test

TEST_CASE(
    "supervisor operations can be awaited inside a handler, and start_link links the "
    "supervisor to its caller") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  auto builder = rt.start<tree_builder>(&fx);
  REQUIRE(builder);
  auto r = me.await(otter::call<tree_report>(*builder, build_tree{}, 20s));
  REQUIRE(r);
  CHECK(r->steps == std::vector<std::string>{"started b", "again: already_started", "terminated a",
                                             "a undefined", "b running", "active 1", "deleted a"});
  // The builder's exit takes the supervisor down (it is its parent), and b with it.
  const auto b = pid_of(me, r->sup, "b");
  const auto sref = me.monitor(r->sup);
  const auto bref = me.monitor(b);
  REQUIRE(me.await(otter::stop(*builder, otter::exit_reason("builder_done"))));
  CHECK(wait_down(me, sref) == "builder_done");
  CHECK(wait_down(me, bref) == "shutdown");
}

TEST_CASE("a child whose start returns ignore at supervisor start: kept unless temporary (OTP)") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  for (auto type : {restart_type::permanent, restart_type::transient, restart_type::temporary}) {
    INFO("a " << otter::to_string(type) << " child");
    otter::child_spec ignored;
    ignored.id = "ignored";
    ignored.restart = type;
    ignored.start = []() -> otter::result<otter::pid> { return otter::pid{}; };
    fixture fx;
    auto s = sup::start(rt, {}, {fx.spec("a"), ignored});
    REQUIRE(s);
    auto kids = me.await(sup::which_children(*s, 10s));
    REQUIRE(kids);
    const bool kept = std::any_of(kids->begin(), kids->end(),
                                  [](const otter::child_info& c) { return c.id == "ignored"; });
    CHECK(kept == (type != restart_type::temporary));
    if (kept) CHECK(child_of(me, *s, "ignored")->status == child_status::undefined);
    REQUIRE(me.await(sup::stop(*s)));
  }
}

TEST_CASE("invalid flags and specs fail the start with badarg, as documented") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  const auto before = rt.process_count();
  otter::supervisor_flags negative;
  negative.max_restarts = -1;
  auto a = sup::start(rt, negative, {fx.spec("a")});
  REQUIRE_FALSE(a);
  CHECK(a.code() == errc::badarg);
  otter::supervisor_flags no_period;
  no_period.max_seconds = std::chrono::seconds(0);
  CHECK(sup::start(rt, no_period, {}).code() == errc::badarg);
  auto dup = sup::start(rt, {}, {fx.spec("a"), fx.spec("a")});
  REQUIRE_FALSE(dup);
  CHECK(dup.code() == errc::badarg);
  CHECK(dup.err().message.find("duplicate child id 'a'") != std::string::npos);
  otter::child_spec no_start;
  no_start.id = "x";
  CHECK(sup::start(rt, {}, {no_start}).code() == errc::badarg);
  otter::dynamic_supervisor_options d;
  d.max_restarts = -3;
  CHECK(otter::dynamic_supervisor::start(rt, d).code() == errc::badarg);
  CHECK(fx.control("a")->starts == 0);  // nothing ran
  CHECK(rt.process_count() == before);
}
