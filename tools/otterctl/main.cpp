// otterctl: the node tool. Connects to any node of a cluster as a hidden node and shows or
// drives the cluster: nodes, global names, processes, supervision trees, a server's state,
// process groups; calls and casts with JSON payloads; exit signals; ping; counters; a live top.
//
//   otterctl [--node tcp://HOST:PORT] [--secret-file PATH] [--insecure] [--json] SUBCOMMAND ...
//
// The node and secret file also come from OTTER_NODE / OTTER_SECRET_FILE. Exit codes (the
// exit_code enum below; `otterctl --help` lists them): 0 ok, 1 the operation failed (unknown
// name, timeout, remote error), 2 usage error, 3 cannot reach or authenticate to the node.
// Errors are one line on stderr; --json output is one JSON document on stdout (top: one per
// refresh).
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <otter/agent.hpp>
#include <otter/log.hpp>
#include <otter/otter.hpp>

namespace otterctl {

using json = nlohmann::json;
using namespace std::chrono_literals;

// The exit codes of the CLI contract.
enum exit_code : int { ok = 0, failed = 1, usage = 2, unreachable = 3 };

// An error that ends the command with `code` and one line on stderr.
struct failure {
  int code;
  std::string message;
};

struct options {
  std::string node;
  std::string secret_file;
  bool as_json = false;
  bool insecure = false;  // the cluster runs with --insecure: no CURVE (the proof still counts)
  int connect_timeout_ms = 5000;
  int timeout_ms = 5000;
};

std::string pid_text(const otter::pid& p) {
  return p ? otter::to_string(p) : "-";
}

std::string duration_text(std::int64_t ms) {
  const std::int64_t s = ms / 1000;
  if (s < 60) return fmt::format("{}.{}s", s, (ms % 1000) / 100);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::string bytes_text(std::uint64_t b) {
  if (b < 10 * 1024) return fmt::format("{} B", b);
  if (b < 10 * 1024 * 1024) return fmt::format("{} KiB", b / 1024);
  return fmt::format("{} MiB", b / (1024 * 1024));
}

// A table printed with aligned columns.
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < r.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], r[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (std::size_t c = 0; c < r.size(); ++c) {
      out += r[c];
      if (c + 1 < r.size()) out += std::string(width[c] - r[c].size() + 2, ' ');
    }
    std::printf("%s\n", out.c_str());
  };
  line(header);
  for (const auto& r : rows) line(r);
}

json to_json(const otter::pid& p) {
  return p ? json(otter::to_string(p)) : json(nullptr);
}

// The connection: a hidden node joined to --node, reaching other members on demand.
class session {
 public:
  explicit session(const options& o) : opts_(o) {
    if (opts_.node.empty()) {
      throw failure{usage, "no node given: use --node tcp://HOST:PORT or set OTTER_NODE"};
    }
    const std::string secret =
        opts_.secret_file.empty() ? otter::default_secret_path() : opts_.secret_file;
    std::error_code ec;
    if (!std::filesystem::exists(secret, ec)) {
      throw failure{unreachable,
                    "no secret file at " + secret + " (use --secret-file or OTTER_SECRET_FILE)"};
    }
    otter::node_options no;
    no.name = "otterctl-" + std::to_string(::getpid());
    no.hidden = true;
    no.seeds = {opts_.node};
    no.secret_file = secret;
    no.insecure = opts_.insecure;
    no.workers = 1;
    auto n = otter::node::start(no);
    if (!n) throw failure{unreachable, "cannot start a connection: " + n.err().message};
    node_ = std::move(*n);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.connect_timeout_ms);
    while (node_->peers().empty()) {
      // A node that refuses us does so at once: say so, not "cannot reach" after the timeout.
      for (const auto& seed : node_->seeds()) {
        if (seed.answer == otter::seed_answer::wrong_secret ||
            seed.answer == otter::seed_answer::refused) {
          throw failure{
              unreachable,
              fmt::format(
                  "the node at {} refused this connection: {} ({}; is the "
                  "secret file the node's?)",
                  opts_.node,
                  seed.answer == otter::seed_answer::wrong_secret ? "wrong secret?" : "refused",
                  seed.reason)};
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        throw failure{unreachable,
                      fmt::format("cannot reach or authenticate to the node at {} within {} ms "
                                  "(is it running, and is the secret file the same?)",
                                  opts_.node, opts_.connect_timeout_ms)};
      }
      std::this_thread::sleep_for(5ms);
    }
    seed_ = node_->peers().front().name;
    me_ = std::make_unique<otter::scoped_process>(node_->rt());
  }
  ~session() {
    me_.reset();
    if (node_) node_->shutdown();
  }

