// Process groups (pg.hpp): a scope's server on each node, and its view read without a call.
#include "otter/pg.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include <otter/detail/membership.hpp>
#include <otter/gen_server.hpp>
#include <otter/node.hpp>

#include "otter/log.hpp"
#include "state.hpp"

namespace otter::pg {

std::string server_name(std::string_view scope) {
  return "otter.pg." + std::string(scope);
}

namespace {

// A node's view of one scope: written by its server, read by any thread.
struct scope_view {
  struct group_view {
    std::vector<pid> local;                          // this node's members, one per join
    std::map<std::string, std::vector<pid>> remote;  // other nodes' members, by node
    std::vector<pid> all;                            // local, then remote by node name
    void rebuild() {
      all = local;
      for (const auto& [node, pids] : remote) all.insert(all.end(), pids.begin(), pids.end());
    }
    bool empty() const { return local.empty() && remote.empty(); }
  };
  mutable std::shared_mutex mutex;
  std::unordered_map<std::string, group_view, registry_detail::string_hash, std::equal_to<>> groups;
};

// The scopes of one runtime (a service of the runtime).
struct scopes {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<scope_view>, std::less<>> by_name;

  std::shared_ptr<scope_view> find(std::string_view scope) {
    std::lock_guard<std::mutex> l(mutex);
    auto it = by_name.find(scope);
    return it == by_name.end() ? nullptr : it->second;
  }
};

std::shared_ptr<scope_view> view_of(const runtime& rt, std::string_view scope) {
  auto s = otter::detail::find_service<scopes>(rt);
  return s ? s->find(scope) : nullptr;
}

pg_reply ok_reply() {
  pg_reply r;
  r.ok = true;
  return r;
}
pg_reply error_reply(errc code, std::string message) {
  pg_reply r;
  r.code = static_cast<std::uint8_t>(code);
  r.message = std::move(message);
  return r;
}

class scope_server : public gen_server<scope_server> {
 public:
  using calls = msgs<pg_join_request, pg_leave_request, pg_monitor_request, pg_demonitor_request,
                     pg_groups_request>;
  using casts = msgs<pg_sync, pg_join, pg_leave, pg_fanout>;
  using infos = msgs<nodeup, nodedown>;

  scope_server(std::string scope, std::shared_ptr<otter::detail::membership_view> members,
               std::shared_ptr<scope_view> view)
      : scope_(std::move(scope)),
        server_(server_name(scope_)),
        members_(std::move(members)),
        view_(std::move(view)),
        me_(members_->node_name()) {}

  void init() {
    members_->monitor_nodes(self(), true);
    for (const auto& m : members_->members()) send_sync(m.name, true);
  }
  void terminate(const exit_reason&) { members_->monitor_nodes(self(), false); }

  // ---- this node's processes ----
  pg_reply handle_call(const pg_join_request& r, from&) {
    if (auto bad = foreign(r.pids)) return *bad;
    if (r.pids.empty()) return ok_reply();
    for (const auto& p : r.pids) {
      auto& m = local_[p];
      if (m.ref == 0)
        m.ref = otter::monitor(p);  // a dead Pid: its DOWN comes at once and it leaves
      ++m.groups[r.group];
    }
    change_local(r.group, r.pids, true);
    broadcast(pg_join{me_, r.group, r.pids});
    return ok_reply();
  }

  pg_reply handle_call(const pg_leave_request& r, from&) {
    std::vector<pid> left;
    if (auto bad = foreign(r.pids)) return *bad;
    for (const auto& p : r.pids) {
      auto it = local_.find(p);
      if (it == local_.end()) continue;
      auto g = it->second.groups.find(r.group);
      if (g == it->second.groups.end()) continue;
      left.push_back(p);
      if (--g->second == 0) it->second.groups.erase(g);
      if (it->second.groups.empty()) {
        otter::demonitor(it->second.ref);
        local_.erase(it);
      }
    }
    if (left.empty()) {
      return error_reply(errc::not_found,
                         "pg: not a member of group '" + r.group + "' (scope " + scope_ + ")");
    }
    change_local(r.group, left, false);
    broadcast(pg_leave{me_, r.group, left});
    return ok_reply();
  }

  subscription handle_call(const pg_monitor_request& r, from& f) {
    subscription s;
    s.ref = ++next_ref_;
    watcher w{f.caller(), r.whole_scope, r.group};
    auto known = watched_.find(w.who);
    if (known == watched_.end()) {
      watched_.emplace(w.who, otter::monitor(w.who));
    }
    watchers_.emplace(s.ref, std::move(w));
    std::shared_lock<std::shared_mutex> l(view_->mutex);
    if (r.whole_scope) {
      for (const auto& [name, g] : view_->groups) s.groups.push_back({name, g.all});
      std::sort(s.groups.begin(), s.groups.end(),
                [](const auto& a, const auto& b) { return a.group < b.group; });
    } else if (auto it = view_->groups.find(r.group); it != view_->groups.end()) {
      s.groups.push_back({r.group, it->second.all});
    }
    return s;
  }

