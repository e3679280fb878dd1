// The wire codec: round trips, and malformed input rejected with an error value.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include "wire.hpp"

namespace {

struct ping {
  std::int64_t seq = 0;
  MSGPACK_DEFINE(seq);
};
OTTER_MESSAGE(ping);

struct note {
  std::string text;
  MSGPACK_DEFINE(text);
};
OTTER_MESSAGE(note);

using otter::wire::decode_frame;
using otter::wire::kind;

std::string bytes_of(const msgpack::sbuffer& b) {
  return std::string(b.data(), b.size());
}

otter::detail::envelope_ptr call_envelope() {
  auto e = otter::detail::make_message(otter::detail::sig::call, ping{3});
  e->from = otter::pid{11, 22, 33};
  e->ref = 99;
  return e;
}

}  // namespace

TEST_CASE("a call round-trips through the codec and decodes into its type") {
  msgpack::sbuffer buf;
  REQUIRE(otter::wire::encode_envelope(buf, otter::pid{1, 2, 3}, *call_envelope()));
  auto r = decode_frame(buf.data(), buf.size());
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  auto& d = r->front();
  CHECK(d.k == kind::call);
  CHECK(d.to == otter::pid{1, 2, 3});
  CHECK(d.env->from == otter::pid{11, 22, 33});
  CHECK(d.env->ref == 99);
  CHECK(d.env->type_name() == "ping");
  auto* p = otter::detail::payload_as<ping>(*d.env);
  REQUIRE(p != nullptr);
  CHECK(p->seq == 3);
}

TEST_CASE("several envelopes in one frame decode in order") {
  msgpack::sbuffer buf;
  otter::wire::encode_heartbeat(buf);
  otter::wire::encode_envelope(buf, std::string_view("kv"), *call_envelope());
  otter::wire::encode_bye(buf);
  auto r = decode_frame(buf.data(), buf.size());
  REQUIRE(r);
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].k == kind::heartbeat);
  CHECK((*r)[1].to_name == "kv");
  CHECK((*r)[2].k == kind::bye);
}

TEST_CASE("decoded envelopes keep their bytes: the frame they came from may go at once") {
  // The decoder copies a frame once and every string refers to that copy; one `decoded` serves
  // the envelopes of a frame in turn: nothing of one may show in the next.
  msgpack::sbuffer buf;
  otter::wire::hello h;
  h.name = "n1";
  h.endpoint = "tcp://127.0.0.1:1";
  h.proof = "proof";
  h.known = 3;
  otter::wire::encode_hello(buf, h);
  auto by_name = otter::detail::make_message(otter::detail::sig::cast, note{std::string(100, 'a')});
  by_name->from = otter::pid{11, 22, 33};
  REQUIRE(otter::wire::encode_envelope(buf, std::string_view("kv"), *by_name));
  auto by_pid = otter::detail::make_message(otter::detail::sig::cast, note{"b"});
  by_pid->from = otter::pid{11, 22, 33};
  REQUIRE(otter::wire::encode_envelope(buf, otter::pid{1, 2, 3}, *by_pid));
  otter::wire::encode_heartbeat(buf);

  // What each envelope looked like when handed over (copied: the decoder's own state), and
  // its envelope (taken).
  struct seen {
    kind k;
    std::string hello_name, to_name;
    bool known = false;
    otter::pid to;
    bool had_env = false;
    otter::detail::envelope_ptr env;
  };
  std::vector<seen> got;
  auto frame = std::make_unique<std::string>(bytes_of(buf));
  auto n = otter::wire::for_each_envelope(frame->data(), frame->size(), {}, [&](auto& d) {
    const bool had_env = d.env != nullptr;
    got.push_back(
        {d.k, d.hi.name, d.to_name, d.hi.known.has_value(), d.to, had_env, std::move(d.env)});
  });
  std::fill(frame->begin(), frame->end(), '\xc1');  // never used in msgpack
  frame.reset();
  REQUIRE(n);
  REQUIRE(*n == 4);
  REQUIRE(got.size() == 4);
  CHECK(got[0].hello_name == "n1");
  CHECK(got[0].known);
  CHECK(got[1].to_name == "kv");
  CHECK(got[1].hello_name.empty());
  CHECK_FALSE(got[1].known);
  CHECK(got[2].to_name.empty());
  CHECK(got[2].to == otter::pid{1, 2, 3});
  CHECK(got[3].k == kind::heartbeat);
  CHECK(got[3].to_name.empty());
  CHECK(got[3].to == otter::pid{});
  CHECK_FALSE(got[3].had_env);
  for (std::size_t i : {std::size_t{1}, std::size_t{2}}) {
    REQUIRE(got[i].env != nullptr);
    CHECK(got[i].env->type_name() == "note");
    CHECK(got[i].env->from == otter::pid{11, 22, 33});
  }
  auto* a = otter::detail::payload_as<note>(*got[1].env);
  auto* b = otter::detail::payload_as<note>(*got[2].env);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a->text == std::string(100, 'a'));
  CHECK(b->text == "b");
}

