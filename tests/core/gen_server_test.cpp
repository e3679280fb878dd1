#include <atomic>
#include <memory>

#include <catch2/catch.hpp>

#include "test_servers.hpp"

using namespace otter_test;
using otter::errc;

namespace {

struct hold {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(hold);
struct release_all {
  std::int64_t value = 0;
  MSGPACK_DEFINE(value);
};
OTTER_MESSAGE(release_all);

// Keeps callers waiting (deferred reply) until a release_all cast answers them all.
class deferred : public otter::gen_server<deferred> {
 public:
  using calls = otter::msgs<hold, get_log>;
  using casts = otter::msgs<release_all>;
  log_reply handle_call(const get_log&, otter::from&) {
    return log_reply{{static_cast<std::int64_t>(waiting_.size())}, {}};
  }
  otter::noreply_t handle_call(const hold&, otter::from& f) {
    waiting_.push_back(std::move(f));
    return otter::noreply;
  }
  void handle_cast(const release_all& r) {
    for (auto& f : waiting_) f.reply(pong{r.value});
    waiting_.clear();
  }

 private:
  std::vector<otter::from> waiting_;
};

// Calls `next` from inside its handler (a coroutine); the last of the chain answers.
class chain_link : public otter::gen_server<chain_link> {
 public:
  using calls = otter::msgs<ping>;
  explicit chain_link(otter::pid next) : next_(next) {}
  otter::task<pong> handle_call(const ping& p, otter::from&) {
    if (!next_) co_return pong{p.seq};
    auto r = co_await otter::call<pong>(next_, ping{p.seq + 1});
    if (!r) throw std::runtime_error("chain broken: " + r.err().message);
    co_return pong{r->seq};
  }

 private:
  otter::pid next_;
};

class self_caller : public otter::gen_server<self_caller> {
 public:
  using calls = otter::msgs<ping>;
  otter::task<pong> handle_call(const ping&, otter::from&) {
    auto r = co_await otter::call<pong>(otter::self(), ping{});
    co_return pong{r ? 0 : static_cast<std::int64_t>(r.code())};
  }
};

struct init_args {
  bool fail = false;
  bool throws = false;
  otter::pid link_to;
  otter::pid monitor;
  otter::pid* child = nullptr;  // start_link a recorder and store its Pid here
};

std::atomic<int> picky_inits{0};

class picky_init : public otter::gen_server<picky_init> {
 public:
  explicit picky_init(init_args a) : a_(a) {}
  otter::result<void> init() {
    picky_inits.fetch_add(1);
    if (a_.link_to) otter::link(a_.link_to);
    if (a_.monitor) otter::monitor(a_.monitor);
    if (a_.child != nullptr) {
      auto c = otter::start_link<recorder>();
      if (c) *a_.child = *c;
    }
    if (a_.throws) throw std::runtime_error("init exploded");
    if (a_.fail) return otter::error{errc::init_failed, "not today"};
    return otter::ok();
  }

 private:
  init_args a_;
};

std::atomic<int> terminated{0};
std::string last_terminate_reason;

class stoppable : public otter::gen_server<stoppable> {
 public:
  using casts = otter::msgs<add>;
  void handle_cast(const add&) { stop(otter::exit_reason("asked_to")); }
  void terminate(const otter::exit_reason& r) {
    last_terminate_reason = r.str();
    terminated.fetch_add(1);
  }
};

struct big {
  std::vector<std::int64_t> data;
  MSGPACK_DEFINE(data);
};
OTTER_MESSAGE(big);
std::atomic<const std::int64_t*> seen_data{nullptr};

class address_taker : public otter::gen_server<address_taker> {
 public:
  using infos = otter::msgs<big>;
  void handle_info(const big& b) { seen_data = b.data.data(); }
};

}  // namespace

TEST_CASE("start returns the pid after init, and call gets the reply") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  REQUIRE(srv);
  CHECK(rt.is_local(*srv));
  otter::scoped_process me(rt);
  auto r = me.await(otter::call<pong>(*srv, ping{41}));
  REQUIRE(r);
  CHECK(r->seq == 41);
}

TEST_CASE("a call of an unknown type fails with badarg and the server keeps running") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  otter::scoped_process me(rt);
  auto bad = me.await(otter::call<pong>(*srv, add{1, 0}));
  REQUIRE_FALSE(bad);
  CHECK(bad.code() == errc::badarg);
  CHECK(me.await(otter::call<pong>(*srv, ping{1})));
}