  otter::scoped_process& me() { return *me_; }
  otter::node& node() { return *node_; }
  const std::string& seed() const { return seed_; }
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(opts_.timeout_ms); }

  otter::node_status status_of(const std::string& node_name) {
    reach(node_name);
    auto r = me_->await(otter::call<otter::node_status>(
        otter::dest::at(otter::agent_name, node_name), otter::node_status_q{}, timeout()));
    if (!r) throw failure{failed, "node " + node_name + ": " + r.err().message};
    return std::move(*r);
  }

  // Every visible member's name, the seed first.
  std::vector<std::string> members() {
    if (members_.empty()) {
      auto s = status_of(seed_);
      members_.push_back(seed_);
      for (const auto& m : s.members) {
        members_.push_back(m.name);
        endpoints_[m.name] = m.endpoint;
      }
    }
    return members_;
  }

  // Makes sure this tool is connected to `node_name` (the members beyond the seed are reached
  // through the endpoints the seed reports).
  void reach(const std::string& node_name) {
    if (connected(node_name)) return;
    if (endpoints_.empty()) (void)members();
    auto it = endpoints_.find(node_name);
    if (it == endpoints_.end()) {
      throw failure{failed, "no node named '" + node_name + "' in the cluster of " + seed_};
    }
    node_->connect(it->second);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.connect_timeout_ms);
    while (!connected(node_name)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        throw failure{failed, "cannot reach node " + node_name + " at " + it->second};
      }
      std::this_thread::sleep_for(5ms);
    }
  }

  // The answer of one member to a fan-out: its reply, or why there is none.
  template <class R>
  struct answer {
    std::string node;
    std::optional<R> reply;
    std::string problem;  // when no reply: "timeout", "unreachable", or the call's error
  };

  // Asks `server` on every node of `nodes` at once, under one overall deadline (--timeout):
  // connects to every member not yet connected in parallel, then sends every request before
  // waiting for any reply. A member that does not answer in time is reported, not waited for.
  template <class R, class T>
  std::vector<answer<R>> fan_out(const std::vector<std::string>& nodes, const std::string& server,
                                 const T& request) {
    const auto deadline = std::chrono::steady_clock::now() + timeout();
    if (endpoints_.empty()) (void)members();
    for (const auto& n : nodes) {
      if (connected(n)) continue;
      auto it = endpoints_.find(n);
      if (it != endpoints_.end()) node_->connect(it->second);
    }
    std::vector<answer<R>> out(nodes.size());
    otter::request_id_collection<R, std::size_t> pending;
    std::vector<bool> asked(nodes.size(), false);
    // Takes the replies that come within `wait` (all there are, then at most `wait` more);
    // `last`: those still missing then are abandoned (their late replies dropped).
    const auto collect = [&](std::chrono::milliseconds wait, bool last) {
      while (!pending.empty()) {
        auto r = me_->await(last ? otter::receive_response(pending, wait)
                                 : otter::wait_response(pending, wait));
        if (!r) return;
        if (r->reply) {
          out[r->label].reply.emplace(std::move(*r->reply));
        } else {
          out[r->label].problem = r->reply.err().message;
        }
      }
    };
    for (;;) {  // each member asked as soon as it is connected
      std::size_t waiting = 0;
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        out[i].node = nodes[i];
        if (asked[i]) continue;
        if (!connected(nodes[i])) {
          ++waiting;
          continue;
        }
        asked[i] = true;
        me_->await([&]() -> otter::task<int> {  // send_request needs a process context
          pending.add(otter::send_request<R>(otter::dest::at(server, nodes[i]), T(request)), i);
          co_return 0;
        }());
      }
      if (waiting == 0 || std::chrono::steady_clock::now() >= deadline) break;
      if (pending.empty()) {
        std::this_thread::sleep_for(2ms);
      } else {
        collect(2ms, false);  // the answers of those connected, while the others connect
      }
    }
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!asked[i]) out[i].problem = "unreachable";
    }
    collect(std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                         deadline - std::chrono::steady_clock::now()),
                     0ms),
            true);  // then the deadline: the rest abandoned
    for (auto& a : out) {
      if (!a.reply && a.problem.empty()) a.problem = "timeout";
    }
    return out;
  }

  // The member a Pid belongs to.
  std::string node_of(const otter::pid& p) {
    for (const auto& n : members()) {
      if (otter::node_id_of(n) == p.node) return n;
    }
    throw failure{failed, "process " + otter::to_string(p) + " is not on a connected node"};
  }

  // The global registry as the seed has it, asked once per command (see forget_names).
  const otter::global_names& global_names() {
    if (!names_) {
      auto r = me_->await(otter::call<otter::global_names>(
          otter::dest::at(otter::global_server_name, seed_), otter::global_list{}, timeout()));
      if (!r) throw failure{failed, "the global registry of " + seed_ + ": " + r.err().message};
      names_ = std::move(*r);
    }
    return *names_;
  }
  void forget_names() { names_.reset(); }

  // A Pid, a global name, or a name registered on the seed node.
  otter::pid resolve(const std::string& target) {
    if (auto p = otter::parse_pid(target)) {
      reach(node_of(*p));
      return *p;
    }
    for (const auto& e : global_names().entries) {
      if (e.name == target) {
        reach(node_of(e.holder));
        return e.holder;
      }
    }
    auto r = me_->await(otter::call<otter::process_info>(otter::dest::at(target, seed_),
                                                         otter::sys_get_status{}, timeout()));
    if (r) return r->row.id;
    throw failure{failed,
                  "no process registered as '" + target + "' (globally or on " + seed_ + ")"};
  }

 private:
  bool connected(const std::string& node_name) const {
    for (const auto& p : node_->peers()) {
      if (p.name == node_name) return true;
    }
    return false;
  }

  options opts_;
  std::unique_ptr<otter::node> node_;
  std::unique_ptr<otter::scoped_process> me_;
  std::string seed_;
  std::vector<std::string> members_;
  std::map<std::string, std::string> endpoints_;
  std::optional<otter::global_names> names_;
};

