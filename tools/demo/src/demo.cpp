// The demo supervisor: echo, counter and kv under one_for_one (see otter/demo.hpp).
#include "otter/demo.hpp"

namespace otter::demo {

std::vector<std::string> global_names(const std::string& node_name) {
  return {"echo@" + node_name, "counter@" + node_name, "kv@" + node_name};
}

child_spec supervisor_spec(const std::string& node_name) {
  const auto names = global_names(node_name);
  child_spec e = worker<echo>("echo");
  e.global_name = names[0];
  child_spec c = worker<counter>("counter", names[1]);
  c.global_name = names[1];
  child_spec k = worker<kv>("kv", names[2]);
  k.global_name = names[2];
  return supervisor::child("demo", supervisor_flags{}, {std::move(e), std::move(c), std::move(k)});
}

result<pid> start(scoped_process& me, const std::string& node_name) {
  auto root = root_supervisor(me.rt());
  if (!root) return root.err();
  return me.await(supervisor::start_child(*root, supervisor_spec(node_name)));
}

}  // namespace otter::demo
