// The `net` group: remote call round trip and cast throughput between two node processes on
// loopback, plaintext and with CURVE, beside raw cppzmq doing the same (DEALER->ROUTER echo,
// PUSH->PULL) in the same run; plaintext also a 64 KiB round trip (beside raw ZeroMQ's) and
// 100 callers calling one remote server at once (bench/README.md; Erlang's counterparts come
// from bench/erlang/remote_bench.erl, bench/remote_baseline.sh runs both). otter-bench starts its
// peer processes itself (hidden modes `net-peer`, `zmq-echo`, `zmq-pull`).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <otter/node.hpp>
#include <otter/secret.hpp>
#include <zmq.hpp>

#include "bench.hpp"
#include "raw_zmq.hpp"

namespace otter_bench {
namespace net_group {

using namespace std::chrono_literals;

struct req {
  std::string tag;
  std::int64_t seq = 0;
  std::string body;
  MSGPACK_DEFINE(tag, seq, body);
};
OTTER_MESSAGE(req);
struct count_q {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(count_q);
struct count_r {
  std::int64_t n = 0;
  MSGPACK_DEFINE(n);
};
OTTER_MESSAGE(count_r);

// The remote server: echoes calls, counts casts.
class echo_srv : public otter::gen_server<echo_srv> {
 public:
  using calls = otter::msgs<req, count_q>;
  using casts = otter::msgs<req>;
  req handle_call(const req& r, otter::from&) { return r; }
  count_r handle_call(const count_q&, otter::from&) { return {n_}; }
  void handle_cast(const req&) { ++n_; }