TEST_CASE("signals and errors round-trip") {
  msgpack::sbuffer buf;
  otter::detail::reason_envelope down(otter::detail::sig::down, otter::exit_reason("killed"));
  down.from = otter::pid{5, 6, 7};
  down.ref = 12;
  otter::wire::encode_envelope(buf, otter::pid{1, 2, 3}, down);
  otter::detail::error_envelope err(otter::error{otter::errc::noproc, "gone", "noproc"});
  err.ref = 4;
  err.from = otter::pid{5, 6, 7};
  otter::wire::encode_envelope(buf, otter::pid{1, 2, 3}, err);
  auto r = decode_frame(buf.data(), buf.size());
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  auto& d0 = static_cast<otter::detail::reason_envelope&>(*(*r)[0].env);
  CHECK(d0.kind == otter::detail::sig::down);
  CHECK(d0.reason.str() == "killed");
  CHECK(d0.ref == 12);
  auto& e1 = static_cast<otter::detail::error_envelope&>(*(*r)[1].env);
  CHECK(e1.err.code == otter::errc::noproc);
  CHECK(e1.err.message == "gone");
}

TEST_CASE("a body that does not decode as the asked type is no match, not a crash") {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(6);
  pk.pack(12);
  pk.pack(std::vector<std::uint64_t>{1, 2, 3});
  pk.pack(std::vector<std::uint64_t>{4, 5, 6});
  pk.pack(1);
  pk.pack("ping");
  pk.pack("not an array");
  auto r = decode_frame(buf.data(), buf.size());
  REQUIRE(r);
  CHECK(otter::detail::payload_as<ping>(*r->front().env) == nullptr);
}

TEST_CASE("malformed frames are rejected with an error naming the problem") {
  auto encode = [](auto&&... fields) {
    msgpack::sbuffer b;
    msgpack::packer<msgpack::sbuffer> pk(b);
    pk.pack_array(sizeof...(fields));
    (pk.pack(fields), ...);
    return bytes_of(b);
  };
  const std::vector<std::uint64_t> pid3{1, 2, 3};
  struct bad {
    std::string name;
    std::string bytes;
    std::string expect;
  };
  std::vector<bad> cases = {
      {"empty", "", "empty frame"},
      {"not msgpack", std::string("\xc1\xc1\xc1", 3), "undecodable"},
      {"truncated", encode(12, pid3, pid3, 1, std::string("ping"), 3).substr(0, 9), "truncated"},
      {"not an array", encode(1).substr(1), "not a non-empty array"},
      {"unknown kind", encode(77), "unknown envelope kind 77"},
      {"negative kind", encode(-3), "not an unsigned integer"},
      {"short process envelope", encode(12, pid3, pid3), "must have 6 fields"},
      {"pid with 2 fields", encode(12, std::vector<int>{1, 2}, pid3, 1, std::string("x"), 1),
       "not a pid"},
      {"pid field not a number",
       encode(12, std::vector<std::string>{"a", "b", "c"}, pid3, 1, std::string("x"), 1),
       "not an unsigned integer"},
      {"creation too big",
       encode(12, std::vector<std::uint64_t>{1, 2, 1ull << 40}, pid3, 1, std::string("x"), 1),
       "exceeds 32 bits"},
      {"tag not a string", encode(12, pid3, pid3, 1, 5, 1), "not a string"},
      {"empty name target", encode(12, std::string(""), pid3, 1, std::string("x"), 1),
       "empty name"},
      {"hello with a bad field", encode(1, 1, 2, 3, 4, 5, 6), "not a string"},
      {"reply_error body", encode(14, pid3, pid3, 1, std::string("noproc"), 1), "reply_error body"},
  };
  for (auto& c : cases) {
    INFO(c.name);
    auto r = decode_frame(c.bytes.data(), c.bytes.size());
    REQUIRE_FALSE(r);
    CHECK(r.code() == otter::errc::badarg);
    CHECK_THAT(r.err().message, Catch::Contains(c.expect));
  }
}