// ---- subcommands ----

int cmd_nodes(session& s, bool as_json) {
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& a :
       s.fan_out<otter::node_status>(s.members(), otter::agent_name, otter::node_status_q{})) {
    if (!a.reply) {
      out.push_back({{"name", a.node}, {"status", a.problem}});
      rows.push_back({a.node, "-", "-", a.problem, "-", "-"});
      continue;
    }
    const auto& st = *a.reply;
    out.push_back({{"name", st.self.name},
                   {"endpoint", st.self.endpoint},
                   {"creation", st.self.creation},
                   {"status", "up"},
                   {"uptime_ms", st.self.up_ms},
                   {"processes", st.runtime.processes}});
    rows.push_back({st.self.name, st.self.endpoint, std::to_string(st.self.creation), "up",
                    duration_text(st.self.up_ms), std::to_string(st.runtime.processes)});
  }
  if (as_json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    print_table({"NAME", "ENDPOINT", "CREATION", "STATUS", "UPTIME", "PROCESSES"}, rows);
  }
  return ok;
}

int cmd_names(session& s, bool as_json) {
  const auto& names = s.global_names();
  if (as_json) {
    json out = json::array();
    for (const auto& e : names.entries) {
      out.push_back({{"name", e.name}, {"pid", otter::to_string(e.holder)}, {"node", e.node}});
    }
    std::printf("%s\n", out.dump().c_str());
    return ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : names.entries) rows.push_back({e.name, otter::to_string(e.holder), e.node});
  print_table({"NAME", "PID", "NODE"}, rows);
  return ok;
}

struct ps_row {
  std::string node;
  otter::process_row row;
  std::string global;  // global names held
};

std::vector<ps_row> collect_ps(session& s, const std::string& only_node) {
  std::map<otter::pid, std::string> global;
  for (const auto& e : s.global_names().entries) {
    auto& g = global[e.holder];
    g += (g.empty() ? "" : ",") + e.name;
  }
  std::vector<ps_row> out;
  if (!only_node.empty()) s.reach(only_node);  // a named node must exist
  std::vector<std::string> nodes =
      only_node.empty() ? s.members() : std::vector<std::string>{only_node};
  for (auto& a : s.fan_out<otter::ps_reply>(nodes, otter::agent_name, otter::ps_q{})) {
    if (!a.reply) {
      if (!only_node.empty()) throw failure{failed, "node " + a.node + ": " + a.problem};
      std::fprintf(stderr, "otterctl: node %s did not answer (%s): its processes are not listed\n",
                   a.node.c_str(), a.problem.c_str());
      continue;
    }
    for (auto& row : a.reply->processes) {
      auto g = global.find(row.id);
      out.push_back(ps_row{a.node, std::move(row), g == global.end() ? "" : g->second});
    }
  }
  return out;
}

std::string names_of(const ps_row& r) {
  if (r.row.name.empty()) return r.global.empty() ? "-" : r.global;
  return r.global.empty() ? r.row.name : r.row.name + "," + r.global;
}

json row_json(const ps_row& r) {
  return {{"node", r.node},
          {"pid", otter::to_string(r.row.id)},
          {"name", r.row.name},
          {"global_names", r.global},
          {"behaviour", r.row.behaviour},
          {"mailbox", r.row.mailbox},
          {"handled", r.row.handled},
          {"dropped", r.row.dropped},
          {"memory_bytes", r.row.memory_bytes},
          {"status", r.row.status},
          {"parent", to_json(r.row.parent)}};
}

int cmd_ps(session& s, const std::string& only_node, bool as_json) {
  auto rows = collect_ps(s, only_node);
  if (as_json) {
    json out = json::array();
    for (const auto& r : rows) out.push_back(row_json(r));
    std::printf("%s\n", out.dump().c_str());
    return ok;
  }
  std::vector<std::vector<std::string>> t;
  for (const auto& r : rows) {
    t.push_back({r.node, otter::to_string(r.row.id), names_of(r), r.row.behaviour,
                 std::to_string(r.row.mailbox), std::to_string(r.row.handled),
                 std::to_string(r.row.dropped), bytes_text(r.row.memory_bytes), r.row.status});
  }
  print_table(
      {"NODE", "PID", "NAME", "BEHAVIOUR", "MAILBOX", "HANDLED", "DROPPED", "MEMORY", "STATUS"}, t);
  return ok;
}

