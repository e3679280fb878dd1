// gen_server completions modelled on OTP's gen_server_SUITE: continue, timeouts, get/replace
// state, send_request with request-id collections, multi_call and abcast (on one node here;
// tests/cluster/fanout_test.cpp runs them across real processes).
#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include "test_servers.hpp"

using namespace otter_test;
using otter::errc;

namespace {

struct step {
  std::int64_t n = 0;
};
struct halt {
  std::string why;
};
struct go_on {
  std::int64_t n = 0;
  MSGPACK_DEFINE(n);
};
OTTER_MESSAGE(go_on);
struct stop_via_continue {
  std::string why;
  MSGPACK_DEFINE(why);
};
OTTER_MESSAGE(stop_via_continue);

// OTP's continue cases: init → continue → continue → ..., a message queued during init waits
// for the whole chain; a handler can continue too, and a stop inside a continue ends the server.
class continuer : public otter::gen_server<continuer> {
 public:
  using calls = otter::msgs<get_log>;
  using casts = otter::msgs<add, go_on, stop_via_continue>;
  explicit continuer(int chain) : chain_(chain) {}

  void init() {
    log_.values.push_back(0);
    (void)otter::cast(self(), add{7, 0});  // queued before the continue runs
    continue_with(step{1});
  }
  void handle_continue(const step& s) {
    log_.values.push_back(100 + s.n);
    if (s.n < chain_) continue_with(step{s.n + 1});
  }
  void handle_continue(const halt& h) {
    log_.values.push_back(-1);
    if (h.why.empty()) {
      stop();
    } else {
      stop(otter::exit_reason(h.why));
    }
  }
  log_reply handle_call(const get_log&, otter::from&) { return log_; }
  void handle_cast(const add& a) { log_.values.push_back(a.value); }
  void handle_cast(const go_on& g) {
    log_.values.push_back(g.n);
    continue_with(step{chain_});  // the last step of the chain: no further continue
  }
  void handle_cast(const stop_via_continue& s) { continue_with(halt{s.why}); }

 private:
  int chain_;
  log_reply log_;
};

TEST_CASE("handle_continue runs after init, chained, before a message queued during init") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<continuer>(3);
  REQUIRE(srv);
  otter::scoped_process me(rt);
  auto log = me.await(otter::call<log_reply>(*srv, get_log{}));
  REQUIRE(log);
  CHECK(log->values == std::vector<std::int64_t>{0, 101, 102, 103, 7});
}

TEST_CASE("handle_continue from a handler runs before the next message") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<continuer>(1);
  otter::scoped_process me(rt);
  REQUIRE(me.cast(*srv, go_on{50}));
  REQUIRE(me.cast(*srv, add{60, 0}));
  auto log = me.await(otter::call<log_reply>(*srv, get_log{}));
  REQUIRE(log);
  CHECK(log->values == std::vector<std::int64_t>{0, 101, 7, 50, 101, 60});
}

TEST_CASE("a stop from handle_continue ends the server with its reason, normal by default") {
  otter::runtime rt(two_workers());
  for (std::string why : {"", "given_up"}) {
    auto srv = rt.start<continuer>(1);
    REQUIRE(srv);
    otter::scoped_process me(rt);
    me.monitor(*srv);
    REQUIRE(me.cast(*srv, stop_via_continue{why}));
    auto d = me.receive<otter::down>(10s);
    REQUIRE(d);
    CHECK(d->reason.str() == (why.empty() ? std::string("normal") : why));
    CHECK_FALSE(rt.alive(*srv));
  }
}

// ---- timeouts ----

struct arm {
  std::int64_t ms = 0;
  MSGPACK_DEFINE(ms);
};
OTTER_MESSAGE(arm);
struct count_timeouts {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(count_timeouts);

// Tells `observer` each time its timeout fires (a pong carrying the number of timeouts so far).
class waiter : public otter::gen_server<waiter> {
 public:
  using calls = otter::msgs<count_timeouts, ping>;
  using casts = otter::msgs<arm, add>;
  waiter(otter::pid observer, std::int64_t idle_ms) : observer_(observer), idle_(idle_ms) {}