TEST_CASE("oversized frames and deep nesting are refused before decoding") {
  std::string big(1024, '\x90');
  otter::wire::limits lim;
  lim.max_frame_bytes = 512;
  auto r = decode_frame(big.data(), big.size(), lim);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.err().message, Catch::Contains("exceeds the limit"));
  // 100 nested arrays in a body: past the depth limit.
  std::string deep = std::string(100, '\x91') + '\x01';
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_array(6);
  pk.pack(10);
  pk.pack(std::vector<std::uint64_t>{1, 2, 3});
  pk.pack(std::vector<std::uint64_t>{4, 5, 6});
  pk.pack(0);
  pk.pack("x");
  std::string frame = bytes_of(b) + deep;
  auto d = decode_frame(frame.data(), frame.size());
  REQUIRE_FALSE(d);
}

TEST_CASE("random bytes never crash the decoder") {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  msgpack::sbuffer valid;
  otter::wire::encode_envelope(valid, otter::pid{1, 2, 3}, *call_envelope());
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string f(valid.data(), valid.size());
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < flips; ++k) f[next() % f.size()] = static_cast<char>(next());
    if (next() % 3 == 0) f.resize(next() % f.size());
    auto r = decode_frame(f.data(), f.size());
    if (!r) ++rejected;
  }
  CHECK(rejected > 0);  // most mutations are caught; none crashed
}

TEST_CASE("refusals carry a code; an older refusal without one still decodes") {
  msgpack::sbuffer buf;
  otter::wire::encode_refuse(buf, otter::wire::refuse_code::authentication, "bad proof");
  auto d = decode_frame(buf.data(), buf.size());
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  CHECK((*d)[0].k == kind::refuse);
  CHECK((*d)[0].refuse == otter::wire::refuse_code::authentication);
  CHECK((*d)[0].refuse_reason == "bad proof");
  CHECK(otter::wire::to_string((*d)[0].refuse) == "authentication");

  msgpack::sbuffer old;
  msgpack::packer<msgpack::sbuffer> pk(old);
  pk.pack_array(2);
  pk.pack(3);
  pk.pack(std::string("no"));
  auto o = decode_frame(old.data(), old.size());
  REQUIRE(o);
  CHECK((*o)[0].refuse == otter::wire::refuse_code::unspecified);
}

TEST_CASE("trailing fields a later version may add are ignored") {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(3);  // a heartbeat with two extra fields
  pk.pack(4);
  pk.pack(std::string("future"));
  pk.pack(7);
  auto d = decode_frame(buf.data(), buf.size());
  REQUIRE(d);
  CHECK((*d)[0].k == kind::heartbeat);
}

TEST_CASE("a hello carries its sender's version range; a welcome of version 2 its release") {
  otter::wire::hello h;
  h.name = "tool-1";
  h.hidden = true;
  h.version = 1;
  h.max_version = 2;  // a tool has no `known`: 0 goes before max_version
  msgpack::sbuffer buf;
  otter::wire::encode_hello(buf, h);
  auto d = decode_frame(buf.data(), buf.size());
  REQUIRE(d);
  CHECK((*d)[0].hi.version == 1);
  CHECK((*d)[0].hi.max_version == 2u);
  CHECK((*d)[0].hi.known == 0u);

  otter::wire::welcome w;
  w.version = 2;
  w.name = "shop-1";
  w.software = "0.2.0";
  msgpack::sbuffer wb;
  otter::wire::encode_welcome(wb, w);
  auto dw = decode_frame(wb.data(), wb.size());
  REQUIRE(dw);
  CHECK((*dw)[0].wel.version == 2);
  CHECK((*dw)[0].wel.software == "0.2.0");

  // Version 1's welcome has no `software`; a later one's extra fields are ignored.
  msgpack::sbuffer later;
  msgpack::packer<msgpack::sbuffer> pk(later);
  pk.pack_array(8);
  pk.pack(2);
  pk.pack(3);
  pk.pack(std::string("shop-1"));
  pk.pack(7);
  pk.pack(std::string("tcp://10.0.0.1:7001"));
  pk.pack_array(0);
  pk.pack(std::string("0.3.0"));
  pk.pack(std::string("a field of version 3"));
  auto dl = decode_frame(later.data(), later.size());
  REQUIRE(dl);
  CHECK((*dl)[0].wel.version == 3);
  CHECK((*dl)[0].wel.software == "0.3.0");
}

