// A handle_cast for a type the server does not list would never run: a compile error.
#include <otter/core.hpp>

struct listed {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(listed);
struct forgotten {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(forgotten);

class server : public otter::gen_server<server> {
 public:
#ifdef OTTER_EXPECT_FAILURE
  using casts = otter::msgs<listed>;
#else
  using casts = otter::msgs<listed, forgotten>;
#endif
  void handle_cast(const listed&) {}
  void handle_cast(const forgotten&) {}
};

int main() {
  otter::runtime rt({.workers = 1});
  return rt.start<server>() ? 0 : 1;
}
