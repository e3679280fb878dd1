#include <unordered_set>

#include <catch2/catch.hpp>
#include <otter/pid.hpp>

using otter::pid;

TEST_CASE("a pid prints as <node.id.creation> and parses back") {
  pid p{0xabcdef, 42, 7};
  CHECK(otter::to_string(p) == "<abcdef.42.7>");
  auto back = otter::parse_pid("<abcdef.42.7>");
  REQUIRE(back);
  CHECK(*back == p);
}

TEST_CASE("malformed pid text is rejected") {
  for (const char* bad : {"", "<>", "<1.2>", "<1.2.3", "1.2.3>", "<x.2.3>", "<1.2.3.4>", "<1..3>",
                          "<1.2.99999999999>"}) {
    CHECK_FALSE(otter::parse_pid(bad));
  }
}

TEST_CASE("pids compare and hash by all three fields") {
  pid a{1, 2, 3}, b{1, 2, 4}, c{1, 3, 3}, d{2, 2, 3};
  CHECK(a != b);
  CHECK(a < c);
  CHECK(a < d);
  std::unordered_set<pid> s{a, b, c, d, a};
  CHECK(s.size() == 4);
  CHECK(pid{}.is_nil());
  CHECK_FALSE(static_cast<bool>(pid{}));
}

TEST_CASE("a pid round-trips through msgpack as [node, id, creation]") {
  pid p{0xfeedbeefcafe, 123456789, 99};
  msgpack::sbuffer buf;
  msgpack::pack(buf, p);
  auto oh = msgpack::unpack(buf.data(), buf.size());
  REQUIRE(oh.get().type == msgpack::type::ARRAY);
  REQUIRE(oh.get().via.array.size == 3);
  CHECK(oh.get().as<pid>() == p);
}

TEST_CASE("node ids are derived from names and never nil") {
  CHECK(otter::node_id_of("shop-1") == otter::node_id_of("shop-1"));
  CHECK(otter::node_id_of("shop-1") != otter::node_id_of("shop-2"));
  CHECK(otter::node_id_of("") != 0);
}