  pg_reply handle_call(const pg_demonitor_request& r, from& f) {
    auto it = watchers_.find(r.ref);
    if (it == watchers_.end() || it->second.who != f.caller()) {
      return error_reply(errc::not_found, "pg: no such subscription of the caller");
    }
    const pid who = it->second.who;
    watchers_.erase(it);
    drop_watch_if_unused(who);
    return ok_reply();
  }

  pg_groups handle_call(const pg_groups_request&, from&) {
    pg_groups out{scope_, me_, {}};
    std::shared_lock<std::shared_mutex> l(view_->mutex);
    for (const auto& [name, g] : view_->groups) out.groups.push_back({name, g.all});
    std::sort(out.groups.begin(), out.groups.end(),
              [](const auto& a, const auto& b) { return a.group < b.group; });
    return out;
  }

  void handle_info(const down& d) {
    if (auto w = watched_.find(d.who); w != watched_.end() && w->second == d.ref) {
      watched_.erase(w);
      std::erase_if(watchers_, [&](const auto& kv) { return kv.second.who == d.who; });
    }
    auto it = local_.find(d.who);
    if (it == local_.end() || it->second.ref != d.ref) return;
    const auto groups = std::move(it->second.groups);
    local_.erase(it);
    for (const auto& [group, count] : groups) {
      std::vector<pid> left(static_cast<std::size_t>(count), d.who);
      change_local(group, left, false);
      broadcast(pg_leave{me_, group, left});
    }
  }

  // ---- other nodes ----
  void handle_info(const nodeup& u) {
    if (u.node != me_) send_sync(u.node, true);
  }

  void handle_info(const nodedown& d) {
    std::vector<std::pair<std::string, std::vector<pid>>> gone;
    {
      std::unique_lock<std::shared_mutex> l(view_->mutex);
      for (auto it = view_->groups.begin(); it != view_->groups.end();) {
        auto& g = it->second;
        if (auto r = g.remote.find(d.node); r != g.remote.end()) {
          gone.emplace_back(it->first, std::move(r->second));
          g.remote.erase(r);
          g.rebuild();
        }
        it = g.empty() ? view_->groups.erase(it) : std::next(it);
      }
    }
    for (const auto& [group, pids] : gone) notify(group, pids, false);
  }

  void handle_cast(const pg_sync& s) {
    if (s.node == me_) return;
    // Replaces all that was known of s.node: what left is told, then what joined.
    std::map<std::string, std::vector<pid>> incoming;
    for (const auto& g : s.groups) {
      if (!g.members.empty()) incoming[g.group] = g.members;
    }
    std::vector<std::pair<std::string, std::vector<pid>>> left, joined;
    {
      std::unique_lock<std::shared_mutex> l(view_->mutex);
      for (auto it = view_->groups.begin(); it != view_->groups.end();) {
        auto& g = it->second;
        auto r = g.remote.find(s.node);
        if (r != g.remote.end() && incoming.count(it->first) == 0) {
          left.emplace_back(it->first, std::move(r->second));
          g.remote.erase(r);
          g.rebuild();
        }
        it = g.empty() ? view_->groups.erase(it) : std::next(it);
      }
      for (auto& [group, pids] : incoming) {
        auto& g = view_->groups[group];
        auto& old = g.remote[s.node];
        auto [gone, added] = difference(old, pids);
        if (!gone.empty()) left.emplace_back(group, std::move(gone));
        if (!added.empty()) joined.emplace_back(group, std::move(added));
        old = pids;
        g.rebuild();
      }
    }
    for (const auto& [group, pids] : left) notify(group, pids, false);
    for (const auto& [group, pids] : joined) notify(group, pids, true);
    if (s.reply) send_sync(s.node, false);
  }

  void handle_cast(const pg_join& j) {
    if (j.node == me_) return;
    {
      std::unique_lock<std::shared_mutex> l(view_->mutex);
      auto& g = view_->groups[j.group];
      auto& pids = g.remote[j.node];
      pids.insert(pids.end(), j.pids.begin(), j.pids.end());
      g.rebuild();
    }
    notify(j.group, j.pids, true);
  }

