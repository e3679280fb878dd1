// Fan-out calls across real node processes (OTP's gen_server_SUITE multicall and send_request
// cases): multi_call with a dead server, a dead node and a suspended node; send_request's
// error taxonomy over Pid, {name, node} and global-name targets.
#include <signal.h>

#include <catch2/catch.hpp>

#include <otter/request.hpp>

#include "cluster_fixture.hpp"

using namespace cluster_test;
using otter::errc;

TEST_CASE("multi_call: replies from live servers; dead server, dead and suspended nodes are bad") {
  scratch s;
  std::vector<std::unique_ptr<test_node>> n;
  n.push_back(spawn_node("mc-a", s));
  for (const char* name : {"mc-b", "mc-c", "mc-d", "mc-e"}) {
    n.push_back(spawn_node(name, s, {"--seed", n[0]->endpoint}));
  }
  auto me = local_node("mc-t", s, {n[0]->endpoint});
  REQUIRE(me->wait_for_nodes(5, 20s));
  otter::scoped_process p(me->rt());
  const std::vector<std::string> all{"mc-a", "mc-b", "mc-c", "mc-d", "mc-e"};

  auto every = p.await(otter::multi_call<pong>(all, "probe", ping{3}, 5s));
  REQUIRE(every.replies.size() == 5);
  CHECK(every.bad_nodes.empty());
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(every.replies[i].first == all[i]);
    CHECK(every.replies[i].second.node == all[i]);
    CHECK(every.replies[i].second.seq == 3);
  }

  // mc-c loses its server, mc-d dies, mc-e stops answering (SIGSTOP: connected, silent).
  CHECK(p.await(otter::call<pong>(n[2]->probe, crash{"gone"})).code() == errc::exited);
  n[3]->proc->kill_now();
  n[4]->proc->stop();

  const auto t0 = std::chrono::steady_clock::now();
  auto r = p.await(otter::multi_call<pong>(all, "probe", ping{4}, 100ms));
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  n[4]->proc->signal(SIGCONT);
  WARN("multi_call over 5 nodes (3 bad) with a 100 ms timeout returned in " << ms << " ms");
  CHECK(ms < 5000);  // bounded by its timeout (figures: the WARN above and the benchmark)
  REQUIRE(r.replies.size() == 2);
  CHECK(r.replies[0].first == "mc-a");
  CHECK(r.replies[1].first == "mc-b");
  CHECK(r.bad_nodes == std::vector<std::string>{"mc-c", "mc-d", "mc-e"});
  // mc-e answers once it runs again: that late reply never reaches the caller's mailbox.
  CHECK_FALSE(p.receive<pong>(1500ms));

  // abcast reaches every live node's server and never fails for the others.
  otter::abcast(me->rt(), all, "probe", add{11});
  for (std::size_t i : {0u, 1u}) {
    CHECK(eventually([&] {
      auto log = p.await(otter::call<log_reply>(n[i]->probe, get_log{}));
      return log && log->values == std::vector<std::int64_t>{11};
    }));
  }
}

TEST_CASE("send_request errors over Pid, {name, node} and global name targets") {
  scratch s;
  auto a = spawn_node("sr-a", s, {"--global"});
  auto me = global_node("sr-t", s, {a->endpoint});
  otter::scoped_process p(me->rt());
  REQUIRE(p.await(otter::register_global("sr-probe", a->probe)));

  auto got = p.await([](otter::pid probe) -> otter::task<std::vector<std::string>> {
    otter::request_id_collection<pong, std::string> c;
    otter::send_request(otter::dest(probe), ping{1}, std::string("pid"), c);
    otter::send_request(otter::dest::at("probe", "sr-a"), ping{2}, std::string("at"), c);
    otter::send_request(otter::dest("sr-probe"), ping{3}, std::string("global"), c);
    otter::send_request(otter::dest::at("nobody", "sr-a"), ping{4}, std::string("at-unknown"), c);
    otter::send_request(otter::dest::at("probe", "sr-ghost"), ping{5}, std::string("no-node"), c);
    otter::send_request(otter::dest("sr-nobody"), ping{6}, std::string("global-unknown"), c);
    otter::send_request(otter::dest(probe), add{7}, std::string("wrong-type"), c);
    std::vector<std::string> out;
    while (!c.empty()) {
      auto r = co_await otter::receive_response(c, 10s);
      if (!r) {
        out.push_back("wait: " + std::string(otter::to_string(r.code())));
        break;
      }
      out.push_back(r->label + "=" +
                    (r->reply ? std::to_string(r->reply->seq)
                              : std::string(otter::to_string(r->reply.code()))));
    }
    std::sort(out.begin(), out.end());
    co_return out;
  }(a->probe));
  CHECK(got == std::vector<std::string>{"at-unknown=noproc", "at=2", "global-unknown=noproc",
                                        "global=3", "no-node=nodedown", "pid=1",
                                        "wrong-type=badarg"});

  // The probe crashing while a request is pending: its response is exited, with the reason.
  auto crashed = p.await([](otter::pid probe) -> otter::task<std::string> {
    auto id = otter::send_request<pong>(probe, crash{"boom"});
    auto r = co_await otter::receive_response(id, 10s);
    co_return r ? std::string("ok")
                : std::string(otter::to_string(r.code())) + ":" + r.err().reason.str();
  }(a->probe));
  CHECK(crashed == "exited:boom");
}