  std::chrono::milliseconds idle_timeout() const { return std::chrono::milliseconds(idle_); }
  void handle_cast(const arm& a) { set_timeout(std::chrono::milliseconds(a.ms)); }
  void handle_cast(const add& a) { seen_.push_back(a.value); }
  pong handle_call(const count_timeouts&, otter::from&) { return pong{timeouts_}; }
  pong handle_call(const ping& p, otter::from&) { return pong{p.seq}; }
  void handle_timeout() {
    ++timeouts_;
    // What was handled before the timeout fired: it fires after the messages already queued.
    (void)otter::send(observer_, log_reply{seen_, {timeouts_}});
  }

  std::int64_t state() const { return timeouts_; }

 private:
  otter::pid observer_;
  std::int64_t idle_;
  std::int64_t timeouts_ = 0;
  std::vector<std::int64_t> seen_;
};

TEST_CASE("a timeout set by a callback fires when no message arrives first") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto srv = rt.start<waiter>(me.self(), -1);  // no idle timeout
  REQUIRE(srv);
  REQUIRE(me.cast(*srv, arm{20}));
  auto fired = me.receive<log_reply>(10s);
  REQUIRE(fired);
  CHECK(fired->senders == std::vector<std::int64_t>{1});
  // Fires once: the handler that ran (handle_timeout) set none.
  CHECK_FALSE(me.receive<log_reply>(200ms));
}

TEST_CASE("a message arriving before the timeout cancels it") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto srv = rt.start<waiter>(me.self(), -1);
  REQUIRE(me.cast(*srv, arm{2000}));
  REQUIRE(me.cast(*srv, add{1, 0}));  // a message: the 2 s timeout is gone
  auto n = me.await(otter::call<pong>(*srv, count_timeouts{}));
  REQUIRE(n);
  CHECK(n->seq == 0);
  CHECK_FALSE(me.receive<log_reply>(2500ms));
}

TEST_CASE("a zero timeout fires only after the messages already queued") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  // idle 0: every callback ends with a zero timeout; queued messages are handled first, then
  // it fires once the queue is empty (and again after its own handler: it is the idle timeout
  // of handle_timeout too, so the observer sees a stream; only the first matters here).
  struct batch : otter::gen_server<batch> {
    using casts = otter::msgs<add>;
    otter::pid observer;
    std::vector<std::int64_t> seen;
    bool told = false;
    explicit batch(otter::pid o) : observer(o) {}
    void init() {
      for (int i = 1; i <= 5; ++i) (void)otter::cast(self(), add{i, 0});
      set_timeout(0ms);
    }
    void handle_cast(const add& a) {
      seen.push_back(a.value);
      set_timeout(0ms);
    }
    void handle_timeout() {
      if (!told) (void)otter::send(observer, log_reply{seen, {}});
      told = true;
    }
  };
  auto srv = rt.start<batch>(me.self());
  REQUIRE(srv);
  auto fired = me.receive<log_reply>(10s);
  REQUIRE(fired);
  CHECK(fired->values == std::vector<std::int64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("an idle timeout fires whenever the server has been idle that long") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto srv = rt.start<waiter>(me.self(), 30);
  REQUIRE(srv);
  auto first = me.receive<log_reply>(10s);
  REQUIRE(first);
  CHECK(first->senders == std::vector<std::int64_t>{1});
  // handle_timeout set none, so the idle timeout applies to it as well: it fires again.
  auto second = me.receive<log_reply>(10s);
  REQUIRE(second);
  CHECK(second->senders == std::vector<std::int64_t>{2});
}

TEST_CASE("system messages do not cancel a pending timeout") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto srv = rt.start<waiter>(me.self(), -1);
  REQUIRE(me.cast(*srv, arm{400}));
  // Within the 400 ms: get_state and sys_get_status are answered, the timeout still fires.
  auto s = me.await(otter::get_state<std::int64_t>(*srv));
  REQUIRE(s);
  CHECK(*s == 0);
  auto status = me.await(otter::call<otter::process_info>(*srv, otter::sys_get_status{}));
  REQUIRE(status);
  auto fired = me.receive<log_reply>(10s);
  REQUIRE(fired);
  CHECK(fired->senders == std::vector<std::int64_t>{1});
}

