// docs/PROTOCOL.md's byte-level examples must be what the codec produces.
//
// Each example in the document is an HTML comment `<!-- example: NAME -->` followed by a
// ```hex block; this test builds the same envelope with the codec and compares the bytes.
// OTTER_PRINT_EXAMPLES=1 prints the codec's bytes (to write the document).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <catch2/catch.hpp>
#include "wire.hpp"

namespace {

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

std::string hex(const msgpack::sbuffer& b) {
  std::string out;
  char tmp[4];
  for (std::size_t i = 0; i < b.size(); ++i) {
    std::snprintf(tmp, sizeof tmp, "%02x", static_cast<unsigned char>(b.data()[i]));
    if (i > 0) out += (i % 16 == 0) ? '\n' : ' ';
    out += tmp;
  }
  return out;
}

std::map<std::string, std::string> codec_examples() {
  using namespace otter;
  std::map<std::string, std::string> ex;
  const pid server{node_id_of("shop-1"), 42, 7};
  const pid client{node_id_of("tool-1"), 1, 9};
  {
    msgpack::sbuffer b;
    wire::encode_heartbeat(b);
    ex["heartbeat"] = hex(b);
  }
  {
    wire::hello h;
    h.name = "tool-1";
    h.creation = 9;
    h.hidden = true;
    h.endpoint = "";
    h.proof = std::string(32, '\xab');  // the real proof: see "Authentication"
    h.session = 1;
    msgpack::sbuffer b;
    wire::encode_hello(b, h);
    ex["hello"] = hex(b);
  }
  {
    wire::hello h;
    h.name = "tool-1";
    h.creation = 9;
    h.hidden = true;
    msgpack::sbuffer b;
    const std::string in = wire::proof_input(h);
    b.write(in.data(), in.size());
    ex["proof_input"] = hex(b);
  }
  {
    wire::welcome w;
    w.name = "shop-1";
    w.creation = 7;
    w.endpoint = "tcp://10.0.0.1:7001";
    w.members = {{"shop-2", "tcp://10.0.0.2:7001", 5}};
    msgpack::sbuffer b;
    wire::encode_welcome(b, w);
    ex["welcome"] = hex(b);
  }
  {
    auto e = detail::make_message(detail::sig::call, ping{3});
    e->from = client;
    e->ref = 5;
    msgpack::sbuffer b;
    wire::encode_envelope(b, server, *e);
    ex["call"] = hex(b);
  }
  {
    // A call by name with an untyped body, as a tool or a foreign client sends it.
    msgpack::sbuffer body;
    msgpack::packer<msgpack::sbuffer>(body).pack(std::vector<std::string>{"get", "a"});
    auto oh = msgpack::unpack(body.data(), body.size());
    auto zone = std::make_shared<msgpack::zone>();
    detail::remote_envelope e(detail::sig::call, "", msgpack::object(oh.get(), *zone), zone);
    e.from = client;
    e.ref = 6;
    msgpack::sbuffer b;
    wire::encode_envelope(b, std::string_view("kv"), e);
    ex["call_by_name"] = hex(b);
  }
  {
    auto e = detail::make_message(detail::sig::reply, pong{3});
    e->from = server;
    e->ref = 5;
    msgpack::sbuffer b;
    wire::encode_envelope(b, client, *e);
    ex["reply"] = hex(b);
  }
  {
    detail::error_envelope e(error{errc::noproc, "no process registered as 'kv'", "noproc"});
    e.from = pid{node_id_of("shop-1"), 0, 7};
    e.ref = 6;
    msgpack::sbuffer b;
    wire::encode_envelope(b, client, e);
    ex["reply_error"] = hex(b);
  }
  {
    detail::reason_envelope e(detail::sig::down, exit_reason("killed"));
    e.from = server;
    e.ref = 8;
    msgpack::sbuffer b;
    wire::encode_envelope(b, client, e);
    ex["down"] = hex(b);
  }
  return ex;
}

std::map<std::string, std::string> document_examples(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, std::string> ex;
  std::string line, name;
  bool in_block = false;
  std::string block;
  while (std::getline(in, line)) {
    if (line.rfind("<!-- example: ", 0) == 0) {
      name = line.substr(14, line.find(' ', 14) - 14);
    } else if (!name.empty() && !in_block && line == "```hex") {
      in_block = true;
      block.clear();
    } else if (in_block && line == "```") {
      ex[name] = block;
      in_block = false;
      name.clear();
    } else if (in_block) {
      if (!block.empty()) block += '\n';
      block += line;
    }
  }
  return ex;
}

}  // namespace

TEST_CASE("every byte example in docs/PROTOCOL.md matches the codec") {
  const auto codec = codec_examples();
  if (std::getenv("OTTER_PRINT_EXAMPLES")) {
    for (auto& [name, bytes] : codec)
      std::printf("<!-- example: %s -->\n```hex\n%s\n```\n\n", name.c_str(), bytes.c_str());
  }
  const auto doc = document_examples(std::string(OTTER_SOURCE_DIR) + "/docs/PROTOCOL.md");
  REQUIRE(doc.size() == codec.size());
  for (auto& [name, bytes] : codec) {
    INFO("example " << name);
    REQUIRE(doc.count(name) == 1);
    CHECK(doc.at(name) == bytes);
  }
}

TEST_CASE("the documented example frames decode") {
  const auto doc = document_examples(std::string(OTTER_SOURCE_DIR) + "/docs/PROTOCOL.md");
  for (auto& [name, text] : doc) {
    if (name == "proof_input") continue;  // not an envelope
    INFO("example " << name);
    std::string bytes;
    std::istringstream in(text);
    unsigned v;
    while (in >> std::hex >> v) bytes.push_back(static_cast<char>(v));
    auto r = otter::wire::decode_frame(bytes.data(), bytes.size());
    REQUIRE(r);
    CHECK(r->size() == 1);
  }
}