 private:
  std::int64_t n_ = 0;
};

struct call_run {
  otter::pid target;
  std::int64_t millis = 0;
  std::int64_t body = 80;  // bytes of the request's body (the reply echoes it)
  MSGPACK_DEFINE(target, millis, body);
};
OTTER_MESSAGE(call_run);
// Calls in a loop for `millis`, without timing each call (many callers at once).
struct burst_run {
  otter::pid target;
  std::int64_t millis = 0;
  MSGPACK_DEFINE(target, millis);
};
OTTER_MESSAGE(burst_run);
struct cast_run {
  otter::pid target;
  std::int64_t n = 0;
  MSGPACK_DEFINE(target, n);
};
OTTER_MESSAGE(cast_run);
struct samples {
  std::vector<double> us;
  double seconds = 0;
  std::int64_t ops = 0;
  MSGPACK_DEFINE(us, seconds, ops);
};
OTTER_MESSAGE(samples);

req payload(std::int64_t seq, std::int64_t body = 80) {
  return req{"bench", seq, std::string(static_cast<std::size_t>(body), 'x')};
}

class driver : public otter::gen_server<driver> {
 public:
  using calls = otter::msgs<call_run, cast_run, burst_run>;
  otter::task<samples> handle_call(const call_run& c, otter::from&) {
    const int warm = c.body > 1024 ? 200 : 2000;
    for (int i = 0; i < warm; ++i) (void)co_await otter::call<req>(c.target, payload(i, c.body));
    samples s;
    const auto t0 = clock::now();
    const auto until = t0 + std::chrono::milliseconds(c.millis);
    while (clock::now() < until) {
      const auto a = clock::now();
      auto r = co_await otter::call<req>(c.target, payload(s.ops, c.body));
      if (!r) throw std::runtime_error("remote call failed: " + r.err().message);
      s.us.push_back(std::chrono::duration<double, std::micro>(clock::now() - a).count());
      ++s.ops;
    }
    s.seconds = seconds_since(t0);
    co_return s;
  }
  otter::task<samples> handle_call(const burst_run& b, otter::from&) {
    samples s;
    const auto t0 = clock::now();
    const auto until = t0 + std::chrono::milliseconds(b.millis);
    while (clock::now() < until) {
      auto r = co_await otter::call<req>(b.target, payload(s.ops), 60s);
      if (!r) throw std::runtime_error("remote call failed: " + r.err().message);
      ++s.ops;
    }
    s.seconds = seconds_since(t0);
    co_return s;
  }
  otter::task<samples> handle_call(const cast_run& c, otter::from&) {
    auto base = co_await otter::call<count_r>(c.target, count_q{}, 60s);
    const auto t0 = clock::now();
    for (std::int64_t i = 0; i < c.n; ++i) otter::cast(c.target, payload(i));
    auto r = co_await otter::call<count_r>(c.target, count_q{}, 120s);
    if (!r || !base || r->n - base->n != c.n) {
      throw std::runtime_error("casts lost: " + std::to_string(r ? r->n : -1) + " of " +
                               std::to_string(c.n) + (r ? "" : " " + r.err().message));
    }
    samples s;
    s.seconds = seconds_since(t0);
    s.ops = c.n;
    co_return s;
  }
};

// A child process running `argv`, its stdout readable line by line; killed when dropped.
class peer_process {
 public:
  explicit peer_process(std::vector<std::string> argv) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv("/proc/self/exe", args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
  }
  ~peer_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_) std::fclose(out_);
  }
  std::string line() {
    char buf[512];
    if (!std::fgets(buf, sizeof buf, out_)) throw std::runtime_error("peer process died");
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

struct figures {
  double call_us = 0, call_p99_us = 0, call_p999_us = 0, cast_per_s = 0;
  double call_64k_us = 0, concurrent_per_s = 0;  // plaintext only
};

constexpr int concurrent_callers = 100;

// `callers` each call `target` in a loop for `millis` at once; the calls of all per second.
otter::task<double> concurrent(std::vector<otter::pid> callers, otter::pid target,
                               std::int64_t millis) {
  std::vector<otter::request_id<samples>> ids;
  for (const auto& c : callers)
    ids.push_back(otter::send_request<samples>(c, burst_run{target, millis}));
  std::int64_t ops = 0;
  double seconds = 0;
  for (auto& id : ids) {
    auto r = co_await otter::receive_response(id, 120s);
    if (!r) throw std::runtime_error("a concurrent caller failed: " + r.err().message);
    ops += r->ops;
    seconds = std::max(seconds, r->seconds);
  }
  co_return static_cast<double>(ops) / seconds;
}

figures measure_otter(const std::string& secret, bool curve) {
  std::vector<std::string> argv = {"otter-bench", "net-peer", secret};
  if (!curve) argv.push_back("--insecure");
  peer_process server(argv);
  std::istringstream ready(server.line());
  std::string word, ep, pid_text;
  ready >> word >> ep >> pid_text;
  auto target = otter::parse_pid(pid_text);
  if (word != "READY" || !target)
    throw std::runtime_error("net-peer did not start: " + ready.str());

  otter::node_options o;
  o.name = "bench-client";
  o.secret_file = secret;
  o.insecure = !curve;
  if (const char* w = std::getenv("OTTER_BENCH_WORKERS")) o.workers = unsigned(std::atoi(w));
  if (const char* b = std::getenv("OTTER_BENCH_BUSY_POLL_US")) {
    o.busy_poll = std::chrono::microseconds(std::atoi(b));
  }
  o.seeds = {ep};
  auto n = otter::node::start(o);
  if (!n) throw std::runtime_error(n.err().message);
  if (!(*n)->wait_for_nodes(1, 20s)) throw std::runtime_error("could not join net-peer");
  otter::scoped_process me((*n)->rt());
  auto drv = (*n)->rt().start<driver>();
  // OTTER_BENCH_PROFILE=calls or casts: only 2 s of calls or 600,000 casts (for profiling).
  const char* prof = std::getenv("OTTER_BENCH_PROFILE");
  const bool only_calls = prof != nullptr && std::string(prof) == "calls";
  const bool only_casts = prof != nullptr && std::string(prof) == "casts";
  auto calls = me.await(otter::call<samples>(*drv, call_run{*target, only_casts ? 1 : 2000}, 120s));
  if (!calls) throw std::runtime_error(calls.err().message);
  auto casts = me.await(otter::call<samples>(*drv,
                                             cast_run{*target, only_casts   ? 600000
                                                               : only_calls ? 1
                                                                            : 300000},
                                             300s));
  if (!casts) throw std::runtime_error(casts.err().message);
  figures f;
  if (!curve && prof == nullptr) {
    auto big = me.await(otter::call<samples>(*drv, call_run{*target, 1000, 64 * 1024}, 120s));
    if (!big) throw std::runtime_error(big.err().message);
    f.call_64k_us = big->seconds * 1e6 / static_cast<double>(big->ops);
    std::vector<otter::pid> callers;
    for (int i = 0; i < concurrent_callers; ++i) {
      auto c = (*n)->rt().start<driver>();
      if (!c) throw std::runtime_error(c.err().message);
      callers.push_back(*c);
    }
    (void)me.await(concurrent(callers, *target, 300));  // warm-up
    f.concurrent_per_s = me.await(concurrent(callers, *target, 2000));
  }
  if (std::getenv("OTTER_BENCH_DEBUG")) {
    auto st = (*n)->stats();
    std::fprintf(stderr, "client: frames_out %llu envelopes_out %llu frames_in %llu env_in %llu\n",
                 (unsigned long long)st.frames_out, (unsigned long long)st.envelopes_out,
                 (unsigned long long)st.frames_in, (unsigned long long)st.envelopes_in);
  }
  f.call_us = calls->seconds * 1e6 / static_cast<double>(calls->ops);
  std::sort(calls->us.begin(), calls->us.end());
  f.call_p99_us = calls->us[calls->us.size() * 99 / 100];
  f.call_p999_us = calls->us[calls->us.size() * 999 / 1000];
  f.cast_per_s = static_cast<double>(casts->ops) / casts->seconds;
  return f;
}

// ---- raw cppzmq baselines ----

std::array<std::uint8_t, 32> test_key(char c) {
  std::array<std::uint8_t, 32> k{};
  k.fill(static_cast<std::uint8_t>(c));
  return k;
}

// Fixed CURVE key pairs for the raw baseline (both of its processes derive the same ones).
struct curve_pair {
  char public_key[41];
  char secret_key[41];
};
curve_pair curve_keys(char seed) {
  curve_pair p{};
  const std::array<std::uint8_t, 32> secret = test_key(seed);
  zmq_z85_encode(p.secret_key, secret.data(), secret.size());
  zmq_curve_public(p.public_key, p.secret_key);
  return p;
}

void curve_server(zmq::socket_t& s) {
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, curve_keys('s').secret_key);
}
void curve_client(zmq::socket_t& s) {
  const curve_pair client = curve_keys('c');
  s.set(zmq::sockopt::curve_serverkey, curve_keys('s').public_key);
  s.set(zmq::sockopt::curve_publickey, client.public_key);
  s.set(zmq::sockopt::curve_secretkey, client.secret_key);
}

std::string packed(std::int64_t seq, std::int64_t body) {
  msgpack::sbuffer b;
  msgpack::pack(b, payload(seq, body));
  return std::string(b.data(), b.size());
}

double raw_rtt_us(bool curve, std::int64_t body = 80) {
  std::vector<std::string> argv = {"otter-bench", "zmq-echo"};
  if (curve) argv.push_back("--curve");
  peer_process server(argv);
  const std::string ep = server.line();
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  if (curve) curve_client(s);
  s.connect(ep);
  auto round = [&](std::int64_t i) {
    const std::string m = packed(i, body);
    s.send(zmq::buffer(m), zmq::send_flags::none);
    zmq::message_t r;
    (void)s.recv(r);
    auto oh = msgpack::unpack(static_cast<const char*>(r.data()), r.size());
    if (oh.get().as<req>().seq != i) throw std::runtime_error("echo mismatch");
  };
  for (int i = 0, warm = body > 1024 ? 200 : 2000; i < warm; ++i) round(i);
  const auto t0 = clock::now();
  std::int64_t n = 0;
  while (clock::now() - t0 < (body > 1024 ? 1s : 2s)) round(n++);
  return seconds_since(t0) * 1e6 / static_cast<double>(n);
}

double raw_push_per_s(bool curve) {
  std::vector<std::string> argv = {"otter-bench", "zmq-pull"};
  if (curve) argv.push_back("--curve");
  peer_process receiver(argv);
  const std::string ep = receiver.line();
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::push);
  s.set(zmq::sockopt::linger, 5000);
  if (curve) curve_client(s);
  s.connect(ep);
  const std::string m = packed(1);
  const auto t0 = clock::now();
  std::int64_t n = 0;
  while (clock::now() - t0 < 2s) {
    for (int k = 0; k < 1000; ++k) s.send(zmq::buffer(m), zmq::send_flags::none);
    n += 1000;
  }
  s.send(zmq::str_buffer("END"), zmq::send_flags::none);
  std::istringstream res(receiver.line());
  double count = 0, secs = 0;
  res >> count >> secs;
  if (count != static_cast<double>(n)) throw std::runtime_error("push lost messages");
  return count / secs;
}

}  // namespace net_group