// ---- get_state / replace_state ----

struct account {
  std::string owner;
  std::int64_t balance = 0;
  std::string secret;
  MSGPACK_DEFINE(owner, balance, secret);
  bool operator==(const account&) const = default;
};

class bank : public otter::gen_server<bank> {
 public:
  using calls = otter::msgs<ping>;
  pong handle_call(const ping&, otter::from&) { return pong{acc_.balance}; }
  const account& state() const { return acc_; }
  void set_state(account a) { acc_ = std::move(a); }
  std::string format_status() const {
    return acc_.owner + ": " + std::to_string(acc_.balance) + " (secret redacted)";
  }

 private:
  account acc_{"ada", 10, "hunter2"};
};

class stateless : public otter::gen_server<stateless> {
 public:
  using calls = otter::msgs<ping>;
  pong handle_call(const ping& p, otter::from&) { return pong{p.seq}; }
};

TEST_CASE("get_state reads the state, replace_state changes it, format_status redacts") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<bank>();
  REQUIRE(srv);
  REQUIRE(rt.register_name("bank", *srv));
  otter::scoped_process me(rt);
  auto s = me.await(otter::get_state<account>("bank"));
  REQUIRE(s);
  CHECK(*s == account{"ada", 10, "hunter2"});
  auto dyn = me.await(otter::get_state<otter::dynamic>(*srv));
  REQUIRE(dyn);
  CHECK(dyn->as<account>().balance == 10);

  auto replaced = me.await(otter::replace_state<account>("bank", [](account a) {
    a.balance += 5;
    return a;
  }));
  REQUIRE(replaced);
  CHECK(replaced->balance == 15);
  auto p = me.await(otter::call<pong>(*srv, ping{}));
  REQUIRE(p);
  CHECK(p->seq == 15);

  auto shown = me.await(otter::call<otter::sys_state>(*srv, otter::sys_get_state{true}));
  REQUIRE(shown);
  CHECK(shown->is_text);
  CHECK(shown->text == "ada: 15 (secret redacted)");
}

TEST_CASE("a throwing replace_state leaves the state unchanged (OTP's callback_failed)") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<bank>();
  otter::scoped_process me(rt);
  auto r = me.await(otter::replace_state<account>(*srv, [](account a) -> account {
    a.balance = 1'000'000;
    throw std::runtime_error("no such luck");
  }));
  REQUIRE_FALSE(r);
  CHECK(r.code() == errc::badarg);
  CHECK(r.err().message.find("no such luck") != std::string::npos);
  auto s = me.await(otter::get_state<account>(*srv));
  REQUIRE(s);
  CHECK(s->balance == 10);
  CHECK(rt.alive(*srv));
}

TEST_CASE("state requests to a server without the hooks, or of the wrong type, are badarg") {
  otter::runtime rt(two_workers());
  auto plain = rt.start<stateless>();
  auto b = rt.start<bank>();
  otter::scoped_process me(rt);
  auto r = me.await(otter::get_state<std::int64_t>(*plain));
  REQUIRE_FALSE(r);
  CHECK(r.code() == errc::badarg);
  auto wrong = me.await(otter::get_state<std::int64_t>(*b));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.code() == errc::badarg);
  auto wrong_replace =
      me.await(otter::replace_state<std::int64_t>(*b, [](std::int64_t v) { return v + 1; }));
  REQUIRE_FALSE(wrong_replace);
  CHECK(wrong_replace.code() == errc::badarg);
  auto gone = me.await(otter::get_state<std::int64_t>("nobody"));
  REQUIRE_FALSE(gone);
  CHECK(gone.code() == errc::noproc);
  // Both servers are still up.
  CHECK(me.await(otter::call<pong>(*plain, ping{3})));
  CHECK(me.await(otter::call<pong>(*b, ping{})));
}

// ---- send_request ----