TEST_CASE("a reply of the wrong type is a badarg error, not a crash") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  otter::scoped_process me(rt);
  auto r = me.await(otter::call<log_reply>(*srv, ping{1}));
  REQUIRE_FALSE(r);
  CHECK(r.code() == errc::badarg);
}

TEST_CASE("messages from one sender arrive in the order sent") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  otter::scoped_process me(rt);
  constexpr int n = 100000;
  for (int i = 0; i < n; ++i) REQUIRE(me.cast(*srv, add{i, 0}));
  auto log = me.await(otter::call<log_reply>(*srv, get_log{}, 30s));
  REQUIRE(log);
  REQUIRE(log->values.size() == n);
  for (int i = 0; i < n; ++i) REQUIRE(log->values[i] == i);
}

TEST_CASE("casts and sends from many senders keep each sender's order") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  constexpr int senders = 4, per = 5000;
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      otter::scoped_process me(rt);
      for (int i = 0; i < per; ++i) {
        if (i % 2) {
          (void)me.cast(*srv, add{i, s});
        } else {
          (void)me.send(*srv, add{i, s});
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  otter::scoped_process me(rt);
  auto log = me.await(otter::call<log_reply>(*srv, get_log{}, 30s));
  REQUIRE(log);
  REQUIRE(log->values.size() == senders * per);
  std::vector<std::int64_t> next(senders, 0);
  for (std::size_t k = 0; k < log->values.size(); ++k) {
    auto s = log->senders[k];
    REQUIRE(log->values[k] == next[s]);
    ++next[s];
  }
}

TEST_CASE("a call times out, and the late reply is discarded, never delivered") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  otter::scoped_process me(rt);
  auto r = me.await(otter::call<pong>(*srv, sleep_for{300}, 50ms));
  REQUIRE_FALSE(r);
  CHECK(r.code() == errc::timeout);
  // The server is fine and answers the next call with its own reply, not the late one.
  auto next = me.await(otter::call<pong>(*srv, ping{7}));
  REQUIRE(next);
  CHECK(next->seq == 7);
  CHECK_FALSE(me.receive<pong>(100ms));
}

TEST_CASE("a call timeout inside a handler fires and the late reply is discarded") {
  otter::runtime rt(two_workers());
  auto slow = rt.start<recorder>();
  struct impatient : otter::gen_server<impatient> {
    using calls = otter::msgs<ping>;
    otter::pid slow;
    explicit impatient(otter::pid s) : slow(s) {}
    otter::task<pong> handle_call(const ping&, otter::from&) {
      auto r = co_await otter::call<pong>(slow, sleep_for{300}, 50ms);
      if (r) co_return pong{-1};
      auto again = co_await otter::call<pong>(slow, ping{5});  // must not see the late reply
      co_return pong{r.code() == errc::timeout && again && again->seq == 5 ? 1 : -2};
    }
  };
  auto srv = rt.start<impatient>(*slow);
  otter::scoped_process me(rt);
  auto r = me.await(otter::call<pong>(*srv, ping{}));
  REQUIRE(r);
  CHECK(r->seq == 1);
}

TEST_CASE("a deferred reply answers callers later, from another handler") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<deferred>();
  std::vector<std::thread> callers;
  std::atomic<int> answered{0};
  for (int i = 0; i < 3; ++i) {
    callers.emplace_back([&] {
      otter::scoped_process me(rt);
      auto r = me.await(otter::call<pong>(*srv, hold{}));
      if (r && r->seq == 99) answered.fetch_add(1);
    });
  }
  otter::scoped_process me(rt);
  REQUIRE(eventually([&] {
    auto n = me.await(otter::call<log_reply>(*srv, get_log{}));
    return n && n->values.at(0) == 3;
  }));
  CHECK(answered.load() == 0);
  REQUIRE(me.cast(*srv, release_all{99}));
  for (auto& t : callers) t.join();
  CHECK(answered.load() == 3);
}

TEST_CASE("a process calling itself gets calling_self at once") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<self_caller>();
  otter::scoped_process me(rt);
  auto r = me.await(otter::call<pong>(*srv, ping{}));
  REQUIRE(r);
  CHECK(r->seq == static_cast<std::int64_t>(errc::calling_self));
  auto own = me.await(otter::call<pong>(me.self(), ping{}));
  CHECK(own.code() == errc::calling_self);
}

