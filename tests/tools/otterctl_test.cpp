// otterctl against real node processes: every subcommand, human and --json, and every exit code.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "../cluster/cluster_fixture.hpp"

using namespace cluster_test;
using json = nlohmann::json;

namespace otterctl_test {

struct run_result {
  int code = -1;
  std::string out, err;
};

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs otterctl with `args` (bounded by `timeout`), capturing stdout, stderr and the exit code.
run_result otterctl(const std::vector<std::string>& args, const std::string& dir) {
  std::string cmd = "timeout 60 " + quoted(OTTERCTL_BIN);
  for (const auto& a : args) cmd += " " + quoted(a);
  const std::string err_file = dir + "/otterctl.err";
  cmd += " 2>" + quoted(err_file);
  run_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (FILE* e = std::fopen(err_file.c_str(), "r")) {
    while ((n = std::fread(buf, 1, sizeof buf, e)) > 0) r.err.append(buf, n);
    std::fclose(e);
  }
  return r;
}

struct two_nodes {
  scratch s;
  std::unique_ptr<test_node> a, b;
  std::vector<std::string> base;
  two_nodes() {
    a = spawn_node("ctl-a", s, {"--global", "--sup-name", "svc-a"});
    b = spawn_node("ctl-b", s, {"--global", "--seed", a->endpoint, "--sup-name", "svc-b"});
    base = {"--node", a->endpoint, "--secret-file", s.secret()};
  }
  run_result ctl(std::vector<std::string> args, bool as_json = false) {
    std::vector<std::string> all = base;
    if (as_json) all.push_back("--json");
    all.insert(all.end(), args.begin(), args.end());
    return otterctl(all, s.dir());
  }
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace otterctl_test

using namespace otterctl_test;

TEST_CASE("otterctl nodes, names, ps and stats describe the cluster, in tables and in JSON") {
  two_nodes c;
  REQUIRE(eventually([&] {
    auto r = c.ctl({"names"});
    return r.code == 0 && has(r.out, "svc-a") && has(r.out, "svc-b");
  }));
  auto nodes = c.ctl({"nodes"});
  CHECK(nodes.code == 0);
  CHECK(has(nodes.out, "ctl-a"));
  CHECK(has(nodes.out, "ctl-b"));
  CHECK(has(nodes.out, c.b->endpoint));
  auto nodes_j = json::parse(c.ctl({"nodes"}, true).out);
  REQUIRE(nodes_j.size() == 2);
  CHECK(nodes_j[0]["name"] == "ctl-a");
  CHECK(nodes_j[1]["status"] == "up");
  CHECK(nodes_j[1]["creation"] == c.b->creation);
  CHECK(nodes_j[0]["processes"].get<int>() > 0);

  auto names_j = json::parse(c.ctl({"names"}, true).out);
  REQUIRE(names_j.size() == 2);
  CHECK(names_j[1]["name"] == "svc-b");
  CHECK(names_j[1]["node"] == "ctl-b");

  auto ps = c.ctl({"ps"});
  CHECK(ps.code == 0);
  CHECK(has(ps.out, "otter.global"));
  CHECK(has(ps.out, "otter_root_sup"));
  CHECK(has(ps.out, "svc-b"));
  auto ps_b = json::parse(c.ctl({"ps", "--node", "ctl-b"}, true).out);
  bool saw_probe = false;
  for (const auto& row : ps_b) {
    CHECK(row["node"] == "ctl-b");
    if (row["pid"] == otter::to_string(c.b->probe)) {
      saw_probe = true;
      CHECK(row["name"] == "probe");
      CHECK(row["behaviour"] == "gen_server");
      CHECK(row["memory_bytes"].get<std::uint64_t>() > 0);
    }
  }
  CHECK(saw_probe);

  auto stats = c.ctl({"stats"});
  CHECK(stats.code == 0);
  CHECK(has(stats.out, "RESTARTS"));
  auto stats_j = json::parse(c.ctl({"stats"}, true).out);
  REQUIRE(stats_j.size() == 2);
  CHECK(stats_j[0]["messages_in"].get<std::uint64_t>() > 0);
  CHECK(stats_j[0]["calls_handled"].get<std::uint64_t>() > 0);
}

TEST_CASE("otterctl call, cast, info, tree, kill and ping act on servers by name") {
  two_nodes c;
  REQUIRE(eventually([&] { return c.ctl({"call", "svc-b", "[5]"}).code == 0; }));
  auto call = c.ctl({"call", "svc-b", "[5]"});
  CHECK(json::parse(call.out) == json::array({5, "ctl-b"}));
  auto call_j = json::parse(c.ctl({"call", otter::to_string(c.a->probe), "[6]"}, true).out);
  CHECK(call_j["reply"] == json::array({6, "ctl-a"}));
  CHECK(call_j["type"] == "cluster_test::pong");  // its namespace-qualified wire name

  const auto handled = [&] {
    return json::parse(c.ctl({"info", "svc-a"}, true).out)["handled"].get<std::uint64_t>();
  };
  const std::uint64_t h0 = handled();
  CHECK(c.ctl({"cast", "svc-a", "[41]"}).code == 0);  // the probe's add{value}
  CHECK(json::parse(c.ctl({"cast", "svc-a", "[1]"}, true).out)["ok"] == true);
  REQUIRE(eventually([&] { return handled() >= h0 + 2; }));

  auto info = c.ctl({"info", "svc-b"});
  CHECK(info.code == 0);
  CHECK(has(info.out, "supervisor    <"));
  CHECK(has(info.out, "global names  svc-b"));
  auto info_j = json::parse(c.ctl({"info", "svc-b"}, true).out);
  CHECK(info_j["links"].size() == 1);
  CHECK(info_j["supervisor"] == info_j["parent"]);
  CHECK(info_j["monitored_by"].size() >= 1);  // the registry watches name holders

  auto tree = c.ctl({"tree"});
  CHECK(tree.code == 0);
  CHECK(has(tree.out, "otter_root_sup"));
  CHECK(has(tree.out, "└─ svc"));
  auto tree_j = json::parse(c.ctl({"tree", "--node", "ctl-b"}, true).out);
  REQUIRE(tree_j.size() == 1);
  REQUIRE(tree_j[0]["children"].size() == 1);
  const std::string before = tree_j[0]["children"][0]["pid"];

  auto kill = c.ctl({"kill", "svc-b"});
  CHECK(kill.code == 0);
  CHECK(has(kill.out, "sent exit signal 'kill'"));
  REQUIRE(eventually([&] {  // the supervisor restarted it
    auto t = json::parse(c.ctl({"tree", "--node", "ctl-b"}, true).out);
    auto pid = t[0]["children"][0]["pid"];
    return pid.is_string() && pid != before;
  }));
  REQUIRE(eventually([&] {
    auto s = json::parse(c.ctl({"stats"}, true).out);
    return s[1]["restarts"].get<int>() >= 1;
  }));

  auto ping = c.ctl({"ping", "ctl-b"});
  CHECK(ping.code == 0);
  CHECK(has(ping.out, "pong from ctl-b"));
  CHECK(json::parse(c.ctl({"ping", "ctl-b"}, true).out)["rtt_ms"].get<double>() > 0);

  auto top = c.ctl({"top", "--iterations", "2", "--interval", "100"});
  CHECK(top.code == 0);
  CHECK(has(top.out, "otterctl top"));
  auto top_j = c.ctl({"top", "--iterations", "2", "--interval", "100"}, true);
  CHECK(top_j.code == 0);
  std::size_t lines = 0;
  for (std::size_t i = 0; i < top_j.out.size(); ++i) lines += top_j.out[i] == '\n';
  CHECK(lines == 2);
}

TEST_CASE("otterctl state shows a server's state; groups shows a pg group of 3 nodes") {
  two_nodes c;
  auto third = spawn_node("ctl-c", c.s, {"--global", "--seed", c.a->endpoint});
  REQUIRE(eventually([&] { return c.ctl({"state", "svc-a"}).code == 0; }));
  CHECK(c.ctl({"cast", "svc-a", "[41]"}).code == 0);
  CHECK(c.ctl({"cast", "svc-a", "[42]"}).code == 0);
  // Two otterctl runs, two connections: the casts may arrive in either order.
  const auto both = [](const json& v) {
    return v == json::array({41, 42}) || v == json::array({42, 41});
  };
  REQUIRE(eventually([&] {
    return both(json::parse(c.ctl({"state", "svc-a"}).out, nullptr, false));
  }));
  auto st_j = json::parse(c.ctl({"state", "svc-a"}, true).out);
  CHECK(both(st_j["state"]));
  CHECK(st_j["pid"].is_string());
  // A server without a state() hook: a clear error, exit 1.
  auto none = c.ctl({"state", "otter.global"});
  CHECK(none.code == 1);
  CHECK(has(none.err, "state() const"));
  CHECK(c.ctl({"state", "no-such-name"}).code == 1);

  // Members on all three nodes, joined by each node's probe.
  auto me = local_node("ctl-t", c.s, {c.a->endpoint});
  REQUIRE(me->wait_for_nodes(3, 20s));
  otter::scoped_process p(me->rt());
  std::vector<otter::pid> all;
  for (const auto* n : {c.a.get(), c.b.get(), third.get()}) {
    auto e = p.await(otter::call<pid_list>(n->probe, enlist{"room", 2}, 20s));
    INFO((e ? std::string() : e.err().message));
    REQUIRE(e);
    REQUIRE(e->code == 0);
    all.insert(all.end(), e->pids.begin(), e->pids.end());
  }
  REQUIRE(eventually([&] {
    auto g = json::parse(c.ctl({"groups"}, true).out);
    return g.size() == 1 && g[0]["members"].size() == 6;
  }));
  auto g = json::parse(c.ctl({"groups"}, true).out);
  CHECK(g[0]["scope"] == "pg");
  CHECK(g[0]["group"] == "room");
  std::set<std::string> nodes, pids;
  for (const auto& m : g[0]["members"]) {
    nodes.insert(m["node"].get<std::string>());
    pids.insert(m["pid"].get<std::string>());
  }
  CHECK(nodes == std::set<std::string>{"ctl-a", "ctl-b", "ctl-c"});
  for (const auto& x : all) CHECK(pids.count(otter::to_string(x)) == 1);
  auto table = c.ctl({"groups"});
  CHECK(table.code == 0);
  CHECK(has(table.out, "SCOPE"));
  CHECK(has(table.out, "room"));
  CHECK(has(table.out, otter::to_string(all.front())));
  auto other_scope = c.ctl({"groups", "--scope", "nope"});
  CHECK(other_scope.code == 0);
  CHECK(has(other_scope.err, "does not run pg scope 'nope'"));
}

TEST_CASE("otterctl exit codes: 1 failed operation, 2 usage, 3 unreachable or wrong secret") {
  two_nodes c;
  auto unknown = c.ctl({"call", "no-such-server", "[1]"});
  CHECK(unknown.code == 1);
  CHECK(has(unknown.err, "no-such-server"));
  auto bad_json = c.ctl({"call", "svc-a", "{not json"});
  CHECK(bad_json.code == 2);
  CHECK(has(bad_json.err, "not valid JSON"));
  auto bad_request = c.ctl({"call", "svc-a", "{\"what\": true}"});
  CHECK(bad_request.code == 1);
  CHECK(has(bad_request.err, "badarg"));
  CHECK(c.ctl({"--no-such-flag", "nodes"}).code == 2);
  CHECK(c.ctl({}).code == 2);
  CHECK(c.ctl({"ping", "no-such-node"}).code == 1);
  CHECK(otterctl({"--help"}, c.s.dir()).code == 0);
  CHECK(otterctl({"nodes"}, c.s.dir()).code == 2);  // no node given

  // A wrong secret: the node refuses the handshake, and otterctl says so at once (not after
  // its connect timeout, with the message of a node not there).
  scratch other;
  auto wrong = otterctl({"--node", c.a->endpoint, "--secret-file", other.secret(),
                         "--connect-timeout", "30000", "nodes"},
                        c.s.dir());
  CHECK(wrong.code == 3);
  CHECK(has(wrong.err, "refused this connection: wrong secret?"));
  CHECK_FALSE(has(wrong.err, "cannot reach"));
  // Nobody listening.
  auto nobody = otterctl({"--node", "tcp://127.0.0.1:1", "--secret-file", c.s.secret(),
                          "--connect-timeout", "1000", "nodes"},
                         c.s.dir());
  CHECK(nobody.code == 3);
  CHECK(has(nobody.err, "cannot reach or authenticate"));
  auto no_secret = otterctl(
      {"--node", c.a->endpoint, "--secret-file", c.s.dir() + "/missing", "nodes"}, c.s.dir());
  CHECK(no_secret.code == 3);
  CHECK(has(no_secret.err, "no secret file"));
}

TEST_CASE("otterctl nodes, stats and ps show a member that does not answer instead of stalling") {
  two_nodes c;
  const auto both_up = [&] {
    auto r = c.ctl({"nodes"}, true);
    if (r.code != 0) return false;
    auto j = json::parse(r.out);
    return j.size() == 2 && j[0]["status"] == "up" && j[1]["status"] == "up";
  };
  // ctl-b stopped (alive to the kernel, silent to everyone) while one command runs: ctl-a
  // still lists it then (it is declared down only after 1.5 s of silence), so the command
  // must show it as not answering, within its 1 s deadline.
  const auto with_b_stopped = [&](std::vector<std::string> args, bool as_json) {
    REQUIRE(eventually(both_up));
    c.b->proc->stop();
    args.insert(args.begin(), {"--timeout", "1000"});
    auto r = c.ctl(args, as_json);
    c.b->proc->signal(SIGCONT);
    return r;
  };
  auto nodes = with_b_stopped({"nodes"}, true);
  auto stats = with_b_stopped({"stats"}, true);
  auto ps = with_b_stopped({"ps"}, false);
  CHECK(nodes.code == 0);
  CHECK(stats.code == 0);
  CHECK(ps.code == 0);
  const auto nodes_j = json::parse(nodes.out);
  REQUIRE(nodes_j.size() == 2);
  CHECK(nodes_j[0]["name"] == "ctl-a");
  CHECK(nodes_j[0]["status"] == "up");
  CHECK(nodes_j[1]["name"] == "ctl-b");
  CHECK(nodes_j[1]["status"] != "up");
  const auto stats_j = json::parse(stats.out);
  REQUIRE(stats_j.size() == 2);
  CHECK(stats_j[0]["messages_in"].get<std::uint64_t>() > 0);
  CHECK(stats_j[1]["status"] != "up");
  CHECK(has(ps.out, "otter.global"));
  CHECK(has(ps.err, "ctl-b did not answer"));
}

TEST_CASE("otterctl --version, the exit codes in --help, and a mistyped command's suggestion") {
  scratch s;
  auto version = otterctl({"--version"}, s.dir());
  CHECK(version.code == 0);
  CHECK(version.out == std::string("otterctl ") + OTTER_VERSION + "\n");

  auto help = otterctl({"--help"}, s.dir());
  CHECK(help.code == 0);
  CHECK(has(help.out, "--insecure"));
  CHECK(has(help.out, "--version"));
  for (const char* code : {"  0  ok", "  1  the operation failed", "  2  usage error",
                           "  3  cannot reach or authenticate"}) {
    INFO(code);
    CHECK(has(help.out, code));
  }

  // Found before connecting: no node is needed to be told.
  auto nods = otterctl({"nods"}, s.dir());
  CHECK(nods.code == 2);
  CHECK(nods.err == "otterctl: unknown command 'nods'; did you mean 'nodes'?\n");
  auto after_flags = otterctl({"--node", "tcp://127.0.0.1:1", "--json", "stat"}, s.dir());
  CHECK(after_flags.code == 2);
  CHECK(has(after_flags.err, "unknown command 'stat'; did you mean 'state' or 'stats'?"));
  auto missing_letter = otterctl({"--log-level", "warn", "nmes"}, s.dir());
  CHECK(missing_letter.code == 2);
  CHECK(has(missing_letter.err, "unknown command 'nmes'; did you mean 'names'?"));
  auto far = otterctl({"frobnicate"}, s.dir());
  CHECK(far.code == 2);
  CHECK(has(far.err, "unknown command 'frobnicate'"));
  CHECK_FALSE(has(far.err, "did you mean"));
}

TEST_CASE("otterctl --insecure inspects a cluster that runs with --insecure") {
  scratch s;
  auto a = spawn_node("ins-a", s, {"--insecure", "--global", "--sup-name", "svc-a"});
  const std::vector<std::string> base = {"--node", a->endpoint, "--secret-file", s.secret()};
  const auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> all = base;
    all.insert(all.end(), args.begin(), args.end());
    return otterctl(all, s.dir());
  };
  REQUIRE(eventually([&] { return ctl({"--insecure", "names"}).code == 0; }));
  auto nodes = ctl({"--insecure", "--json", "nodes"});
  CHECK(nodes.code == 0);
  auto j = json::parse(nodes.out);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["name"] == "ins-a");
  CHECK(j[0]["status"] == "up");
  CHECK(has(ctl({"--insecure", "names"}).out, "svc-a"));
  // Without it, the two ends do not agree on the mechanism: unreachable, as documented.
  CHECK(ctl({"--connect-timeout", "1500", "nodes"}).code == 3);
}
