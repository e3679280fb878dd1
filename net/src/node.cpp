#include "otter/node.hpp"

#include <algorithm>
#include <thread>

#include "otter/detail/membership.hpp"
#include "otter/log.hpp"
#include "otter/secret.hpp"

#include "agent.hpp"
#include "endpoint.hpp"
#include "seed_watch.hpp"
#include "sim_hooks.hpp"
#include "spawner.hpp"
#include "test_hooks.hpp"
#include "transport.hpp"
#include "zmq_io.hpp"

namespace otter {

namespace detail {
struct node_internals {
  static transport& net(node& n) { return *n.net_; }
  // The parts of a node, around a runtime and a network made by the caller.
  static result<std::unique_ptr<node>> assemble(
      node_options options, const cluster_keys& keys, std::unique_ptr<runtime> rt,
      const std::function<std::unique_ptr<net_detail::link_io>(const node_options&, runtime&)>&
          make_io);
  static void crash(node& n);
};
}  // namespace detail

namespace {
// The node's membership as the layers above see it (otter/detail/membership.hpp).
class node_membership final : public detail::membership_view {
 public:
  node_membership(std::string name, transport* net) : name_(std::move(name)), net_(net) {}
  const std::string& node_name() const noexcept override { return name_; }
  std::vector<node_info> members() const override {
    std::lock_guard<std::mutex> l(mutex_);
    return net_ != nullptr ? net_->peers(false) : std::vector<node_info>{};
  }
  bool is_member(const std::string& node) const override {
    std::lock_guard<std::mutex> l(mutex_);
    return net_ != nullptr && net_->is_member(node);
  }
  bool joined() const override {
    std::lock_guard<std::mutex> l(mutex_);
    return net_ != nullptr && net_->joined();
  }
  bool active() const override {
    std::lock_guard<std::mutex> l(mutex_);
    return net_ != nullptr;
  }
  void monitor_nodes(const pid& subscriber, bool on) override {
    std::lock_guard<std::mutex> l(mutex_);
    if (net_ != nullptr) net_->monitor_nodes(subscriber, on);
  }
  void detach() {
    std::lock_guard<std::mutex> l(mutex_);
    net_ = nullptr;
  }

