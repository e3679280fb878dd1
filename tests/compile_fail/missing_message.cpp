// A type sent as a message without OTTER_MESSAGE: a static_assert naming the type.
#include <otter/core.hpp>

struct undeclared_payload {
  int n = 0;
  MSGPACK_DEFINE(n);
};
#ifndef OTTER_EXPECT_FAILURE
OTTER_MESSAGE(undeclared_payload);
#endif

int main() {
  otter::runtime rt({.workers = 1});
  return rt.cast(otter::pid{}, undeclared_payload{1}) ? 0 : 1;
}