TEST_CASE("send_request returns at once; receive_response and wait_response get the reply") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  REQUIRE(rt.register_name("rec", *srv));
  otter::scoped_process me(rt);
  auto r = me.await([]() -> otter::task<std::vector<std::int64_t>> {
    std::vector<std::int64_t> out;
    auto a = otter::send_request<pong>("rec", ping{1});
    auto b = otter::send_request<pong>("rec", ping{2});
    // Taken in the order asked for, not the order they arrived.
    auto rb = co_await otter::receive_response(b, 5s);
    auto ra = co_await otter::wait_response(a, 5s);
    out.push_back(rb ? rb->seq : -1);
    out.push_back(ra ? ra->seq : -1);
    // Answered: a second wait on it has nothing to wait for.
    auto again = co_await otter::wait_response(a, 10ms);
    out.push_back(again ? -1 : static_cast<std::int64_t>(again.code()));
    co_return out;
  }());
  REQUIRE(r.size() == 3);
  CHECK(r[0] == 2);
  CHECK(r[1] == 1);
  CHECK(r[2] == static_cast<std::int64_t>(errc::not_found));
}

TEST_CASE("receive_response abandons on timeout; wait_response keeps the request") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  otter::scoped_process me(rt);
  auto codes = me.await([](otter::pid s) -> otter::task<std::vector<std::int64_t>> {
    std::vector<std::int64_t> out;
    auto kept = otter::send_request<pong>(s, sleep_for{200});
    auto w = co_await otter::wait_response(kept, 20ms);
    out.push_back(static_cast<std::int64_t>(w.code()));  // timeout
    auto w2 = co_await otter::wait_response(kept, 5s);   // still pending: its reply comes
    out.push_back(w2 ? w2->seq : -1);
    auto dropped = otter::send_request<pong>(s, sleep_for{200});
    auto d = co_await otter::receive_response(dropped, 20ms);
    out.push_back(static_cast<std::int64_t>(d.code()));  // timeout, abandoned
    auto d2 = co_await otter::receive_response(dropped, 500ms);
    out.push_back(static_cast<std::int64_t>(d2.code()));  // nothing pending any more
    co_return out;
  }(*srv));
  REQUIRE(codes.size() == 4);
  CHECK(codes[0] == static_cast<std::int64_t>(errc::timeout));
  CHECK(codes[1] == 200);
  CHECK(codes[2] == static_cast<std::int64_t>(errc::timeout));
  CHECK(codes[3] == static_cast<std::int64_t>(errc::not_found));
  // The abandoned request's late reply never reaches the mailbox.
  CHECK_FALSE(me.receive<pong>(400ms));
}

TEST_CASE("request-id collections carry labels and give every response once") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  REQUIRE(rt.register_name("rec", *srv));
  otter::scoped_process me(rt);
  auto got = me.await([](otter::pid s) -> otter::task<std::vector<std::string>> {
    otter::request_id_collection<pong, std::string> coll;
    otter::send_request(otter::dest(s), ping{1}, std::string("by pid"), coll);
    otter::send_request(otter::dest("rec"), ping{2}, std::string("by name"), coll);
    otter::send_request(otter::dest("nobody"), ping{3}, std::string("unknown name"), coll);
    otter::send_request(otter::dest(s), crash{"boom"}, std::string("crasher"), coll);
    std::vector<std::string> out;
    out.push_back(std::to_string(coll.size()));
    while (!coll.empty()) {
      auto r = co_await otter::receive_response(coll, 5s);
      if (!r) {
        out.push_back("wait failed: " + r.err().message);
        break;
      }
      out.push_back(r->label + "=" +
                    (r->reply ? std::to_string(r->reply->seq)
                              : std::string(otter::to_string(r->reply.code()))));
    }
    auto none = co_await otter::receive_response(coll, 10ms);
    out.push_back(none ? std::string("?") : std::string(otter::to_string(none.code())));
    co_return out;
  }(*srv));
  REQUIRE(got.size() == 6);
  CHECK(got[0] == "4");
  std::vector<std::string> answers(got.begin() + 1, got.begin() + 5);
  std::sort(answers.begin(), answers.end());
  CHECK(answers ==
        std::vector<std::string>{"by name=2", "by pid=1", "crasher=exited", "unknown name=noproc"});
  CHECK(got[5] == std::string(otter::to_string(errc::not_found)));
}