TEST_CASE("calls to dead or unknown targets fail with noproc naming the target") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  auto unknown = me.await(otter::call<pong>("nobody", ping{}));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.code() == errc::noproc);
  CHECK(unknown.err().message.find("'nobody'") != std::string::npos);

  auto srv = rt.start<recorder>();
  REQUIRE(me.await(otter::stop(*srv)));
  auto dead = me.await(otter::call<pong>(*srv, ping{}));
  CHECK(dead.code() == errc::noproc);
  CHECK(me.send(*srv, ping{}).code() == errc::noproc);  // dropped, as in Erlang
  otter::pid never{rt.node_id(), 999999999, rt.creation()};
  CHECK(me.await(otter::call<pong>(never, ping{})).code() == errc::noproc);
}

TEST_CASE("a server that dies mid-call gives the caller its exit reason") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  otter::scoped_process me(rt);
  auto r = me.await(otter::call<pong>(*srv, crash{"boom"}));
  REQUIRE_FALSE(r);
  CHECK(r.code() == errc::exited);
  CHECK(r.err().reason == otter::exit_reason("boom"));
  CHECK_FALSE(rt.alive(*srv));
}

TEST_CASE("calls queued behind a crash fail with the crash's reason") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  otter::scoped_process blocker(rt);
  (void)blocker.cast(*srv, crash{"queued_crash"});
  std::vector<std::thread> callers;
  std::atomic<int> exited_with_reason{0}, noproc{0};
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&] {
      otter::scoped_process me(rt);
      auto r = me.await(otter::call<pong>(*srv, ping{}));
      if (r.code() == errc::exited && r.err().reason.str() == "queued_crash") ++exited_with_reason;
      if (r.code() == errc::noproc) ++noproc;
    });
  }
  for (auto& t : callers) t.join();
  CHECK(exited_with_reason + noproc == 4);
}

TEST_CASE("a failed init returns the error and exits like any process (OTP's init_fail)") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  const auto before = rt.process_count();
  for (bool throws : {false, true}) {
    INFO("init " << (throws ? "throws" : "returns an error"));
    otter::pid child;
    init_args a;
    a.fail = !throws;
    a.throws = throws;
    a.link_to = me.self();
    a.child = &child;
    otter::start_options o;
    o.name = "picky";
    auto r = rt.start_with<picky_init>(o, a);
    REQUIRE_FALSE(r);
    CHECK(r.code() == errc::init_failed);
    const std::string why = throws ? "init exploded" : "not today";
    CHECK(r.err().message == why);
    CHECK(r.err().reason.str() == why);
    CHECK_FALSE(rt.whereis("picky"));
    // What it linked to gets the exit signal: we (trapping) an exit_msg with the reason ...
    auto x = me.receive<otter::exit_msg>(5s);
    REQUIRE(x);
    CHECK(x->reason.str() == why);
    // ... and the child it started linked, not trapping, exits with it.
    REQUIRE(child);
    auto ref = me.monitor(child);
    auto d = me.receive<otter::down>(5s);
    REQUIRE(d);
    CHECK(d->ref == ref);
    CHECK(d->reason.str() != "normal");
    CHECK_FALSE(rt.alive(child));
  }
  CHECK(rt.process_count() == before);
  // A successful start with the same name works.
  otter::start_options o;
  o.name = "picky";
  CHECK(rt.start_with<picky_init>(o, init_args{}));
  CHECK(rt.whereis("picky"));
}

TEST_CASE("a named start whose name is taken never runs init (OTP registers first)") {
  otter::runtime rt(two_workers());
  otter::start_options o;
  o.name = "taken";
  auto first = rt.start_with<picky_init>(o, init_args{});
  REQUIRE(first);
  picky_inits = 0;
  otter::scoped_process me(rt);
  otter::pid child;
  init_args a;
  a.child = &child;
  auto second = rt.start_with<picky_init>(o, a);
  REQUIRE_FALSE(second);
  CHECK(second.code() == errc::already_registered);
  CHECK(second.err().holder == *first);
  CHECK(picky_inits == 0);
  CHECK_FALSE(child);  // its init would have started one
  CHECK(rt.whereis("taken") == *first);
}

TEST_CASE("stop runs terminate with the reason and returns once the server is gone") {
  otter::runtime rt(two_workers());
  terminated = 0;
  auto srv = rt.start<stoppable>();
  otter::scoped_process me(rt);
  auto ref = me.monitor(*srv);
  REQUIRE(me.await(otter::stop(*srv, otter::exit_reason("done"))));
  CHECK(terminated == 1);
  CHECK(last_terminate_reason == "done");
  CHECK_FALSE(rt.alive(*srv));
  auto d = me.receive<otter::down>();
  REQUIRE(d);
  CHECK(d->ref == ref);
  CHECK(d->reason.str() == "done");
  CHECK(me.await(otter::stop(*srv)).code() == errc::noproc);
}

