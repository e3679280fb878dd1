// A raw ZeroMQ client (holding the secret, so CURVE lets it in) speaks to a real node: protocol
// violations are refused and logged; the node stays up and serves everyone else.
#include <catch2/catch.hpp>
#include <zmq.hpp>
#include "keys.hpp"
#include "wire.hpp"

#include "cluster_fixture.hpp"

using namespace cluster_test;

namespace {

struct raw_client {
  zmq::context_t ctx{1};
  zmq::socket_t sock{ctx, zmq::socket_type::dealer};
  otter::cluster_keys keys;
  std::string name;
  std::uint32_t creation = 77;

  raw_client(const scratch& s, const std::string& endpoint, std::string n,
             const std::string& connection = "#77")
      : name(std::move(n)) {
    keys = otter::derive_keys(*otter::load_or_create_secret(s.secret()));
    sock.set(zmq::sockopt::linger, 0);
    sock.set(zmq::sockopt::routing_id, name + connection);
    zmq_setsockopt(sock.handle(), ZMQ_CURVE_SERVERKEY, keys.server_public.data(), 32);
    zmq_setsockopt(sock.handle(), ZMQ_CURVE_PUBLICKEY, keys.client_public.data(), 32);
    zmq_setsockopt(sock.handle(), ZMQ_CURVE_SECRETKEY, keys.client_secret.data(), 32);
    sock.connect(endpoint);
  }
  void send(const std::string& bytes) { sock.send(zmq::buffer(bytes), zmq::send_flags::none); }
  void hello(std::uint32_t version, std::uint64_t session = 0) {
    otter::wire::hello h;
    h.version = version;
    h.session = session;
    h.name = name;
    h.creation = creation;
    h.hidden = true;
    h.proof = otter::keyed_proof(keys, otter::wire::proof_input(h));
    msgpack::sbuffer b;
    otter::wire::encode_hello(b, h);
    send(std::string(b.data(), b.size()));
  }
  // The next envelope received, or none within `ms`.
  std::optional<otter::wire::decoded> next(int ms = 5000) {
    std::vector<zmq::pollitem_t> items = {{sock.handle(), 0, ZMQ_POLLIN, 0}};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (zmq::poll(items, std::chrono::milliseconds(50)) <= 0) continue;
      zmq::message_t m;
      (void)sock.recv(m);
      auto r = otter::wire::decode_frame(static_cast<const char*>(m.data()), m.size());
      if (!r || r->empty()) continue;
      for (auto& d : *r) {
        if (d.k != otter::wire::kind::heartbeat) return std::move(d);
      }
    }
    return std::nullopt;
  }
  std::string call_bytes(const otter::pid& to, const otter::pid& from, std::uint64_t ref) {
    auto e =
        otter::detail::make_message(otter::detail::sig::call, ping{static_cast<std::int64_t>(ref)});
    e->from = from;
    e->ref = ref;
    msgpack::sbuffer b;
    otter::wire::encode_envelope(b, to, *e);
    return std::string(b.data(), b.size());
  }
};

}  // namespace

TEST_CASE("a peer speaking another protocol version is refused with the reason") {
  scratch s;
  auto a = spawn_node("raw-v", s);
  raw_client c(s, a->endpoint, "raw-tool");
  c.hello(99);
  auto r = c.next();
  REQUIRE(r);
  REQUIRE(r->k == otter::wire::kind::refuse);
  CHECK(r->refuse == otter::wire::refuse_code::version);
  CHECK_THAT(r->refuse_reason, Catch::Contains("protocol version 99 is not supported"));
}