TEST_CASE("a collection's wait_response keeps the rest on timeout; receive abandons them") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  otter::scoped_process me(rt);
  auto sizes = me.await([](otter::pid s) -> otter::task<std::vector<std::int64_t>> {
    otter::request_id_collection<pong, int> coll;
    otter::send_request(otter::dest(s), sleep_for{150}, 1, coll);
    otter::send_request(otter::dest(s), sleep_for{150}, 2, coll);
    std::vector<std::int64_t> out;
    auto w = co_await otter::wait_response(coll, 10ms);
    out.push_back(w ? 99 : static_cast<std::int64_t>(coll.size()));  // 2: kept
    auto first = co_await otter::wait_response(coll, 5s, /*remove=*/false);
    out.push_back(first && first->label == 1 ? static_cast<std::int64_t>(coll.size()) : 99);
    auto second = co_await otter::receive_response(coll, 5s);  // 1 is answered: 2 comes
    out.push_back(second ? second->label : 99);
    out.push_back(static_cast<std::int64_t>(coll.size()));  // 1: the entry kept above
    // Two more, then a receive that times out: every request in it is abandoned.
    otter::send_request(otter::dest(s), sleep_for{200}, 3, coll);
    otter::send_request(otter::dest(s), sleep_for{200}, 4, coll);
    auto r = co_await otter::receive_response(coll, 10ms);
    out.push_back(!r && r.code() == errc::timeout ? static_cast<std::int64_t>(coll.size()) : 99);
    co_return out;
  }(*srv));
  CHECK(sizes == std::vector<std::int64_t>{2, 2, 2, 1, 0});
  // The abandoned requests' late replies never reach the mailbox.
  CHECK_FALSE(me.receive<pong>(600ms));
}

// A server that fans out requests itself and learns of their replies in handle_info
// (OTP's check_response/3 in a gen_server).
struct fan_out {
  std::int64_t n = 0;
  MSGPACK_DEFINE(n);
};
OTTER_MESSAGE(fan_out);

class asker : public otter::gen_server<asker> {
 public:
  using calls = otter::msgs<fan_out>;
  explicit asker(otter::pid worker) : worker_(worker) {}
  otter::noreply_t handle_call(const fan_out& f, otter::from& caller) {
    caller_ = std::move(caller);
    for (std::int64_t i = 0; i < f.n; ++i) {
      otter::send_request(otter::dest(worker_), ping{i}, i, coll_);
    }
    return otter::noreply;
  }
  void handle_info(const otter::response_ready& m) {
    auto c = otter::check_response(m, coll_);
    if (!c) return;  // not one of ours
    if (c->reply) sum_ += c->reply->seq * 10 + (c->label == c->reply->seq ? 0 : 1000000);
    if (coll_.empty()) caller_.reply(pong{sum_});
  }

 private:
  otter::pid worker_;
  otter::request_id_collection<pong, std::int64_t> coll_;
  otter::from caller_;
  std::int64_t sum_ = 0;
};

TEST_CASE("a server checks its requests' replies in handle_info with check_response") {
  otter::runtime rt(two_workers());
  auto worker = rt.start<recorder>();
  auto srv = rt.start<asker>(*worker);
  otter::scoped_process me(rt);
  auto r = me.await(otter::call<pong>(*srv, fan_out{100}));
  REQUIRE(r);
  CHECK(r->seq == 10 * (99 * 100 / 2));
}

TEST_CASE("requests outside a process fail with no_process_context") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  auto id = otter::send_request<pong>(*srv, ping{});
  CHECK(id.ref == 0);
  otter::scoped_process me(rt);
  // The id was made outside any process: waiting on it inside one finds nothing pending.
  auto r = me.await(otter::receive_response(id, 10ms));
  REQUIRE_FALSE(r);
  CHECK(r.code() == errc::not_found);
}