TEST_CASE("two version ranges agree on the highest version both speak, or on none") {
  using otter::wire::agreed_version;
  using otter::wire::version_range;
  CHECK(agreed_version(version_range{1, 2}, version_range{1, 1}) == 1u);
  CHECK(agreed_version(version_range{1, 2}, version_range{1, 2}) == 2u);
  CHECK(agreed_version(version_range{1, 2}, version_range{2, 3}) == 2u);
  CHECK_FALSE(agreed_version(version_range{2, 2}, version_range{1, 1}));
  CHECK(otter::wire::to_string(version_range{1, 2}) == "1..2");
  CHECK(otter::wire::to_string(version_range{2, 2}) == "2");
}

TEST_CASE("heartbeat flags round-trip; a bare heartbeat means watching") {
  using otter::wire::beat_probe;
  using otter::wire::beat_watching;
  msgpack::sbuffer buf;
  otter::wire::encode_heartbeat(buf);                              // [4]
  otter::wire::encode_heartbeat(buf, 0);                           // [4, 0]
  otter::wire::encode_heartbeat(buf, beat_probe);                  // [4, 2]
  otter::wire::encode_heartbeat(buf, beat_watching | beat_probe);  // [4, 3]
  CHECK(std::string_view(buf.data(), 2) == "\x91\x04");
  auto d = decode_frame(buf.data(), buf.size());
  REQUIRE(d);
  REQUIRE(d->size() == 4);
  CHECK((*d)[0].beat == beat_watching);
  CHECK((*d)[1].beat == 0);
  CHECK((*d)[2].beat == beat_probe);
  CHECK((*d)[3].beat == (beat_watching | beat_probe));
  CHECK(!(*d)[3].has_counts);
  msgpack::sbuffer counted;
  const otter::wire::beat_counts c{12, 7};
  otter::wire::encode_heartbeat(counted, 0, &c);  // [4, 0, 12, 7]
  auto e = decode_frame(counted.data(), counted.size());
  REQUIRE(e);
  REQUIRE((*e)[0].has_counts);
  CHECK((*e)[0].beat == 0);
  CHECK((*e)[0].counts.sent == 12);
  CHECK((*e)[0].counts.received == 7);
}

TEST_CASE("a departure report round-trips") {
  msgpack::sbuffer buf;
  otter::wire::encode_gone(buf, {{"n3", 42, "noconnection"}});
  auto d = decode_frame(buf.data(), buf.size());
  REQUIRE(d);
  REQUIRE((*d)[0].k == kind::gone);
  REQUIRE((*d)[0].gone.size() == 1);
  CHECK((*d)[0].gone[0].name == "n3");
  CHECK((*d)[0].gone[0].creation == 42);
  CHECK((*d)[0].gone[0].reason == "noconnection");
}

TEST_CASE("a members list says whether it is partial; absent or not a bool, it is whole") {
  const std::vector<otter::wire::member> some{{"n1", "tcp://10.0.0.1:7001", 5}};
  msgpack::sbuffer whole, partial, other;
  otter::wire::encode_members(whole, some);
  otter::wire::encode_members(partial, some, true);
  {  // a later revision's third field of another type
    msgpack::packer<msgpack::sbuffer> pk(other);
    pk.pack_array(3);
    pk.pack(static_cast<int>(kind::members));
    pk.pack(some);
    pk.pack(7);
  }
  auto w = decode_frame(whole.data(), whole.size());
  auto p = decode_frame(partial.data(), partial.size());
  auto o = decode_frame(other.data(), other.size());
  REQUIRE(w);
  REQUIRE(p);
  REQUIRE(o);
  CHECK_FALSE((*w)[0].members_partial);
  CHECK((*p)[0].members_partial);
  CHECK_FALSE((*o)[0].members_partial);
  REQUIRE((*p)[0].members.size() == 1);
  CHECK((*p)[0].members[0].name == "n1");
  CHECK((*p)[0].members[0].endpoint == "tcp://10.0.0.1:7001");
  CHECK((*p)[0].members[0].creation == 5);
  CHECK(bytes_of(whole).size() + 1 == bytes_of(partial).size());  // [5, m] vs [5, m, true]
}
