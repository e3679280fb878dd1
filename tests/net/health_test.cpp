// Local health (net/src/membership.hpp; docs/PROTOCOL.md, "Heartbeats and watching"): a node
// that runs late or sees members it declared down come back stretches its failure bounds,
// and relaxes them again after calm ticks.
#include <catch2/catch.hpp>

#include "membership.hpp"
#include "otter/node.hpp"
#include "otter/runtime.hpp"

using namespace std::chrono_literals;
using otter::net_detail::membership;

TEST_CASE("local health stretches the failure bounds while a node runs late, then relaxes") {
  otter::runtime rt(otter::runtime_options{.node_name = "health", .workers = 1});
  membership m(rt, 200ms, 1500ms);
  auto at = membership::clock::now();
  m.ticked(at);                                       // the first tick sets the schedule
  for (int i = 0; i < 5; ++i) m.ticked(at += 200ms);  // on time
  CHECK(m.health() == 0);
  CHECK(m.failure_timeout() == 1500ms);
  CHECK(m.probe_timeout() == 200ms);
  CHECK_FALSE(m.silent(at - 1500ms, at));
  CHECK(m.silent(at - 1501ms, at));

  m.ticked(at += 350ms);  // 150 ms late: more than half a period
  CHECK(m.health() == 1);
  CHECK(m.failure_timeout() == 3000ms);
  CHECK(m.probe_timeout() == 400ms);
  CHECK_FALSE(m.silent(at - 2000ms, at));
  m.ticked(at += 290ms);  // 90 ms late: within half a period, not a sign
  CHECK(m.health() == 1);

  // Signs from the detector (a member back as the same incarnation, a handshake given up):
  // capped at max_health.
  for (int i = 0; i < 20; ++i) m.hurt();
  CHECK(m.health() == membership::max_health);
  CHECK(m.failure_timeout() == 1500ms * (1 + membership::max_health));

  // Each calm_ticks ticks on time take one off, down to healthy.
  for (int step = membership::max_health; step > 0; --step) {
    for (int i = 0; i < membership::calm_ticks - 1; ++i) m.ticked(at += 200ms);
    CHECK(m.health() == step);
    m.ticked(at += 200ms);
    CHECK(m.health() == step - 1);
  }
  for (int i = 0; i < 3 * membership::calm_ticks; ++i) m.ticked(at += 200ms);
  CHECK(m.health() == 0);
  CHECK(m.failure_timeout() == 1500ms);
}

TEST_CASE("a node refuses a heartbeat interval of 0 or a failure timeout under two intervals") {
  otter::node_options o;
  o.name = "timing";
  o.listen = "tcp://127.0.0.1:0";
  o.secret_file = "/nonexistent/never-read";  // refused before the secret is read
  o.heartbeat_interval = 0ms;
  auto zero = otter::node::start(o);
  REQUIRE_FALSE(zero);
  CHECK(zero.code() == otter::errc::badarg);
  CHECK(zero.err().message.find("heartbeat_interval") != std::string::npos);
  o.heartbeat_interval = 200ms;
  o.failure_timeout = 300ms;
  auto short_timeout = otter::node::start(o);
  REQUIRE_FALSE(short_timeout);
  CHECK(short_timeout.code() == otter::errc::badarg);
}
