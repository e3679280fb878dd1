// Crash reports (OTP's SASL crash report): one warning for a process that ends abnormally,
// nothing for normal and shutdown exits.
#include <catch2/catch.hpp>

#include "log_capture.hpp"
#include "test_servers.hpp"

using namespace otter_test;

namespace {

// Waits for the exit of `p` (monitored before it was made to exit): its reason.
std::string exit_of(otter::scoped_process& me, otter::monitor_ref ref) {
  for (;;) {
    auto d = me.receive<otter::down>(20s);
    if (!d) return "";
    if (d->ref == ref) return d->reason.str();
  }
}

}  // namespace

TEST_CASE("a server that crashes logs one crash report: name, Pid, reason, last message") {
  log_capture log;
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto p = rt.start<recorder>();
  REQUIRE(p);
  REQUIRE(rt.register_name("rec", *p));
  REQUIRE(me.await(otter::call<pong>(*p, ping{1})));
  const auto ref = me.monitor(*p);
  REQUIRE(me.cast(*p, crash{"boom"}));
  REQUIRE(exit_of(me, ref) == "boom");

  const auto reports = log.containing("crash report");
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].level == spdlog::level::warn);
  CHECK(reports[0].text == "crash report: gen_server " + otter::to_string(*p) +
                               " 'rec' exited with reason 'boom' (last message: cast "
                               "'otter_test::crash')");
}

TEST_CASE("a process killed by someone else logs a crash report; its last message is named") {
  log_capture log;
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto p = rt.start<recorder>();
  REQUIRE(p);
  REQUIRE(me.await(otter::call<pong>(*p, ping{1})));
  const auto ref = me.monitor(*p);
  me.exit(*p, otter::exit_reason::kill());
  REQUIRE(exit_of(me, ref) == "killed");
  const auto reports = log.containing("crash report");
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].text == "crash report: gen_server " + otter::to_string(*p) +
                               " exited with reason 'killed' (last message: call "
                               "'otter_test::ping')");
}

TEST_CASE("normal, shutdown and {shutdown, _} exits log no crash report") {
  log_capture log;
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  for (const char* reason : {"normal", "shutdown", "shutdown:maintenance"}) {
    INFO(reason);
    auto p = rt.start<recorder>();
    REQUIRE(p);
    REQUIRE(me.await(otter::stop(*p, otter::exit_reason(reason))));
    auto q = rt.start<recorder>();
    REQUIRE(q);
    const auto ref = me.monitor(*q);
    me.exit(*q, otter::exit_reason(reason));  // an exit signal: normal is ignored
    if (std::string(reason) == "normal") {
      REQUIRE(me.await(otter::stop(*q)));
    }
    REQUIRE(exit_of(me, ref) == reason);
  }
  CHECK(log.containing("crash report").empty());
}
