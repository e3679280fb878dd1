// A request that declares its reply_type must be answered with it.
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

class server : public otter::gen_server<server> {
 public:
  using calls = otter::msgs<get>;
#ifdef OTTER_EXPECT_FAILURE
  otter::ok_reply handle_call(const get&, otter::from&) { return {}; }
#else
  value handle_call(const get&, otter::from&) { return {42}; }
#endif
};

int main() {
  otter::runtime rt({.workers = 1});
  return rt.start<server>() ? 0 : 1;
}
