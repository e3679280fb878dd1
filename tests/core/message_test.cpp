// Wire names of messages (message.hpp): namespace-qualified, the same with g++ and clang.
#include <catch2/catch.hpp>
#include <otter/core.hpp>

namespace shop {
struct get {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(get);
namespace admin {
struct get {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(get);
}  // namespace admin
}  // namespace shop

namespace {
struct hidden {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(hidden);
}  // namespace

namespace shop {
namespace {
struct local {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(local);
}  // namespace
struct renamed {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(renamed, "shop.v2.renamed");
}  // namespace shop

struct top_level {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(top_level);

TEST_CASE("a message's wire name is its namespace-qualified name") {
  CHECK(otter::message_traits<shop::get>::name == "shop::get");
  CHECK(otter::message_traits<shop::admin::get>::name == "shop::admin::get");
  CHECK(otter::message_traits<top_level>::name == "top_level");
  // Anonymous namespaces are left out (g++ and clang spell them differently).
  CHECK(otter::message_traits<hidden>::name == "hidden");
  CHECK(otter::message_traits<shop::local>::name == "shop::local");
  CHECK(otter::message_traits<shop::renamed>::name == "shop.v2.renamed");
  // otter's own messages keep their short names (the protocol names them).
  CHECK(otter::message_traits<otter::exit_msg>::name == "exit_msg");
  CHECK(otter::message_traits<otter::ok_reply>::name == "ok_reply");
}
