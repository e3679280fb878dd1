// Supervisor reports (OTP's supervisor and crash reports): a restart at info with the
// intensity count, giving up at error, and no crash report for children a supervisor ends.
#include <catch2/catch.hpp>

#include "../core/log_capture.hpp"
#include "sup_test_servers.hpp"

using namespace sup_test;
namespace sup = otter::supervisor;
using otter_test::log_capture;

TEST_CASE("each restart is logged at info with its count; reaching the intensity at error") {
  log_capture log;
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  otter::supervisor_flags flags;
  flags.max_restarts = 2;
  flags.max_seconds = std::chrono::hours(1);  // every crash of the test falls in the window
  auto s = sup::start(rt, flags, {fx.spec("w")});
  REQUIRE(s);
  const std::string sup_text = "supervisor " + otter::to_string(*s);
  for (int i = 1; i <= 2; ++i) {
    const auto w = pid_of(me, *s, "w");
    REQUIRE(w);
    const auto ref = me.monitor(w);
    (void)me.cast(w, crash{});
    REQUIRE(wait_down(me, ref) == "crashed_w");
    REQUIRE(eventually([&] { return pid_of(me, *s, "w") && pid_of(me, *s, "w") != w; }));
    const auto restarts = log.containing("restarting it");
    REQUIRE(restarts.size() == static_cast<std::size_t>(i));
    CHECK(restarts.back().level == spdlog::level::info);
    CHECK(restarts.back().text == sup_text + ": child 'w' " + otter::to_string(w) +
                                      " exited with reason 'crashed_w'; restarting it (restart " +
                                      std::to_string(i) + " of at most 2 in 3600 s)");
  }
  const auto w = pid_of(me, *s, "w");
  const auto sref = me.monitor(*s);
  (void)me.cast(w, crash{});  // the third restart in the window: one too many
  REQUIRE(wait_down(me, sref) == "shutdown");

  const auto gave_up = log.containing("max restart intensity");
  REQUIRE(gave_up.size() == 1);
  CHECK(gave_up[0].level == spdlog::level::err);
  CHECK(gave_up[0].text == sup_text + ": child 'w' " + otter::to_string(w) +
                               " exited with reason 'crashed_w'; more than 2 restarts in 3600 "
                               "s (reached max restart intensity): shutting down");
  CHECK(log.containing("restarting it").size() == 2);
  // One crash report per crash of w; none for the supervisor (it exits with shutdown).
  const auto crashes = log.containing("crash report");
  CHECK(crashes.size() == 3);
  for (const auto& c : crashes) {
    CHECK(c.level == spdlog::level::warn);
    CHECK(c.text.find("exited with reason 'crashed_w' (last message: cast 'sup_test::crash')") !=
          std::string::npos);
  }
}

TEST_CASE(
    "children a supervisor ends log no crash report, brutal_kill included; one that outlives "
    "its shutdown time is reported by the supervisor") {
  log_capture log;
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  fixture fx;
  fx.control("stubborn")->ignore_shutdown = true;
  auto brutal = fx.spec("brutal");
  brutal.shutdown = otter::shutdown_policy::brutal_kill();
  auto stubborn = fx.spec("stubborn");
  stubborn.shutdown = otter::shutdown_policy::timeout(std::chrono::milliseconds(50));
  auto s = sup::start(rt, {}, {fx.spec("polite"), brutal, stubborn});
  REQUIRE(s);
  const auto stubborn_pid = pid_of(me, *s, "stubborn");
  REQUIRE(me.await(sup::stop(*s, otter::exit_reason::shutdown())));
  CHECK(log.containing("crash report").empty());
  const auto late = log.containing("did not stop within");
  REQUIRE(late.size() == 1);
  CHECK(late[0].level == spdlog::level::warn);
  CHECK(late[0].text == "supervisor " + otter::to_string(*s) + ": child 'stubborn' " +
                            otter::to_string(stubborn_pid) +
                            " did not stop within its shutdown time (50 ms); killing it");
}