int cmd_info(session& s, const std::string& target, bool as_json) {
  const otter::pid p = s.resolve(target);
  auto r = s.me().await(otter::call<otter::process_info>(p, otter::sys_get_status{}, s.timeout()));
  if (!r) throw failure{failed, target + ": " + r.err().message};
  std::string global;
  for (const auto& e : s.global_names().entries) {
    if (e.holder == p) global += (global.empty() ? "" : ",") + e.name;
  }
  // Its supervisor: the parent, when the parent is one.
  std::string parent_kind;
  if (r->row.parent) {
    auto pr = s.me().await(
        otter::call<otter::process_info>(r->row.parent, otter::sys_get_status{}, s.timeout()));
    if (pr) parent_kind = pr->row.behaviour;
  }
  const bool supervised = parent_kind == "supervisor" || parent_kind == "dynamic_supervisor";
  auto pids = [](const std::vector<otter::pid>& v) {
    json a = json::array();
    for (const auto& x : v) a.push_back(otter::to_string(x));
    return a;
  };
  if (as_json) {
    json out = row_json(ps_row{s.node_of(p), r->row, global});
    out["trap_exit"] = r->trap_exit;
    out["links"] = pids(r->links);
    out["monitors"] = pids(r->monitors);
    out["monitored_by"] = pids(r->monitored_by);
    out["supervisor"] = supervised ? to_json(r->row.parent) : json(nullptr);
    std::printf("%s\n", out.dump().c_str());
    return ok;
  }
  auto list = [](const std::vector<otter::pid>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : " ") + otter::to_string(x);
    return out.empty() ? std::string("-") : out;
  };
  std::printf("pid           %s\n", otter::to_string(p).c_str());
  std::printf("node          %s\n", s.node_of(p).c_str());
  std::printf("name          %s\n", r->row.name.empty() ? "-" : r->row.name.c_str());
  std::printf("global names  %s\n", global.empty() ? "-" : global.c_str());
  std::printf("behaviour     %s\n", r->row.behaviour.c_str());
  std::printf("status        %s\n", r->row.status.c_str());
  std::printf("mailbox       %u\n", r->row.mailbox);
  std::printf("handled       %llu\n", static_cast<unsigned long long>(r->row.handled));
  std::printf("dropped       %llu\n", static_cast<unsigned long long>(r->row.dropped));
  std::printf("memory        %s\n", bytes_text(r->row.memory_bytes).c_str());
  std::printf("trap_exit     %s\n", r->trap_exit ? "true" : "false");
  std::printf("supervisor    %s\n", supervised ? otter::to_string(r->row.parent).c_str() : "-");
  std::printf("parent        %s\n", pid_text(r->row.parent).c_str());
  std::printf("links         %s\n", list(r->links).c_str());
  std::printf("monitors      %s\n", list(r->monitors).c_str());
  std::printf("monitored by  %s\n", list(r->monitored_by).c_str());
  return ok;
}

json tree_of(session& s, const otter::dest& sup, int depth) {
  auto r = s.me().await(
      otter::call<otter::which_children_reply>(sup, otter::which_children_request{}, s.timeout()));
  if (!r) throw failure{failed, "which_children: " + r.err().message};
  json children = json::array();
  for (const auto& c : r->children) {
    json j = {{"id", c.id},
              {"pid", to_json(c.child)},
              {"type", std::string(otter::to_string(c.type))},
              {"restart", std::string(otter::to_string(c.restart))},
              {"status", std::string(otter::to_string(c.status))}};
    if (c.type == otter::child_type::supervisor && c.child && depth < 32) {
      j["children"] = tree_of(s, c.child, depth + 1);
    }
    children.push_back(std::move(j));
  }
  return children;
}

void draw(const json& children, const std::string& indent) {
  for (std::size_t i = 0; i < children.size(); ++i) {
    const json& c = children[i];
    const bool last = i + 1 == children.size();
    std::printf("%s%s %s  %s  %s %s %s\n", indent.c_str(), last ? "└─" : "├─",
                c["id"].get<std::string>().c_str(),
                c["pid"].is_null() ? "-" : c["pid"].get<std::string>().c_str(),
                c["type"].get<std::string>().c_str(), c["restart"].get<std::string>().c_str(),
                c["status"].get<std::string>().c_str());
    if (c.contains("children")) draw(c["children"], indent + (last ? "   " : "│  "));
  }
}

int cmd_tree(session& s, const std::string& only_node, bool as_json) {
  json out = json::array();
  std::vector<std::string> nodes =
      only_node.empty() ? s.members() : std::vector<std::string>{only_node};
  for (const auto& n : nodes) {
    s.reach(n);
    const otter::dest root = otter::dest::at(std::string(otter::supervisor_defaults::root_name), n);
    auto info =
        s.me().await(otter::call<otter::process_info>(root, otter::sys_get_status{}, s.timeout()));
    json node = {{"node", n}, {"root", info ? to_json(info->row.id) : json(nullptr)}};
    node["children"] = info ? tree_of(s, root, 0) : json::array();
    if (!as_json) {
      std::printf("%s\n", n.c_str());
      if (!info) {
        std::printf("└─ (no root supervisor)\n");
        continue;
      }
      std::printf("└─ %s  %s  supervisor\n",
                  std::string(otter::supervisor_defaults::root_name).c_str(),
                  otter::to_string(info->row.id).c_str());
      draw(node["children"], "   ");
    }
    out.push_back(std::move(node));
  }
  if (as_json) std::printf("%s\n", out.dump().c_str());
  return ok;
}