TEST_CASE("junk, truncated frames, forged Pids and early messages leave the node serving") {
  scratch s;
  auto a = spawn_node("raw-j", s);
  auto me = local_node("raw-t", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  otter::scoped_process p(me->rt());

  // Before any handshake: a process envelope is refused, never delivered.
  {
    raw_client early(s, a->endpoint, "early");
    early.send(early.call_bytes(a->probe, otter::pid{otter::node_id_of("early"), 1, 77}, 1));
    auto r = early.next();
    REQUIRE(r);
    CHECK(r->k == otter::wire::kind::refuse);
    CHECK(r->refuse == otter::wire::refuse_code::handshake_required);
    CHECK_THAT(r->refuse_reason, Catch::Contains("send hello first"));
  }
  raw_client c(s, a->endpoint, "junk-tool");
  c.hello(otter::wire::protocol_version);
  auto w = c.next();
  REQUIRE(w);
  REQUIRE(w->k == otter::wire::kind::welcome);
  const otter::pid self{otter::node_id_of("junk-tool"), 1, 77};

  // A well-formed call from this peer's own Pid is answered.
  c.send(c.call_bytes(a->probe, self, 1));
  auto first = c.next();
  REQUIRE(first);
  CHECK(first->k == otter::wire::kind::reply);
  // Junk: the frame is dropped and logged, and the peer is disconnected.
  c.send(std::string("\xc1\xc1 this is not msgpack", 22));
  c.send(c.call_bytes(a->probe, self, 4));
  CHECK_FALSE(c.next(1500));
  // The same for a truncated frame, a megabyte of nesting and a forged sender.
  for (int k = 0; k < 3; ++k) {
    raw_client bad(s, a->endpoint, "bad-tool-" + std::to_string(k));
    bad.hello(otter::wire::protocol_version);
    REQUIRE(bad.next());
    const otter::pid bad_self{otter::node_id_of("bad-tool-" + std::to_string(k)), 1, 77};
    if (k == 0) bad.send(bad.call_bytes(a->probe, bad_self, 2).substr(0, 10));
    if (k == 1) bad.send(std::string(1 << 20, '\x91'));
    if (k == 2) bad.send(bad.call_bytes(a->probe, otter::pid{otter::node_id_of("raw-t"), 1, 1}, 3));
    bad.send(bad.call_bytes(a->probe, bad_self, 5));
    CHECK_FALSE(bad.next(1500));
  }
  // And the node keeps serving everyone else.
  auto r = p.await(otter::call<pong>(a->probe, ping{5}));
  REQUIRE(r);
  CHECK(r->seq == 5);
}

TEST_CASE("a frame over the size limit is refused and the node stays up") {
  scratch s;
  auto a = spawn_node("raw-big", s);
  auto me = local_node("raw-bt", s, {a->endpoint});
  REQUIRE(me->wait_for_nodes(1, 15s));
  {
    raw_client c(s, a->endpoint, "big-tool");
    c.hello(otter::wire::protocol_version);
    REQUIRE(c.next());
    c.send(std::string((64u << 20) + 1024, 'x'));  // ZMQ_MAXMSGSIZE drops the connection
  }
  otter::scoped_process p(me->rt());
  auto r = p.await(otter::call<pong>(a->probe, ping{6}));
  REQUIRE(r);
  CHECK(r->seq == 6);
}

TEST_CASE("a hello of an older session is dropped unanswered; a newer one starts over") {
  // A node that starts a link over opens a new connection; what its old one carried can be
  // read after the new one's hello. Taken as a new start, such a hello ended the new session
  // too (48 nodes starting at once kept pairs going down and up every 100-200 ms).
  scratch s;
  auto a = spawn_node("raw-sess", s);
  raw_client c(s, a->endpoint, "sess-tool", "#1");
  c.hello(otter::wire::protocol_version, 5);
  auto w = c.next();
  REQUIRE(w);
  REQUIRE(w->k == otter::wire::kind::welcome);
  const otter::pid self{otter::node_id_of("sess-tool"), 1, 77};
  c.send(c.call_bytes(a->probe, self, 1));
  auto first = c.next();
  REQUIRE(first);
  CHECK(first->k == otter::wire::kind::reply);

  raw_client old(s, a->endpoint, "sess-tool", "#2");  // the same tool, another connection
  old.hello(otter::wire::protocol_version, 3);
  CHECK_FALSE(old.next(1000));  // stale: no welcome (nor refusal)
  // Session 5 goes on: a call on its connection is answered.
  c.send(c.call_bytes(a->probe, self, 2));
  auto second = c.next();
  REQUIRE(second);
  CHECK(second->k == otter::wire::kind::reply);
  // A higher session is a new start: welcomed.
  old.hello(otter::wire::protocol_version, 6);
  auto again = old.next();
  REQUIRE(again);
  CHECK(again->k == otter::wire::kind::welcome);
}