  void handle_cast(const pg_leave& lv) {
    if (lv.node == me_) return;
    std::vector<pid> left;
    {
      std::unique_lock<std::shared_mutex> l(view_->mutex);
      auto it = view_->groups.find(lv.group);
      if (it == view_->groups.end()) return;
      auto r = it->second.remote.find(lv.node);
      if (r == it->second.remote.end()) return;
      for (const auto& p : lv.pids) {
        if (auto at = std::find(r->second.begin(), r->second.end(), p); at != r->second.end()) {
          r->second.erase(at);
          left.push_back(p);
        }
      }
      if (r->second.empty()) it->second.remote.erase(r);
      it->second.rebuild();
      if (it->second.empty()) view_->groups.erase(it);
    }
    if (!left.empty()) notify(lv.group, left, false);
  }

  void handle_cast(const pg_fanout& f) {
    std::vector<pid> local;
    {
      std::shared_lock<std::shared_mutex> l(view_->mutex);
      auto it = view_->groups.find(f.group);
      if (it == view_->groups.end()) return;
      local = it->second.local;
    }
    for (const auto& p : local) {
      auto e = std::make_unique<otter::detail::remote_envelope>(otter::detail::sig::cast, f.type,
                                                                f.body.get(), f.body.zone());
      (void)otter::detail::deliver(rt(), p, std::move(e));
    }
  }

 private:
  struct member {
    monitor_ref ref = 0;
    std::map<std::string, int> groups;  // group -> joins
  };
  struct watcher {
    pid who;
    bool whole_scope = true;
    std::string group;
  };

  // badarg for the first Pid of another node (a node joins and leaves its own processes only).
  std::optional<pg_reply> foreign(const std::vector<pid>& pids) {
    for (const auto& p : pids) {
      if (!rt().is_local(p)) {
        return error_reply(errc::badarg, "pg: " + to_string(p) + " is not a process of node " +
                                             me_ + " (a node joins its own processes only)");
      }
    }
    return std::nullopt;
  }

  static std::pair<std::vector<pid>, std::vector<pid>> difference(std::vector<pid> old,
                                                                  std::vector<pid> now) {
    std::sort(old.begin(), old.end());
    std::sort(now.begin(), now.end());
    std::vector<pid> gone, added;
    std::set_difference(old.begin(), old.end(), now.begin(), now.end(), std::back_inserter(gone));
    std::set_difference(now.begin(), now.end(), old.begin(), old.end(), std::back_inserter(added));
    return {std::move(gone), std::move(added)};
  }

  void change_local(const std::string& group, const std::vector<pid>& pids, bool joined) {
    {
      std::unique_lock<std::shared_mutex> l(view_->mutex);
      auto& g = view_->groups[group];
      if (joined) {
        g.local.insert(g.local.end(), pids.begin(), pids.end());
      } else {
        for (const auto& p : pids) {
          if (auto at = std::find(g.local.begin(), g.local.end(), p); at != g.local.end()) {
            g.local.erase(at);
          }
        }
      }
      g.rebuild();
      if (g.empty()) view_->groups.erase(group);
    }
    notify(group, pids, joined);
  }

  void notify(const std::string& group, const std::vector<pid>& pids, bool joined) {
    for (const auto& [ref, w] : watchers_) {
      if (!w.whole_scope && w.group != group) continue;
      (void)otter::send(w.who, pg_event{ref, joined, scope_, group, pids});
    }
  }

  void drop_watch_if_unused(const pid& who) {
    for (const auto& [ref, w] : watchers_) {
      if (w.who == who) return;
    }
    if (auto it = watched_.find(who); it != watched_.end()) {
      otter::demonitor(it->second);
      watched_.erase(it);
    }
  }

  void send_sync(const std::string& node, bool want_reply) {
    pg_sync s{me_, want_reply, {}};
    {
      std::shared_lock<std::shared_mutex> l(view_->mutex);
      for (const auto& [name, g] : view_->groups) {
        if (!g.local.empty()) s.groups.push_back({name, g.local});
      }
    }
    (void)cast(dest::at(server_, node), std::move(s));
  }

  template <class M>
  void broadcast(const M& m) {
    for (const auto& n : members_->members()) (void)cast(dest::at(server_, n.name), M(m));
  }