// JSON text -> an untyped value (msgpack), sent with an empty type name: the server takes the
// first of its request types the body converts to.
otter::dynamic untyped(const std::string& text) {
  json payload;
  try {
    payload = json::parse(text);
  } catch (const json::exception& e) {
    throw failure{usage, "the payload is not valid JSON: " + std::string(e.what())};
  }
  const std::vector<std::uint8_t> bytes = json::to_msgpack(payload);
  auto handle = msgpack::unpack(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return otter::dynamic(handle.get());
}

int cmd_call(session& s, const std::string& target, const std::string& payload, int timeout_ms,
             bool as_json) {
  const otter::dynamic request = untyped(payload);
  const otter::pid p = s.resolve(target);
  auto r = s.me().await(otter::call_untyped(p, request, std::chrono::milliseconds(timeout_ms)));
  if (!r) {
    throw failure{failed, fmt::format("call to {} failed: {}: {}", target,
                                      otter::to_string(r.err().code), r.err().message)};
  }
  msgpack::sbuffer buf;
  msgpack::pack(buf, r->get());
  json reply;
  try {
    reply = json::from_msgpack(std::string_view(buf.data(), buf.size()));
  } catch (const json::exception& e) {
    throw failure{failed, "the reply is not representable as JSON: " + std::string(e.what())};
  }
  if (as_json) {
    std::printf("%s\n", json({{"reply", reply}, {"type", r->type_name()}}).dump().c_str());
  } else {
    std::printf("%s\n", reply.dump().c_str());
  }
  return ok;
}

int cmd_cast(session& s, const std::string& target, const std::string& payload, bool as_json) {
  const otter::dynamic message = untyped(payload);
  const otter::pid p = s.resolve(target);
  if (auto r = s.me().cast(p, message); !r) {
    throw failure{failed, "cast to " + target + " failed: " + r.err().message};
  }
  if (as_json) {
    std::printf("%s\n", json({{"ok", true}, {"pid", otter::to_string(p)}}).dump().c_str());
  } else {
    std::printf("ok\n");
  }
  return ok;
}

int cmd_kill(session& s, const std::string& target, const std::string& reason, bool as_json) {
  const otter::pid p = s.resolve(target);
  const otter::exit_reason why =
      reason == "kill" ? otter::exit_reason::kill() : otter::exit_reason(reason);
  if (auto r = s.node().rt().exit(p, why); !r) {
    throw failure{failed, "exit signal to " + target + " failed: " + r.err().message};
  }
  if (as_json) {
    std::printf(
        "%s\n",
        json({{"ok", true}, {"pid", otter::to_string(p)}, {"reason", reason}}).dump().c_str());
  } else {
    std::printf("sent exit signal '%s' to %s\n", reason.c_str(), otter::to_string(p).c_str());
  }
  return ok;
}

int cmd_ping(session& s, const std::string& node_name, bool as_json) {
  s.reach(node_name);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = s.me().await(otter::call<otter::node_status>(
      otter::dest::at(otter::agent_name, node_name), otter::node_status_q{}, s.timeout()));
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!r) throw failure{failed, "pang: " + node_name + ": " + r.err().message};
  if (as_json) {
    std::printf("%s\n", json({{"node", node_name}, {"rtt_ms", ms}}).dump().c_str());
  } else {
    std::printf("pong from %s in %.3f ms\n", node_name.c_str(), ms);
  }
  return ok;
}

int cmd_stats(session& s, bool as_json) {
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& a :
       s.fan_out<otter::node_status>(s.members(), otter::agent_name, otter::node_status_q{})) {
    const std::string& n = a.node;
    if (!a.reply) {
      out.push_back({{"node", n}, {"status", a.problem}});
      rows.push_back({n, a.problem, "-", "-", "-", "-", "-", "-", "-", "-", "-"});
      continue;
    }
    const auto& st = *a.reply;
    const auto& rt = st.runtime;
    const auto& net = st.net;
    out.push_back({{"node", n},
                   {"uptime_ms", rt.uptime_ms},
                   {"processes", rt.processes},
                   {"spawned", rt.spawned},
                   {"exited", rt.exited},
                   {"messages_handled", rt.messages_handled},
                   {"calls_handled", rt.calls_handled},
                   {"messages_dropped", rt.messages_dropped},
                   {"restarts", rt.restarts},
                   {"messages_in", net.envelopes_in},
                   {"messages_out", net.envelopes_out},
                   {"bytes_in", net.bytes_in},
                   {"bytes_out", net.bytes_out},
                   {"rejected", net.rejected},
                   {"shed", net.shed}});
    rows.push_back({n, duration_text(rt.uptime_ms), std::to_string(rt.processes),
                    std::to_string(rt.messages_handled), std::to_string(rt.calls_handled),
                    std::to_string(rt.restarts), std::to_string(net.envelopes_in),
                    std::to_string(net.envelopes_out), bytes_text(net.bytes_in),
                    bytes_text(net.bytes_out), std::to_string(rt.messages_dropped)});
  }
  if (as_json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    print_table({"NODE", "UPTIME", "PROCS", "HANDLED", "CALLS", "RESTARTS", "MSG_IN", "MSG_OUT",
                 "BYTES_IN", "BYTES_OUT", "DROPPED"},
                rows);
  }
  return ok;
}