int run_net_peer(int argc, char** argv) {
  using namespace net_group;
  otter::node_options o;
  o.name = "bench-server";
  o.secret_file = argc > 2 ? argv[2] : "";
  o.insecure = argc > 3 && std::string(argv[3]) == "--insecure";
  if (const char* w = std::getenv("OTTER_BENCH_WORKERS")) o.workers = unsigned(std::atoi(w));
  if (const char* b = std::getenv("OTTER_BENCH_BUSY_POLL_US")) {
    o.busy_poll = std::chrono::microseconds(std::atoi(b));
  }
  auto n = otter::node::start(o);
  if (!n) {
    std::fprintf(stderr, "net-peer: %s\n", n.err().message.c_str());
    return 1;
  }
  auto srv = (*n)->rt().start<echo_srv>();
  std::printf("READY %s %s\n", (*n)->endpoint().c_str(), otter::to_string(*srv).c_str());
  std::fflush(stdout);
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  ::pause();
  return 0;
}

int run_zmq_peer(int argc, char** argv) {
  using namespace net_group;
  const bool curve = argc > 2 && std::string(argv[2]) == "--curve";
  const bool echo = std::string(argv[1]) == "zmq-echo";
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, echo ? zmq::socket_type::router : zmq::socket_type::pull);
  s.set(zmq::sockopt::linger, 0);
  if (curve) curve_server(s);
  s.bind("tcp://127.0.0.1:0");
  std::printf("%s\n", s.get(zmq::sockopt::last_endpoint).c_str());
  std::fflush(stdout);
  if (echo) {
    for (;;) {
      zmq::message_t id, body;
      if (!s.recv(id) || !s.recv(body)) return 0;
      auto oh = msgpack::unpack(static_cast<const char*>(body.data()), body.size());
      req r = oh.get().as<req>();
      msgpack::sbuffer out;
      msgpack::pack(out, r);
      s.send(id, zmq::send_flags::sndmore);
      s.send(zmq::buffer(out.data(), out.size()), zmq::send_flags::none);
    }
  }
  std::int64_t n = 0;
  clock::time_point t0{};
  for (;;) {
    zmq::message_t m;
    if (!s.recv(m)) return 1;
    if (m.size() == 3 && std::memcmp(m.data(), "END", 3) == 0) break;
    if (n == 0) t0 = clock::now();
    auto oh = msgpack::unpack(static_cast<const char*>(m.data()), m.size());
    (void)oh.get().as<req>();
    ++n;
  }
  std::printf("%lld %.9f\n", static_cast<long long>(n), seconds_since(t0));
  std::fflush(stdout);
  return 0;
}