 private:
  const std::string name_;
  mutable std::mutex mutex_;  // protects net_
  transport* net_;
};
}  // namespace

struct node::factory_table : spawner::table {};

void node::add_factory(std::string name, factory_fn fn) {
  std::lock_guard<std::mutex> l(factories_->mutex);
  factories_->fns[std::move(name)] = std::move(fn);
}

namespace {
error check_name(const node_options& options) {
  if (options.name.empty()) return error{errc::badarg, "a node needs a name"};
  if (options.name.find_first_of(" #\t\n") != std::string::npos) {
    return error{errc::badarg, "node name '" + options.name + "' contains a space or '#'"};
  }
  return error{};
}

// The detector's timing (detector.cpp): it ticks by the heartbeat interval and beats a few
// times per failure timeout.
error check_timing(const node_options& options) {
  if (options.heartbeat_interval.count() <= 0 ||
      options.failure_timeout < 2 * options.heartbeat_interval) {
    return error{errc::badarg, "heartbeat_interval (" +
                                   std::to_string(options.heartbeat_interval.count()) +
                                   " ms) must be positive and failure_timeout (" +
                                   std::to_string(options.failure_timeout.count()) +
                                   " ms) at least twice as long"};
  }
  return error{};
}

// The addresses (endpoint.hpp): what can be bound, what peers can be told, seeds of a known
// form. A host name to listen on is replaced by its address.
error check_addresses(node_options& options) {
  for (const auto& s : options.seeds) {
    if (auto bad = net_detail::check_seed(s); bad.code != errc{}) return bad;
  }
  if (options.hidden) return error{};
  const auto listen = net_detail::parse_tcp(options.listen);
  if (!listen) {
    return error{errc::badarg,
                 "listen address '" + options.listen + "' is not of the form tcp://HOST:PORT"};
  }
  if (options.advertise.empty() && net_detail::is_wildcard_host(listen->host)) {
    return error{errc::badarg, "listen address " + options.listen +
                                   " is a wildcard, which peers cannot connect to: give the "
                                   "address to advertise to them (--advertise)"};
  }
  // None: the address bound is advertised (a host name to listen on, as resolved).
  const auto advertise = net_detail::parse_tcp(options.advertise);
  if (!options.advertise.empty() && (!advertise || net_detail::is_wildcard_host(advertise->host))) {
    return error{errc::badarg, "advertised address '" + options.advertise +
                                   "' is not of the form tcp://HOST:PORT with a host peers "
                                   "can reach (not a wildcard)"};
  }
  auto bound = net_detail::bindable(options.listen);
  if (!bound) {
    return error{errc::badarg, "cannot listen on " + options.listen + ": " + bound.err().message};
  }
  options.listen = std::move(*bound);
  return error{};
}
}  // namespace

result<std::unique_ptr<node>> node::start(node_options options) {
  if (auto bad = check_name(options); bad.code != errc{}) return bad;
  if (auto bad = check_timing(options); bad.code != errc{}) return bad;
  if (auto bad = check_addresses(options); bad.code != errc{}) return bad;
  const std::string path =
      options.secret_file.empty() ? default_secret_path() : options.secret_file;
  auto secret = load_or_create_secret(path);
  if (!secret) return secret.err();
  if (options.insecure) {
    otter::detail::log().warn(
        "node {} runs WITHOUT encryption (--insecure): traffic is readable and "
        "forgeable by anyone on the network",
        options.name);
  }
  runtime_options ro;
  ro.node_name = options.name;
  ro.workers = options.workers;
  ro.creation = options.creation;
  ro.mailbox_limit = options.mailbox_limit;
  const cluster_keys keys = derive_keys(*secret);
  std::vector<std::string> seeds = options.seeds;
  std::string seeds_file = options.seeds_file;
  const bool watch =
      !seeds_file.empty() || std::any_of(seeds.begin(), seeds.end(), [](const std::string& s) {
        return net_detail::parse_dns_seed(s).has_value();
      });
  if (!seeds_file.empty()) {  // before anything starts: an unreadable file fails the start
    if (auto first = net_detail::seed_watch::parse_file(seeds_file); !first) return first.err();
  }
  auto n = detail::node_internals::assemble(
      std::move(options), keys, std::make_unique<runtime>(ro),
      [&](const node_options& o, runtime& rt) -> std::unique_ptr<net_detail::link_io> {
        net_detail::zmq_options zo;
        zo.listen = o.hidden ? std::string() : o.listen;
        zo.routing_id = o.name + "#" + std::to_string(rt.creation());
        zo.secure = !o.insecure;
        zo.keys = keys;
        zo.max_message_bytes = net_defaults::max_message_bytes;
        zo.high_water_mark = net_defaults::high_water_mark;
        zo.busy_poll = o.busy_poll;
        return std::make_unique<net_detail::zmq_io>(std::move(zo));
      });
  if (!n || !watch) return n;
  transport* net = (*n)->net_.get();
  auto w = net_detail::seed_watch::start(
      std::move(seeds), std::move(seeds_file),
      [net](std::vector<std::string> endpoints) { net->set_seeds(std::move(endpoints)); });
  if (!w) return w.err();  // the node stops as it goes
  (*n)->seed_watch_ = std::move(*w);
  return n;
}

result<std::unique_ptr<node>> detail::node_internals::assemble(
    node_options options, const cluster_keys& keys, std::unique_ptr<runtime> rt,
    const std::function<std::unique_ptr<net_detail::link_io>(const node_options&, runtime&)>&
        make_io) {
  std::unique_ptr<node> n(new node());
  n->rt_ = std::move(rt);
  try {
    n->net_ = std::make_unique<transport>(*n->rt_, options, keys, make_io(options, *n->rt_));
    n->net_->start();
  } catch (const std::exception& e) {
    n->net_.reset();
    return error{errc::badarg,
                 "cannot start node " + options.name + " on " + options.listen + ": " + e.what()};
  }
  detail::set_remote_router(*n->rt_, n->net_.get());
  detail::set_io_driver(*n->rt_, n->net_.get());
  n->membership_ = std::make_shared<node_membership>(options.name, n->net_.get());
  detail::set_service<detail::membership_view>(*n->rt_, n->membership_);
  n->factories_ = std::make_shared<node::factory_table>();
  start_options so;
  so.name = spawner_name;
  so.mailbox_limit = defaults::unlimited_mailbox;  // system servers: the node's limit is for users
  if (auto s = n->rt_->start_with<spawner>(so, n->factories_); !s) return s.err();
  so.name = agent_name;
  if (auto a = n->rt_->start_with<node_agent>(so, *n); !a) return a.err();
  return n;
}

result<std::unique_ptr<node>> net_detail::start_simulated_node(node_options options,
                                                               const detail::manual_clock& clock,
                                                               const io_factory& make_io) {
  if (auto bad = check_name(options); bad.code != errc{}) return bad;
  if (auto bad = check_timing(options); bad.code != errc{}) return bad;
  runtime_options ro;
  ro.node_name = options.name;
  ro.creation = options.creation;
  ro.mailbox_limit = options.mailbox_limit;
  const cluster_keys keys = derive_keys("the simulated cluster's secret, 32+ bytes");
  return detail::node_internals::assemble(
      std::move(options), keys, detail::make_manual_runtime(ro, clock),
      [&](const node_options& o, runtime& rt) {
        return make_io(o.name + "#" + std::to_string(rt.creation()));
      });
}

transport& net_detail::transport_of(node& n) {
  return detail::node_internals::net(n);
}

void net_detail::crash(node& n) {
  detail::node_internals::crash(n);
}

void detail::node_internals::crash(node& n) {
  if (n.shut_.exchange(true)) return;
  n.seed_watch_.reset();
  detail::set_io_driver(*n.rt_, nullptr);
  detail::set_remote_router(*n.rt_, nullptr);
  n.net_->stop(false);  // no goodbye: the peers find out by silence
  if (n.membership_) static_cast<node_membership&>(*n.membership_).detach();
  n.rt_->shutdown();
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
  seed_watch_.reset();                   // it hands seeds to the transport, stopped below
  detail::set_io_driver(*rt_, nullptr);  // waits until no worker is inside the transport
  detail::set_remote_router(*rt_, nullptr);
  if (net_) net_->stop();
  if (membership_) static_cast<node_membership&>(*membership_).detach();
  rt_->shutdown();  // the workers stop; both objects stay (stopped) until the node goes
}

const std::string& node::name() const noexcept {
  return rt_->node_name();
}
const std::string& node::endpoint() const noexcept {
  return net_->endpoint();
}
const std::string& node::listen_endpoint() const noexcept {
  return net_->listen_endpoint();
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

net_metrics node::metrics() const {
  return net_->metrics();
}

std::vector<seed_status> node::seeds() const {
  return net_->seeds();
}

std::string_view to_string(seed_answer a) noexcept {
  switch (a) {
    case seed_answer::none: return "none";
    case seed_answer::welcomed: return "welcomed";
    case seed_answer::wrong_secret: return "wrong_secret";
    case seed_answer::name_in_use: return "name_in_use";
    case seed_answer::refused: return "refused";
  }
  return "unknown";
}

void test_hooks::set_blocked(node& n, std::string_view node_name, bool blocked) {
  detail::node_internals::net(n).set_blocked(node_name, blocked);
}

}  // namespace otter
