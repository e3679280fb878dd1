#include "otter/spawn.hpp"

#include <map>
#include <mutex>

#include "otter/node.hpp"
#include "spawner.hpp"

namespace otter {

spawn_reply spawner::handle_call(const spawn_request& r, from& f) {
  factory_fn fn;
  {
    std::lock_guard<std::mutex> l(factories_->mutex);
    auto it = factories_->fns.find(r.factory);
    if (it != factories_->fns.end()) fn = it->second;
  }
  if (!fn) {
    f.reply_error(
        error{errc::badarg, "no factory '" + r.factory + "' on node " + rt().node_name()});
    return {};
  }
  auto started = fn(rt(), r.args);
  if (!started) {
    f.reply_error(started.err());
    return {};
  }
  return spawn_reply{*started};
}

void register_factory(node& n, std::string name, factory_fn fn) {
  n.add_factory(std::move(name), std::move(fn));
}

}  // namespace otter
