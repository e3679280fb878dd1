// Servers and messages shared by the core tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <otter/core.hpp>

namespace otter_test {

using namespace std::chrono_literals;

struct ping {
  std::int64_t seq = 0;
  MSGPACK_DEFINE(seq);
};
OTTER_MESSAGE(ping);

struct pong {
  std::int64_t seq = 0;
  MSGPACK_DEFINE(seq);
};
OTTER_MESSAGE(pong);

struct add {
  std::int64_t value = 0;
  std::int64_t sender = 0;
  MSGPACK_DEFINE(value, sender);
};
OTTER_MESSAGE(add);

struct get_log {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(get_log);

struct log_reply {
  std::vector<std::int64_t> values;
  std::vector<std::int64_t> senders;
  MSGPACK_DEFINE(values, senders);
};
OTTER_MESSAGE(log_reply);

struct crash {
  std::string why;
  MSGPACK_DEFINE(why);
};
OTTER_MESSAGE(crash);

struct sleep_for {
  std::int64_t ms = 0;
  MSGPACK_DEFINE(ms);
};
OTTER_MESSAGE(sleep_for);

// Records every cast and info it gets, replies to ping, throws on crash, blocks on sleep_for.
class recorder : public otter::gen_server<recorder> {
 public:
  using calls = otter::msgs<ping, get_log, crash, sleep_for>;
  using casts = otter::msgs<add, crash>;
  using infos = otter::msgs<add>;

  pong handle_call(const ping& p, otter::from&) { return pong{p.seq}; }
  log_reply handle_call(const get_log&, otter::from&) { return log_; }
  pong handle_call(const crash& c, otter::from&) { throw std::runtime_error(c.why); }
  pong handle_call(const sleep_for& s, otter::from&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(s.ms));
    return pong{s.ms};
  }
  void handle_cast(const add& a) {
    log_.values.push_back(a.value);
    log_.senders.push_back(a.sender);
  }
  void handle_cast(const crash& c) { throw std::runtime_error(c.why); }
  void handle_info(const add& a) { handle_cast(a); }

 private:
  log_reply log_;
};

// A runtime with two workers, as the core tests use.
inline otter::runtime_options two_workers() {
  otter::runtime_options o;
  o.workers = 2;
  return o;
}

// Polls `cond` until it holds or `limit` passes: for states no message announces.
template <class Cond>
bool eventually(Cond&& cond, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return cond();
}

}  // namespace otter_test
