#include "otter/node.hpp"

#include <thread>

#include "otter/log.hpp"

#include "agent.hpp"
#include "spawner.hpp"
#include "test_hooks.hpp"
#include "transport.hpp"

namespace otter {

namespace detail {
struct node_internals {
  static transport& net(node& n) { return *n.net_; }
};
}  // namespace detail

struct node::factory_table : spawner::table {};

void node::add_factory(std::string name, factory_fn fn) {
  std::lock_guard<std::mutex> l(factories_->mutex);
  factories_->fns[std::move(name)] = std::move(fn);
}

result<std::unique_ptr<node>> node::start(node_options options) {
  if (options.name.empty()) return error{errc::badarg, "a node needs a name"};
  if (options.name.find_first_of(" #\t\n") != std::string::npos) {
    return error{errc::badarg, "node name '" + options.name + "' contains a space or '#'"};
  }
  const std::string path =
      options.secret_file.empty() ? default_secret_path() : options.secret_file;
  auto secret = load_or_create_secret(path);
  if (!secret) return secret.err();
  std::unique_ptr<node> n(new node());
  runtime_options ro;
  ro.node_name = options.name;
  ro.workers = options.workers;
  ro.creation = options.creation;
  n->rt_ = std::make_unique<runtime>(ro);
  if (options.insecure) {
    otter::detail::log().warn(
        "node {} runs WITHOUT encryption (--insecure): traffic is readable and "
        "forgeable by anyone on the network",
        options.name);
  }
  try {
    n->net_ = std::make_unique<transport>(*n->rt_, options, derive_keys(*secret));
    n->net_->start();
  } catch (const std::exception& e) {
    n->net_.reset();
    return error{errc::badarg,
                 "cannot start node " + options.name + " on " + options.listen + ": " + e.what()};
  }
  detail::set_remote_router(*n->rt_, n->net_.get());
  detail::set_io_driver(*n->rt_, n->net_.get());
  n->factories_ = std::make_shared<factory_table>();
  start_options so;
  so.name = spawner_name;
  if (auto s = n->rt_->start_with<spawner>(so, n->factories_); !s) return s.err();
  so.name = agent_name;
  if (auto a = n->rt_->start_with<node_agent>(so, *n); !a) return a.err();
  return n;
}

node::~node() {
  if (rt_) shutdown();
}

void node::on_shutdown(std::function<void(node&)> fn) {
  std::lock_guard<std::mutex> l(hooks_mutex_);
  shutdown_hooks_.push_back(std::move(fn));
}

void node::shutdown() {
  if (shut_.exchange(true)) return;
  std::vector<std::function<void(node&)>> hooks;
  {
    std::lock_guard<std::mutex> l(hooks_mutex_);
    hooks.swap(shutdown_hooks_);
  }
  for (auto it = hooks.rbegin(); it != hooks.rend(); ++it) (*it)(*this);
  detail::set_io_driver(*rt_, nullptr);  // waits until no worker is inside the transport
  detail::set_remote_router(*rt_, nullptr);
  if (net_) net_->stop();
  rt_->shutdown();  // the workers stop; both objects stay (stopped) until the node goes
}

const std::string& node::name() const noexcept {
  return rt_->node_name();
}
const std::string& node::endpoint() const noexcept {
  return net_->endpoint();
}
std::uint32_t node::creation() const noexcept {
  return rt_->creation();
}

std::vector<node_info> node::nodes() const {
  return net_->peers(false);
}
std::vector<node_info> node::peers() const {
  return net_->peers(true);
}

bool node::wait_for_nodes(std::size_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (net_->peers(false).size() >= n) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool node::wait_joined(std::chrono::milliseconds timeout) const {
  if (!net_->hidden()) return wait_for_nodes(1, timeout);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!net_->peers(true).empty()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void node::connect(const std::string& endpoint) {
  net_->connect(endpoint);
}

void node::monitor_nodes(const pid& subscriber, bool on) {
  net_->monitor_nodes(subscriber, on);
}

void node::on_peer_event(std::function<void(const std::string&, bool)> fn) {
  net_->on_peer_event(std::move(fn));
}

net_stats node::stats() const {
  return net_->stats();
}

void test_hooks::set_blocked(node& n, std::string_view node_name, bool blocked) {
  detail::node_internals::net(n).set_blocked(node_name, blocked);
}

}  // namespace otter
