// kv@NODE and the contest for the global name `kv` (see otter/demo.hpp).
#include <spdlog/spdlog.h>

#include "otter/demo.hpp"
#include "request.hpp"

namespace otter::demo {

namespace {
constexpr std::string_view kv_usage =
    R"(["put", key, value], ["get", key], ["delete", key] or ["keys"], keys being strings)";
}

void kv::init() {
  // init cannot await the registry: the claim runs as this server's first message.
  (void)otter::send(otter::self(), kv_claim{});
}

noreply_t kv::handle_call(const dynamic& request, from& caller) {
  detail::answer(caller, handle(request));
  return noreply;
}

void kv::handle_cast(const dynamic& request) {
  auto r = detail::split(request);
  if (!r || (r->command != "put" && r->command != "delete")) {
    if (std::uint64_t more = 0; dropped_log_.allow(more)) {
      spdlog::warn("{}: dropped a cast it cannot apply (casts take put and delete): {}{}", name_,
                   detail::to_text(request.get()), detail::more_since(more));
    }
    return;
  }
  if (auto done = handle(request); !done) {
    if (std::uint64_t more = 0; dropped_log_.allow(more)) {
      spdlog::warn("{}: dropped a cast: {}{}", name_, done.err().message, detail::more_since(more));
    }
  }
}

result<dynamic> kv::handle(const dynamic& request) {
  auto r = detail::split(request);
  if (!r) return detail::bad_request(name_, kv_usage, request);
  if (r->command == "keys" && r->arg_count == 0) {
    std::vector<std::string> keys;
    keys.reserve(data_.size());
    for (const auto& entry : data_) keys.push_back(entry.first);
    return dynamic::of(keys);
  }
  const auto key = r->arg_count >= 1 ? detail::string_of(r->args[0]) : std::nullopt;
  if (!key) return detail::bad_request(name_, kv_usage, request);
  if (r->command == "put" && r->arg_count == 2) {
    data_.insert_or_assign(*key, dynamic(r->args[1]));
    return dynamic::of(std::string("ok"));
  }
  if (r->command == "get" && r->arg_count == 1) {
    auto it = data_.find(*key);
    return it == data_.end() ? dynamic() : it->second;  // nil when absent
  }
  if (r->command == "delete" && r->arg_count == 1) {
    data_.erase(*key);
    return dynamic::of(std::string("ok"));
  }
  return detail::bad_request(name_, kv_usage, request);
}

task<void> kv::handle_info(const kv_claim&) {
  if (holder_ || watch_ != 0) co_return;  // a stale claim: holding already, or watching a holder
  register_options o;
  o.on_conflict = conflict_policy::notify;  // losing after a partition heals: become a standby
  std::string name = global_name_;
  const pid me = otter::self();
  // Named locals, not temporaries, inside the co_await (GCC bug 100611).
  auto registration = register_global(std::move(name), me, o);
  auto r = co_await std::move(registration);
  if (r || (r.code() == errc::already_registered && r.err().holder == me)) {
    holder_ = true;
    spdlog::info("{}: holds the global name '{}'", name_, global_name_);
  } else if (r.code() == errc::already_registered && r.err().holder) {
    watch(r.err().holder);
  } else {
    spdlog::warn("{}: could not register '{}' ({}); retrying in {} ms", name_, global_name_,
                 r.err().message, demo_defaults::kv_retry_interval.count());
    otter::send_after(demo_defaults::kv_retry_interval, me, kv_claim{});
  }
}

void kv::watch(const pid& holder) {
  if (holder == last_dead_) {
    // The registry still lists a holder that died; it drops it within the failure-detection
    // bound. Try again shortly rather than monitor a corpse (whose DOWN would come at once).
    otter::send_after(demo_defaults::kv_retry_interval, otter::self(), kv_claim{});
    return;
  }
  watched_ = holder;
  watch_ = otter::monitor(holder);
  spdlog::info("{}: standby for '{}', held by {}", name_, global_name_, to_string(holder));
}

void kv::handle_info(const down& d) {
  if (d.ref != watch_) return;
  spdlog::info("{}: the holder {} of '{}' is down ({}); claiming it", name_, to_string(d.who),
               global_name_, d.reason.str());
  last_dead_ = d.who;
  watched_ = pid{};
  watch_ = 0;
  (void)otter::send(otter::self(), kv_claim{});
}

void kv::handle_info(const name_conflict& c) {
  if (c.name != global_name_) return;
  spdlog::warn("{}: lost '{}' to {} when a partition healed; now a standby", name_, c.name,
               to_string(c.winner));
  holder_ = false;
  if (watch_ != 0) otter::demonitor(watch_);
  watch_ = 0;
  watch(c.winner);
}

}  // namespace otter::demo
