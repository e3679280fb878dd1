// Internal: the `otter.spawner` server every node runs, answering spawn requests.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "otter/spawn.hpp"

namespace otter {

class spawner : public gen_server<spawner> {
 public:
  struct table {
    std::mutex mutex;  // protects fns
    std::map<std::string, factory_fn> fns;
  };
  using calls = msgs<spawn_request>;

  explicit spawner(std::shared_ptr<table> t) : factories_(std::move(t)) {}
  spawn_reply handle_call(const spawn_request& r, from& f);

 private:
  std::shared_ptr<table> factories_;
};

}  // namespace otter
