// The README's "A server in a few lines", as a program: one node, a counter registered
// globally, a cast and a call by name from main. Exits 0 when the counter says 5.
// The cluster secret is $OTTER_SECRET_FILE or ~/.otter/secret (created on first use).
#include <otter/otter.hpp>

struct get {
  using reply_type = std::int64_t;
  MSGPACK_DEFINE();
};
OTTER_MESSAGE(get);
struct incr {
  std::int64_t by;
  MSGPACK_DEFINE(by);
};
OTTER_MESSAGE(incr);

class counter : public otter::gen_server<counter> {
 public:
  using calls = otter::msgs<get>;
  using casts = otter::msgs<incr>;
  std::int64_t handle_call(const get&, otter::from&) { return n_; }  // the reply
  void handle_cast(const incr& i) { n_ += i.by; }

 private:
  std::int64_t n_ = 0;
};

int main() {
  otter::node_options o;
  o.name = "n1";
  auto node = otter::start_node(o);  // node + global registry + root supervisor
  if (!node) return 1;
  otter::scoped_process me((*node)->rt());  // lets main talk to processes
  auto pid = (*node)->rt().start<counter>();
  me.await(otter::register_global("counter", *pid));
  me.cast("counter", incr{5});
  auto n = me.await(otter::call("counter", get{}));  // result<int64_t>, from any node
  return n && *n == 5 ? 0 : 1;
}
