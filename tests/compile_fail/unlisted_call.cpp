// A handle_call for a type the server does not list would never run: a compile error.
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
  using calls = otter::msgs<listed>;
#else
  using calls = otter::msgs<listed, forgotten>;
#endif
  otter::ok_reply handle_call(const listed&, otter::from&) { return {}; }
  otter::ok_reply handle_call(const forgotten&, otter::from&) { return {}; }
};

int main() {
  otter::runtime rt({.workers = 1});
  return rt.start<server>() ? 0 : 1;
}