int run_net(std::string_view only) {
  using namespace net_group;
  auto want = [&](std::string_view name) { return only.empty() || name.find(only) != name.npos; };
  try {
    char tmpl[] = "/tmp/otter-bench-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const std::string secret = dir + "/secret";
    if (auto s = otter::load_or_create_secret(secret); !s)
      throw std::runtime_error(s.err().message);
    if (want("raw_zmq_rtt_us")) report("raw_zmq_rtt_us", raw_rtt_us(false), "us");
    if (want("raw_zmq_push_per_s")) report("raw_zmq_push_per_s", raw_push_per_s(false), "msgs/s");
    if (want("raw_zmq_rtt_64k_us"))
      report("raw_zmq_rtt_64k_us", raw_rtt_us(false, 64 * 1024), "us");
    if (want("otter_remote") && (only.empty() || only.find("curve") == only.npos)) {
      auto f = measure_otter(secret, false);
      report("otter_remote_call_us", f.call_us, "us");
      report("otter_remote_call_p99_us", f.call_p99_us, "us");
      report("otter_remote_call_p999_us", f.call_p999_us, "us");
      report("otter_remote_cast_per_s", f.cast_per_s, "msgs/s");
      report("otter_remote_call_64k_us", f.call_64k_us, "us");
      report("otter_remote_call_concurrent_per_s", f.concurrent_per_s, "calls/s");
    }
    if (want("raw_zmq_rtt_curve_us")) report("raw_zmq_rtt_curve_us", raw_rtt_us(true), "us");
    if (want("raw_zmq_push_curve_per_s")) {
      report("raw_zmq_push_curve_per_s", raw_push_per_s(true), "msgs/s");
    }
    if (want("otter_remote") && (only.empty() || only.find("curve") != only.npos)) {
      auto f = measure_otter(secret, true);
      report("otter_remote_call_curve_us", f.call_us, "us");
      report("otter_remote_call_curve_p99_us", f.call_p99_us, "us");
      report("otter_remote_cast_curve_per_s", f.cast_per_s, "msgs/s");
    }
    std::filesystem::remove_all(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "otter-bench net: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace otter_bench