TEST_CASE("a server can stop itself from a handler, running terminate") {
  otter::runtime rt(two_workers());
  terminated = 0;
  auto srv = rt.start<stoppable>();
  otter::scoped_process me(rt);
  me.monitor(*srv);
  (void)me.cast(*srv, add{});
  auto d = me.receive<otter::down>();
  REQUIRE(d);
  CHECK(d->reason.str() == "asked_to");
  CHECK(terminated == 1);
}

TEST_CASE("a throwing handler ends its process with the message, the node stays up") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<recorder>();
  auto other = rt.start<recorder>();
  otter::scoped_process me(rt);
  me.monitor(*srv);
  me.link(*srv);
  (void)me.cast(*srv, crash{"handler threw"});
  auto d = me.receive<otter::down>();
  REQUIRE(d);
  CHECK(d->reason.str() == "handler threw");
  auto x = me.receive<otter::exit_msg>();
  REQUIRE(x);
  CHECK(x->from == *srv);
  CHECK(x->reason.str() == "handler threw");
  CHECK(me.await(otter::call<pong>(*other, ping{3})));
}

TEST_CASE("a chain of 10,000 servers each calling the next completes on 2 threads") {
  otter::runtime rt(two_workers());
  otter::pid next;
  for (int i = 0; i < 10000; ++i) {
    auto p = rt.start<chain_link>(next);
    REQUIRE(p);
    next = *p;
  }
  otter::scoped_process me(rt);
  auto r = me.await(otter::call<pong>(next, ping{0}, 60s));
  REQUIRE(r);
  CHECK(r->seq == 9999);
  // And again, concurrently from two callers (Catch's assertions stay on this thread).
  std::atomic<std::int64_t> other_seq{-1};
  std::thread t([&] {
    otter::scoped_process other(rt);
    auto r = other.await(otter::call<pong>(next, ping{1}, 60s));
    other_seq = r ? r->seq : -2;
  });
  CHECK(me.await(otter::call<pong>(next, ping{2}, 60s))->seq == 10001);
  t.join();
  CHECK(other_seq == 10000);
}

TEST_CASE("local messages are moved into the mailbox, not copied or serialised") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<address_taker>();
  otter::scoped_process me(rt);
  big b;
  b.data.assign(1000, 7);
  const std::int64_t* original = b.data.data();
  REQUIRE(me.send(*srv, std::move(b)));
  REQUIRE(eventually([&] { return seen_data.load() != nullptr; }));
  CHECK(seen_data.load() == original);
}

TEST_CASE("100,000 servers started and stopped leave nothing behind") {
  otter::runtime rt(two_workers());
  otter::scoped_process me(rt);
  const auto base = rt.process_count();
  std::vector<otter::pid> pids;
  pids.reserve(100000);
  for (int i = 0; i < 100000; ++i) {
    auto p = rt.start<recorder>();
    REQUIRE(p);
    pids.push_back(*p);
  }
  CHECK(rt.process_count() == base + 100000);
  for (auto& p : pids) REQUIRE(rt.exit(p, otter::exit_reason::kill()));
  REQUIRE(eventually([&] { return rt.process_count() == base; }, 60s));
  for (std::size_t i = 0; i < pids.size(); i += 997) CHECK_FALSE(rt.alive(pids[i]));
}

TEST_CASE("callers parked in a server's state get its exit reason when it crashes") {
  otter::runtime rt(two_workers());
  auto srv = rt.start<deferred>();
  std::atomic<int> got_reason{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 2; ++i) {
    callers.emplace_back([&] {
      otter::scoped_process me(rt);
      auto r = me.await(otter::call<pong>(*srv, hold{}, 30s));
      if (r.code() == errc::exited && r.err().reason.str() == "killed") ++got_reason;
    });
  }
  otter::scoped_process me(rt);
  REQUIRE(eventually([&] {
    auto n = me.await(otter::call<log_reply>(*srv, get_log{}));
    return n && n->values.at(0) == 2;
  }));
  me.exit(*srv, otter::exit_reason::kill());
  for (auto& t : callers) t.join();
  CHECK(got_reason == 2);
}
