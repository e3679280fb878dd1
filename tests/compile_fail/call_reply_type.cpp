// A call that asks for another reply type than the request declares does not compile.
#include <otter/core.hpp>

struct value {
  std::int64_t n = 0;
  MSGPACK_DEFINE(n);
};
OTTER_MESSAGE(value);
struct get {
  using reply_type = value;
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(get);

int main() {
  otter::runtime rt({.workers = 1});
  otter::scoped_process me(rt);
#ifdef OTTER_EXPECT_FAILURE
  auto r = me.await(otter::call<std::int64_t>(me.self(), get{}));
#else
  auto r = me.await(otter::call(me.self(), get{}));  // result<value>, deduced
  static_assert(std::is_same_v<decltype(r), otter::result<value>>);
#endif
  return r ? 1 : 0;
}
