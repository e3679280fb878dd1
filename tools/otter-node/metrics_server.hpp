// otter-node's --metrics: an HTTP server (cpp-httplib) on its own thread answering GET /metrics
// with otter::metrics_text(node) (otter/metrics.hpp), 404 for anything else. It stops, and its
// thread is joined, when the object is destroyed (before the node it reads).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <otter/error.hpp>
#include <otter/node.hpp>

#include "config.hpp"

namespace httplib {
class Server;
}

namespace otter::node_tool {

class metrics_server {
 public:
  // Binds `at` and starts serving `n`; an error names the address when it cannot be bound.
  static result<std::unique_ptr<metrics_server>> start(const node& n, const host_port& at);
  ~metrics_server();
  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  // The bound port (the real one when 0 was asked for).
  std::uint16_t port() const noexcept { return port_; }

 private:
  metrics_server() = default;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> ended_{false};  // the server's thread has left its accept loop
  std::thread thread_;
  std::uint16_t port_ = 0;
};

}  // namespace otter::node_tool