// Raw, non-blocking keyboard input while `top` runs on a terminal.
class raw_terminal {
 public:
  raw_terminal() {
    if (!::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~raw_terminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }
  raw_terminal(const raw_terminal&) = delete;
  raw_terminal& operator=(const raw_terminal&) = delete;
  // Waits up to `ms` for a key; true when it is 'q'.
  bool quit_within(int ms) {
    pollfd p{0, POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return false;
      if (!active_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(left));  // refresh period
        return false;
      }
      if (::poll(&p, 1, static_cast<int>(left)) > 0) {
        char c = 0;
        if (::read(0, &c, 1) == 1 && (c == 'q' || c == 'Q')) return true;
      }
    }
  }

 private:
  termios saved_{};
  bool active_ = false;
};

int cmd_top(session& s, const std::string& only_node, int iterations, int interval_ms, int lines,
            bool as_json) {
  raw_terminal term;
  const bool tty = ::isatty(1) != 0 && !as_json;
  std::map<otter::pid, std::uint64_t> before;
  for (int i = 0; iterations <= 0 || i < iterations; ++i) {
    s.forget_names();  // names change between refreshes
    auto rows = collect_ps(s, only_node);
    struct scored {
      std::uint64_t delta;
      const ps_row* row;
    };
    std::vector<scored> ranked;
    for (const auto& r : rows) {
      auto b = before.find(r.row.id);
      const std::uint64_t prev = b == before.end() ? r.row.handled : b->second;
      ranked.push_back({r.row.handled - std::min(prev, r.row.handled), &r});
    }
    std::sort(ranked.begin(), ranked.end(), [](const scored& a, const scored& b) {
      if (a.delta != b.delta) return a.delta > b.delta;
      return a.row->row.mailbox > b.row->row.mailbox;
    });
    if (ranked.size() > static_cast<std::size_t>(lines))
      ranked.resize(static_cast<std::size_t>(lines));
    if (as_json) {
      json out = json::array();
      for (const auto& r : ranked) {
        json j = row_json(*r.row);
        j["handled_since_last"] = r.delta;
        out.push_back(std::move(j));
      }
      std::printf("%s\n", json({{"iteration", i + 1}, {"processes", out}}).dump().c_str());
    } else {
      if (tty) std::printf("\x1b[H\x1b[2J");
      std::printf("otterctl top - %zu processes - refresh %d ms - q quits\n", rows.size(),
                  interval_ms);
      std::vector<std::vector<std::string>> t;
      for (const auto& r : ranked) {
        t.push_back({r.row->node, otter::to_string(r.row->row.id), names_of(*r.row),
                     r.row->row.behaviour, std::to_string(r.delta),
                     std::to_string(r.row->row.mailbox), bytes_text(r.row->row.memory_bytes),
                     r.row->row.status});
      }
      print_table(
          {"NODE", "PID", "NAME", "BEHAVIOUR", "MSGS/REFRESH", "MAILBOX", "MEMORY", "STATUS"}, t);
    }
    std::fflush(stdout);
    before.clear();
    for (const auto& r : rows) before[r.row.id] = r.row.handled;
    if (iterations > 0 && i + 1 >= iterations) break;
    if (term.quit_within(interval_ms)) break;
  }
  return ok;
}

// A gen_server's state (otter::get_state's formatted form: format_status() if it has one).
int cmd_state(session& s, const std::string& target, bool as_json) {
  const otter::pid p = s.resolve(target);
  auto r = s.me().await(otter::call<otter::sys_state>(p, otter::sys_get_state{true}, s.timeout()));
  if (!r) {
    throw failure{failed, fmt::format("state of {}: {}: {}", target, otter::to_string(r.err().code),
                                      r.err().message)};
  }
  if (r->is_text) {
    if (as_json) {
      std::printf("%s\n", json({{"pid", otter::to_string(p)}, {"format", r->text}}).dump().c_str());
    } else {
      std::printf("%s\n", r->text.c_str());
    }
    return ok;
  }
  msgpack::sbuffer buf;
  msgpack::pack(buf, r->value.get());
  json value;
  try {
    value = json::from_msgpack(std::string_view(buf.data(), buf.size()));
  } catch (const json::exception& e) {
    throw failure{failed, "the state is not representable as JSON: " + std::string(e.what())};
  }
  if (as_json) {
    std::printf("%s\n", json({{"pid", otter::to_string(p)}, {"state", value}}).dump().c_str());
  } else {
    std::printf("%s\n", value.dump().c_str());
  }
  return ok;
}