// ---- multi_call / abcast on one node ----

TEST_CASE("multi_call gathers replies and bad nodes; abcast reaches every node's server") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  REQUIRE(rt.register_name("rec", *srv));
  otter::scoped_process me(rt);
  const std::string here = rt.node_name();
  auto r = me.await(otter::multi_call<pong>({here, "ghost@nowhere"}, "rec", ping{9}, 1s));
  REQUIRE(r.replies.size() == 1);
  CHECK(r.replies[0].first == here);
  CHECK(r.replies[0].second.seq == 9);
  CHECK(r.bad_nodes == std::vector<std::string>{"ghost@nowhere"});

  auto none = me.await(otter::multi_call<pong>({here}, "nobody", ping{1}, 1s));
  CHECK(none.replies.empty());
  CHECK(none.bad_nodes == std::vector<std::string>{here});

  otter::abcast(rt, {here, "ghost@nowhere"}, "rec", add{4, 0});
  auto log = me.await(otter::call<log_reply>(*srv, get_log{}));
  REQUIRE(log);
  CHECK(log->values == std::vector<std::int64_t>{4});
}

TEST_CASE("multi_call's timeout bounds it and its late replies never leak") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  REQUIRE(rt.register_name("rec", *srv));
  otter::scoped_process me(rt);
  auto r = me.await(otter::multi_call<pong>({rt.node_name()}, "rec", sleep_for{300}, 50ms));
  CHECK(r.replies.empty());
  CHECK(r.bad_nodes.size() == 1);
  CHECK_FALSE(me.receive<pong>(500ms));
  // The server still answers, and nothing stale is taken for this reply.
  auto p = me.await(otter::call<pong>(*srv, ping{5}));
  REQUIRE(p);
  CHECK(p->seq == 5);
}

}  // namespace

namespace {
struct flood_self {
  std::int64_t n = 0;
  MSGPACK_DEFINE(n);
};
OTTER_MESSAGE(flood_self);

// Sends itself n messages from a handler, then calls another server while they are queued
// (OTP's call_with_huge_message_queue shape).
class self_flooder : public otter::gen_server<self_flooder> {
 public:
  using calls = otter::msgs<flood_self, get_log>;
  using casts = otter::msgs<add>;
  using infos = otter::msgs<add>;
  explicit self_flooder(otter::pid other) : other_(other) {}
  otter::task<pong> handle_call(const flood_self& f, otter::from&) {
    for (std::int64_t i = 0; i < f.n; ++i) {
      if (i % 2) {
        (void)otter::cast(self(), add{i, 0});
      } else {
        (void)otter::send(self(), add{i, 0});
      }
    }
    const auto queued = otter::this_runtime().row(self());
    auto r = co_await otter::call<pong>(other_, ping{7});
    co_return pong{r && queued ? static_cast<std::int64_t>(queued->mailbox) : -1};
  }
  log_reply handle_call(const get_log&, otter::from&) { return log_; }
  void handle_cast(const add& a) { log_.values.push_back(a.value); }
  void handle_info(const add& a) { log_.values.push_back(a.value); }

 private:
  otter::pid other_;
  log_reply log_;
};
}  // namespace

TEST_CASE("messages a server sends itself queue in order and count in its mailbox") {
  otter::runtime rt(two_workers());
  auto other = rt.start<recorder>();
  auto srv = rt.start<self_flooder>(*other);
  REQUIRE(srv);
  otter::scoped_process me(rt);
  REQUIRE(me.cast(*srv, add{-1, 0}));  // queued before the flood
  auto r = me.await(otter::call<pong>(*srv, flood_self{50000}, 30s));
  REQUIRE(r);
  CHECK(r->seq >= 50000);  // its own messages are in its mailbox while it waits
  auto log = me.await(otter::call<log_reply>(*srv, get_log{}, 30s));
  REQUIRE(log);
  REQUIRE(log->values.size() == 50001);
  CHECK(log->values[0] == -1);
  for (std::int64_t i = 0; i < 50000; ++i) REQUIRE(log->values[i + 1] == i);
}
