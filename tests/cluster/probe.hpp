// The server the cluster tests talk to, in test nodes and in the test process alike.
#pragma once

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <otter/global.hpp>
#include <otter/node.hpp>
#include <otter/pg.hpp>

#include "test_hooks.hpp"

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

// Global registry: register a new probe (or this one, `self`) as `name`; the answer names the
// registered Pid, or the holder that won. The new probe is monitored: its DOWN is an event.
struct reg_global {
  std::string name;
  bool self = false;
  std::uint8_t policy = 0;
  MSGPACK_DEFINE(name, self, policy);
};
OTTER_MESSAGE(reg_global);
struct reg_result {
  bool ok = false;
  std::int32_t code = 0;
  otter::pid holder;
  MSGPACK_DEFINE(ok, code, holder);
};
OTTER_MESSAGE(reg_result);
struct unreg_global {
  std::string name;
  MSGPACK_DEFINE(name);
};
OTTER_MESSAGE(unreg_global);
// whereis_global on the probe's node (nil Pid: none).
struct where_global {
  std::string name;
  MSGPACK_DEFINE(name);
};
OTTER_MESSAGE(where_global);
struct where_reply {
  otter::pid holder;
  MSGPACK_DEFINE(holder);
};
OTTER_MESSAGE(where_reply);
// test_hooks::set_blocked on the probe's node (a partition in a test).
struct block_node {
  std::string node;
  bool blocked = true;
  MSGPACK_DEFINE(node, blocked);
};
OTTER_MESSAGE(block_node);

// Starts `count` probes on the probe's node and joins them to `group` (pg, default scope).
struct enlist {
  std::string group;
  std::int64_t count = 1;
  MSGPACK_DEFINE(group, count);
};
OTTER_MESSAGE(enlist);
struct pid_list {
  std::vector<otter::pid> pids;
  std::int32_t code = 0;  // otter::errc of a failed join
  MSGPACK_DEFINE(pids, code);
};
OTTER_MESSAGE(pid_list);

class probe : public otter::gen_server<probe> {
 public:
  using calls = otter::msgs<ping, get_log, nap, crash, relay, watch, events_q, reg_global,
                            unreg_global, where_global, block_node, enlist>;
  using casts = otter::msgs<add, crash, nap>;
  using infos = otter::msgs<add, otter::name_conflict>;

  explicit probe(std::string node, otter::node* n = nullptr) : node_(std::move(node)), n_(n) {}

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
  otter::task<reg_result> handle_call(const reg_global& g, otter::from&) {
    otter::pid target = otter::self();
    if (!g.self) {
      auto w = otter::start<probe>(node_);
      if (!w) co_return reg_result{false, static_cast<std::int32_t>(w.code()), {}};
      target = *w;
      otter::monitor(target);
    }
    otter::register_options o;
    o.on_conflict = static_cast<otter::conflict_policy>(g.policy);
    auto r = co_await otter::register_global(g.name, target, o);
    if (!r) co_return reg_result{false, static_cast<std::int32_t>(r.code()), r.err().holder};
    co_return reg_result{true, 0, target};
  }
  otter::task<reg_result> handle_call(const unreg_global& u, otter::from&) {
    auto r = co_await otter::unregister_global(u.name);
    co_return reg_result{r.ok(), r ? 0 : static_cast<std::int32_t>(r.code()), {}};
  }
  where_reply handle_call(const where_global& w, otter::from&) {
    return where_reply{otter::whereis_global(w.name).value_or(otter::pid{})};
  }
  otter::ok_reply handle_call(const block_node& b, otter::from&) {
    if (n_ != nullptr) otter::test_hooks::set_blocked(*n_, b.node, b.blocked);
    return {};
  }
  otter::task<pid_list> handle_call(const enlist& e, otter::from&) {
    pid_list out;
    for (std::int64_t i = 0; i < e.count; ++i) {
      auto w = otter::start<probe>(node_);
      if (w) out.pids.push_back(*w);
    }
    auto r = co_await otter::pg::join(e.group, out.pids);
    if (!r) out.code = static_cast<std::int32_t>(r.code());
    co_return out;
  }
  void handle_info(const otter::name_conflict& c) {
    events_.items.push_back("CONFLICT " + c.name + " " + otter::to_string(c.winner));
  }
  void handle_cast(const add& a) { log_.values.push_back(a.value); }
  void handle_cast(const crash& c) { throw std::runtime_error(c.why); }
  void handle_cast(const nap& n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(n.ms));
    log_.values.push_back(n.ms);
  }
  void handle_info(const add& a) { log_.values.push_back(a.value); }
  void handle_info(const otter::down& d) { events_.items.push_back("DOWN " + d.reason.str()); }
  void handle_info(const otter::exit_msg& x) { events_.items.push_back("EXIT " + x.reason.str()); }
  // What otter::get_state and `otterctl state` show: the values it was sent.
  const std::vector<std::int64_t>& state() const { return log_.values; }

 private:
  std::string node_;
  otter::node* n_ = nullptr;
  log_reply log_;
  events events_;
};

}  // namespace cluster_test
