// A listed request type without its handle_call: one readable error.
#include <otter/core.hpp>

struct ping {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(ping);
struct other {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(other);

class server : public otter::gen_server<server> {
 public:
#ifdef OTTER_EXPECT_FAILURE
  using calls = otter::msgs<ping, other>;
#else
  using calls = otter::msgs<ping>;
#endif
  otter::ok_reply handle_call(const ping&, otter::from&) { return {}; }
};

int main() {
  otter::runtime rt({.workers = 1});
  return rt.start<server>() ? 0 : 1;
}