// Process groups of a scope: each node's own members (every node owns its memberships).
int cmd_groups(session& s, const std::string& scope, bool as_json) {
  std::map<std::string, std::vector<std::pair<std::string, otter::pid>>> groups;
  std::vector<std::string> without;  // members not running the scope
  for (const auto& n : s.members()) {
    s.reach(n);
    auto r = s.me().await(
        otter::call<otter::pg::pg_groups>(otter::dest::at(otter::pg::server_name(scope), n),
                                          otter::pg::pg_groups_request{}, s.timeout()));
    if (!r) {
      if (r.code() != otter::errc::noproc)
        throw failure{failed, "node " + n + ": " + r.err().message};
      without.push_back(n);
      continue;
    }
    for (const auto& g : r->groups) {
      auto& members = groups[g.group];
      for (const auto& m : g.members) {
        if (s.node_of(m) == n) members.emplace_back(n, m);
      }
    }
  }
  if (as_json) {
    json out = json::array();
    for (const auto& [group, members] : groups) {
      json list = json::array();
      for (const auto& [n, m] : members)
        list.push_back({{"pid", otter::to_string(m)}, {"node", n}});
      out.push_back({{"scope", scope}, {"group", group}, {"members", list}});
    }
    std::printf("%s\n", out.dump().c_str());
    return ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [group, members] : groups) {
    std::string text;
    std::set<std::string> nodes;
    for (const auto& [n, m] : members) {
      text += (text.empty() ? "" : " ") + otter::to_string(m);
      nodes.insert(n);
    }
    rows.push_back({scope, group, std::to_string(members.size()), std::to_string(nodes.size()),
                    text.empty() ? "-" : text});
  }
  print_table({"SCOPE", "GROUP", "MEMBERS", "NODES", "PIDS"}, rows);
  for (const auto& n : without) {
    std::fprintf(stderr, "otterctl: node %s does not run pg scope '%s'\n", n.c_str(),
                 scope.c_str());
  }
  return ok;
}

// Edit distance (Levenshtein: insertions, deletions, substitutions), for "did you mean".
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The word where the subcommand belongs when it names none (`otterctl nods`), or nullopt.
std::optional<std::string> unknown_subcommand(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") return std::nullopt;
    if (a.size() > 1 && a[0] == '-') {
      const CLI::Option* o = app.get_option_no_throw(a);
      if (o != nullptr && o->get_expected_min() > 0 && a.find('=') == std::string::npos) ++i;
      continue;
    }
    for (const CLI::App* sub : app.get_subcommands(std::function<bool(const CLI::App*)>{})) {
      if (sub->get_name() == a) return std::nullopt;
    }
    return a;
  }
  return std::nullopt;
}

// "unknown command 'nods'; did you mean 'nodes'?", with the subcommands closest to `word` when
// they are close enough ("'state' or 'stats'" for a tie).
std::string unknown_command_message(const CLI::App& app, const std::string& word) {
  std::vector<std::string> best;
  std::size_t best_distance = std::string::npos;
  for (const CLI::App* sub : app.get_subcommands(std::function<bool(const CLI::App*)>{})) {
    const std::size_t d = edit_distance(word, sub->get_name());
    if (d < best_distance) {
      best_distance = d;
      best.clear();
    }
    if (d == best_distance) best.push_back(sub->get_name());
  }
  // Close enough: a slip of a third of the word (at least one edit), not another word.
  const std::size_t tolerance = std::max<std::size_t>(1, (word.size() + 1) / 3);
  std::string m = "unknown command '" + word + "'";
  if (best.empty() || best_distance > tolerance) return m + " (see otterctl --help)";
  m += "; did you mean ";
  for (std::size_t i = 0; i < best.size(); ++i) {
    m += (i == 0 ? "'" : i + 1 == best.size() ? " or '" : ", '") + best[i] + "'";
  }
  return m + "?";
}

constexpr const char* help_footer = R"(
Exit codes:
  0  ok (nodes, ps, stats and top also when a member did not answer; they show it)
  1  the operation failed: unknown name or node, timeout, an error from the server
  2  usage error: unknown command or flag, missing argument, a payload that is not JSON
  3  cannot reach or authenticate to the node, or no secret file)";

}  // namespace otterctl