  std::string scope_;
  std::string server_;
  std::shared_ptr<otter::detail::membership_view> members_;
  std::shared_ptr<scope_view> view_;
  std::string me_;
  std::unordered_map<pid, member> local_;
  std::map<std::uint64_t, watcher> watchers_;     // subscriptions by ref
  std::unordered_map<pid, monitor_ref> watched_;  // subscribers, monitored once each
  std::uint64_t next_ref_ = 0;
};

result<void> to_result(const result<pg_reply>& r) {
  if (!r) return r.err();
  if (r->ok) return ok();
  return error{static_cast<errc>(r->code), r->message};
}

}  // namespace

result<void> start_scope(node& n, std::string scope) {
  runtime& rt = n.rt();
  auto members = otter::detail::find_service<otter::detail::membership_view>(rt);
  if (!members) return error{errc::badarg, "node " + n.name() + " has no membership"};
  auto all = otter::detail::find_service<scopes>(rt);
  if (!all) {
    all = std::make_shared<scopes>();
    otter::detail::set_service(rt, all);
  }
  auto view = std::make_shared<scope_view>();
  {
    std::lock_guard<std::mutex> l(all->mutex);
    if (all->by_name.count(scope) > 0) {
      return error{errc::already_registered,
                   "pg scope '" + scope + "' already runs on " + n.name()};
    }
    all->by_name.emplace(scope, view);
  }
  start_options so;
  so.name = server_name(scope);
  so.mailbox_limit = defaults::unlimited_mailbox;  // a system server: never drops (pg views)
  auto p = rt.start_with<scope_server>(so, scope, members, view);
  if (!p) {
    std::lock_guard<std::mutex> l(all->mutex);
    all->by_name.erase(scope);
    return p.err();
  }
  return ok();
}

// The requests are locals, not temporaries inside the co_await expression (GCC bug 100611).
task<result<void>> join(std::string group, std::vector<pid> pids, std::string scope) {
  pg_join_request req{std::move(group), std::move(pids)};
  const dest server = server_name(scope);
  co_return to_result(co_await call<pg_reply>(server, std::move(req)));
}
task<result<void>> join(std::string group, pid p, std::string scope) {
  return join(std::move(group), std::vector<pid>{p}, std::move(scope));
}
task<result<void>> leave(std::string group, std::vector<pid> pids, std::string scope) {
  pg_leave_request req{std::move(group), std::move(pids)};
  const dest server = server_name(scope);
  co_return to_result(co_await call<pg_reply>(server, std::move(req)));
}
task<result<void>> leave(std::string group, pid p, std::string scope) {
  return leave(std::move(group), std::vector<pid>{p}, std::move(scope));
}

std::vector<pid> get_members(runtime& rt, std::string_view group, std::string_view scope) {
  auto v = view_of(rt, scope);
  if (!v) return {};
  std::shared_lock<std::shared_mutex> l(v->mutex);
  auto it = v->groups.find(group);
  return it == v->groups.end() ? std::vector<pid>{} : it->second.all;
}
std::vector<pid> get_local_members(runtime& rt, std::string_view group, std::string_view scope) {
  auto v = view_of(rt, scope);
  if (!v) return {};
  std::shared_lock<std::shared_mutex> l(v->mutex);
  auto it = v->groups.find(group);
  return it == v->groups.end() ? std::vector<pid>{} : it->second.local;
}
std::vector<std::string> which_groups(runtime& rt, std::string_view scope) {
  auto v = view_of(rt, scope);
  if (!v) return {};
  std::vector<std::string> out;
  {
    std::shared_lock<std::shared_mutex> l(v->mutex);
    for (const auto& [name, g] : v->groups) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<pid> get_members(std::string_view group, std::string_view scope) {
  return get_members(this_runtime(), group, scope);
}
std::vector<pid> get_local_members(std::string_view group, std::string_view scope) {
  return get_local_members(this_runtime(), group, scope);
}
std::vector<std::string> which_groups(std::string_view scope) {
  return which_groups(this_runtime(), scope);
}

task<result<subscription>> monitor_scope(std::string scope) {
  pg_monitor_request req{true, {}};
  const dest server = server_name(scope);
  co_return co_await call<subscription>(server, std::move(req));
}
task<result<subscription>> monitor(std::string group, std::string scope) {
  pg_monitor_request req{false, std::move(group)};
  const dest server = server_name(scope);
  co_return co_await call<subscription>(server, std::move(req));
}
task<result<void>> demonitor(std::uint64_t ref, std::string scope) {
  pg_demonitor_request req{ref};
  const dest server = server_name(scope);
  co_return to_result(co_await call<pg_reply>(server, std::move(req)));
}

namespace detail {

void fan_out(runtime& rt, std::string_view scope, const std::vector<std::string>& nodes,
             const std::string& group, std::string_view type, const otter::dynamic& body) {
  const std::string server = server_name(scope);
  for (const auto& n : nodes) {
    (void)rt.cast(dest::at(server, n), pg_fanout{group, std::string(type), body});
  }
}

void split_members(runtime& rt, std::string_view scope, std::string_view group,
                   std::vector<pid>& local, std::vector<std::string>& remote_nodes) {
  auto v = view_of(rt, scope);
  if (!v) return;
  std::shared_lock<std::shared_mutex> l(v->mutex);
  auto it = v->groups.find(group);
  if (it == v->groups.end()) return;
  local = it->second.local;
  for (const auto& [node, pids] : it->second.remote) remote_nodes.push_back(node);
}

}  // namespace detail

}  // namespace otter::pg
