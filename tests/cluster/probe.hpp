// The server the cluster tests talk to, in test nodes and in the test process alike.
#pragma once

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <otter/node.hpp>

namespace cluster_test {

using namespace std::chrono_literals;

struct ping {
  std::int64_t seq = 0;
  MSGPACK_DEFINE(seq);
};
OTTER_MESSAGE(ping);
struct pong {
  std::int64_t seq = 0;
  std::string node;
  MSGPACK_DEFINE(seq, node);
};
OTTER_MESSAGE(pong);
struct add {
  std::int64_t value = 0;
  MSGPACK_DEFINE(value);
};
OTTER_MESSAGE(add);
struct get_log {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(get_log);
struct log_reply {
  std::vector<std::int64_t> values;
  MSGPACK_DEFINE(values);
};
OTTER_MESSAGE(log_reply);
struct nap {
  std::int64_t ms = 0;
  MSGPACK_DEFINE(ms);
};
OTTER_MESSAGE(nap);
struct crash {
  std::string why;
  MSGPACK_DEFINE(why);
};
OTTER_MESSAGE(crash);
// Asks the probe to call `target` (a Pid it got in this message) and relay the answer.
struct relay {
  otter::pid target;
  std::int64_t seq = 0;
  MSGPACK_DEFINE(target, seq);
};
OTTER_MESSAGE(relay);
struct watch {
  otter::pid target;
  MSGPACK_DEFINE(target);
};
OTTER_MESSAGE(watch);
struct events_q {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(events_q);
struct events {
  std::vector<std::string> items;
  MSGPACK_DEFINE(items);
};
OTTER_MESSAGE(events);

class probe : public otter::gen_server<probe> {
 public:
  using calls = otter::msgs<ping, get_log, nap, crash, relay, watch, events_q>;
  using casts = otter::msgs<add, crash>;
  using infos = otter::msgs<add>;

  explicit probe(std::string node) : node_(std::move(node)) {}

  void init() { otter::trap_exit(false); }
  pong handle_call(const ping& p, otter::from&) { return pong{p.seq, node_}; }
  log_reply handle_call(const get_log&, otter::from&) { return log_; }
  pong handle_call(const nap& n, otter::from&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(n.ms));
    return pong{n.ms, node_};
  }
  pong handle_call(const crash& c, otter::from&) { throw std::runtime_error(c.why); }
  otter::task<pong> handle_call(const relay& r, otter::from&) {
    auto answer = co_await otter::call<pong>(r.target, ping{r.seq});
    if (!answer) throw std::runtime_error("relay failed: " + answer.err().message);
    co_return *answer;
  }
  otter::ok_reply handle_call(const watch& w, otter::from&) {
    otter::monitor(w.target);
    otter::link(w.target);
    otter::trap_exit(true);
    return {};
  }
  events handle_call(const events_q&, otter::from&) { return events_; }
  void handle_cast(const add& a) { log_.values.push_back(a.value); }
  void handle_cast(const crash& c) { throw std::runtime_error(c.why); }
  void handle_info(const add& a) { log_.values.push_back(a.value); }
  void handle_info(const otter::down& d) { events_.items.push_back("DOWN " + d.reason.str()); }
  void handle_info(const otter::exit_msg& x) { events_.items.push_back("EXIT " + x.reason.str()); }

 private:
  std::string node_;
  log_reply log_;
  events events_;
};

}  // namespace cluster_test