int main(int argc, char** argv) {
  using namespace otterctl;
  otter::set_log_level(spdlog::level::warn);  // the tool's own node: quiet unless asked
  options o;
  if (const char* env = std::getenv("OTTER_NODE")) o.node = env;
  if (const char* env = std::getenv("OTTER_SECRET_FILE")) o.secret_file = env;

  CLI::App app{"otterctl: inspect and drive a live otter cluster (connects as a hidden node)"};
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(help_footer);
  app.set_version_flag("--version", std::string("otterctl ") + OTTER_VERSION);
  app.add_option("--node", o.node, "a node of the cluster, tcp://HOST:PORT (env OTTER_NODE)");
  app.add_option("--secret-file", o.secret_file,
                 "the cluster secret (env OTTER_SECRET_FILE; default ~/.otter/secret)");
  app.add_flag("--json", o.as_json, "machine-readable output");
  app.add_flag("--insecure", o.insecure,
               "for a cluster run with --insecure: no encryption (the secret file is still "
               "needed)");
  app.add_option("--timeout", o.timeout_ms,
                 "ms: each request's deadline; for nodes, ps, stats and top one deadline for all "
                 "members together, those not answering in time shown as such (default 5000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--connect-timeout", o.connect_timeout_ms, "ms to wait for the connection")
      ->check(CLI::PositiveNumber);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "log level of the tool's own node (stderr)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  std::string only_node, target, payload, reason = "kill", ping_node;
  int call_timeout = 5000, iterations = 0, interval = 1000, lines = 20;
  auto* nodes = app.add_subcommand("nodes", "every member: name, endpoint, creation, uptime");
  auto* names = app.add_subcommand("names", "the global registry: name, Pid, node");
  auto* ps = app.add_subcommand("ps", "processes: Pid, names, behaviour, mailbox, counters");
  ps->add_option("--node", only_node, "only this node (a node name)");
  auto* info = app.add_subcommand("info", "one process in detail: links, monitors, supervisor");
  info->add_option("target", target, "a Pid <node.id.creation> or a registered name")->required();
  auto* tree = app.add_subcommand("tree", "supervision trees, drawn as text");
  tree->add_option("--node", only_node, "only this node (a node name)");
  auto* call = app.add_subcommand("call", "call a server with a JSON request; prints the reply");
  call->add_option("target", target, "a Pid or a registered name")->required();
  call->add_option("payload", payload, "the request, as JSON")->required();
  call->add_option("--timeout", call_timeout, "ms to wait for the reply")
      ->check(CLI::PositiveNumber);
  auto* cast = app.add_subcommand("cast", "cast a JSON message to a server");
  cast->add_option("target", target, "a Pid or a registered name")->required();
  cast->add_option("payload", payload, "the message, as JSON")->required();
  auto* kill = app.add_subcommand("kill", "send an exit signal (default reason: kill)");
  kill->add_option("target", target, "a Pid or a registered name")->required();
  kill->add_option("--reason", reason, "the exit reason");
  auto* state = app.add_subcommand("state", "a gen_server's state (JSON, or its format_status)");
  state->add_option("target", target, "a Pid or a registered name")->required();
  std::string scope = otter::pg::default_scope;
  auto* groups = app.add_subcommand("groups", "process groups (pg): scope, group, members");
  groups->add_option("--scope", scope, "the pg scope (default: pg)");
  auto* ping = app.add_subcommand("ping", "round trip to a node");
  ping->add_option("node", ping_node, "a node name")->required();
  auto* stats = app.add_subcommand("stats", "per-node counters");
  auto* top = app.add_subcommand("top", "a live view of the busiest processes (q quits)");
  top->add_option("--iterations", iterations, "refreshes before quitting (0: until q)")
      ->check(CLI::NonNegativeNumber);
  top->add_option("--interval", interval, "ms between refreshes")->check(CLI::PositiveNumber);
  top->add_option("--lines", lines, "processes shown")->check(CLI::PositiveNumber);
  top->add_option("--node", only_node, "only this node (a node name)");

  if (auto word = unknown_subcommand(app, argc, argv)) {
    std::fprintf(stderr, "otterctl: %s\n", unknown_command_message(app, *word).c_str());
    return usage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    std::printf("%s\n", e.what());
    return ok;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "otterctl: %s (see otterctl --help)\n", e.what());
    return usage;
  }
  otter::set_log_level(spdlog::level::from_str(log_level));
  try {
    if (call->parsed() || cast->parsed()) {
      // A payload that is not JSON is a usage error, found before connecting.
      (void)untyped(payload);
    }
    session s(o);
    if (nodes->parsed()) return cmd_nodes(s, o.as_json);
    if (names->parsed()) return cmd_names(s, o.as_json);
    if (ps->parsed()) return cmd_ps(s, only_node, o.as_json);
    if (info->parsed()) return cmd_info(s, target, o.as_json);
    if (tree->parsed()) return cmd_tree(s, only_node, o.as_json);
    if (call->parsed()) return cmd_call(s, target, payload, call_timeout, o.as_json);
    if (cast->parsed()) return cmd_cast(s, target, payload, o.as_json);
    if (kill->parsed()) return cmd_kill(s, target, reason, o.as_json);
    if (state->parsed()) return cmd_state(s, target, o.as_json);
    if (groups->parsed()) return cmd_groups(s, scope, o.as_json);
    if (ping->parsed()) return cmd_ping(s, ping_node, o.as_json);
    if (stats->parsed()) return cmd_stats(s, o.as_json);
    if (top->parsed()) return cmd_top(s, only_node, iterations, interval, lines, o.as_json);
  } catch (const failure& f) {
    std::fprintf(stderr, "otterctl: %s\n", f.message.c_str());
    return f.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "otterctl: %s\n", e.what());
    return failed;
  }
  return usage;
}
