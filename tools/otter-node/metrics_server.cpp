#include "metrics_server.hpp"

#include <httplib.h>

#include <otter/metrics.hpp>

namespace otter::node_tool {

result<std::unique_ptr<metrics_server>> metrics_server::start(const node& n, const host_port& at) {
  std::unique_ptr<metrics_server> s(new metrics_server());
  s->http_ = std::make_unique<httplib::Server>();
  auto& http = *s->http_;
  // One thread answers (a scrape every few seconds needs no pool), besides the accepting one.
  // cpp-httplib's default sets SO_REUSEPORT as well, which lets a second node bind a port in
  // use (and the two share the scrapes): SO_REUSEADDR only, so a port in use is refused.
  http.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.new_task_queue = [] { return new httplib::ThreadPool(1); };
  http.Get("/metrics", [&n](const httplib::Request&, httplib::Response& res) {
    res.set_content(otter::metrics_text(n), otter::metrics_content_type);
  });
  const std::string where = "tcp://" + at.host + ":" + std::to_string(at.port);
  // ZeroMQ's wildcard, as --listen takes it: every IPv4 interface.
  const std::string host = at.host == "*" ? std::string("0.0.0.0") : at.host;
  if (at.port == 0) {
    const int port = http.bind_to_any_port(host);
    if (port <= 0) return error{errc::badarg, "cannot serve metrics at " + where};
    s->port_ = static_cast<std::uint16_t>(port);
  } else {
    if (!http.bind_to_port(host, at.port)) {
      return error{errc::badarg,
                   "cannot serve metrics at " + where + ": address in use or not available"};
    }
    s->port_ = at.port;
  }
  auto* ended = &s->ended_;
  s->thread_ = std::thread([&http, ended] {
    http.listen_after_bind();
    ended->store(true, std::memory_order_release);
  });
  // stop() does nothing until the server runs: wait for its accept loop (it starts at once).
  while (!http.is_running() && !ended->load(std::memory_order_acquire)) std::this_thread::yield();
  return s;
}

metrics_server::~metrics_server() {
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace otter::node_tool
