// The addresses a node is given (net/src/endpoint.hpp): endpoints, wildcards, host names to
// bind, dns: seeds.
#include <catch2/catch.hpp>

#include <algorithm>

#include "endpoint.hpp"

using namespace otter::net_detail;

TEST_CASE("tcp endpoints split into host and port, IPv6 hosts in brackets") {
  auto a = parse_tcp("tcp://10.0.0.1:7001");
  REQUIRE(a);
  CHECK(a->host == "10.0.0.1");
  CHECK(a->port == "7001");
  auto v6 = parse_tcp("tcp://[fd00::1]:7001");
  REQUIRE(v6);
  CHECK(v6->host == "fd00::1");
  CHECK(tcp_endpoint(v6->host, v6->port) == "tcp://[fd00::1]:7001");
  CHECK(parse_tcp("tcp://node-1.otter.svc:0"));
  CHECK(parse_tcp("tcp://*:7001"));
  CHECK_FALSE(parse_tcp("10.0.0.1:7001"));
  CHECK_FALSE(parse_tcp("tcp://10.0.0.1"));
  CHECK_FALSE(parse_tcp("tcp://10.0.0.1:70000"));
  CHECK_FALSE(parse_tcp("tcp://fd00::1:7001"));  // IPv6 without brackets
  CHECK_FALSE(parse_tcp("tcp://:7001"));
}

TEST_CASE("wildcards can be bound but are no seed") {
  for (const char* h : {"*", "0.0.0.0", "::"}) CHECK(is_wildcard_host(h));
  CHECK_FALSE(is_wildcard_host("10.0.0.1"));
  CHECK(check_seed("tcp://0.0.0.0:7001").code != otter::errc{});
  CHECK(check_seed("tcp://host1:7001").code == otter::errc{});
  CHECK(check_seed("dns:otter-headless.otter.svc.cluster.local:7001").code == otter::errc{});
  CHECK(check_seed("dns:otter-headless").code != otter::errc{});
  CHECK(check_seed("dns:otter-headless:0").code != otter::errc{});
  CHECK(check_seed("host1:7001").code != otter::errc{});
}

TEST_CASE("a host name to listen on is bound as its address; literals and wildcards as given") {
  CHECK(*bindable("tcp://localhost:7001") == "tcp://127.0.0.1:7001");
  CHECK(*bindable("tcp://0.0.0.0:7001") == "tcp://0.0.0.0:7001");
  CHECK(*bindable("tcp://127.0.0.1:0") == "tcp://127.0.0.1:0");
  auto bad = bindable("tcp://no-such-host.invalid:7001");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("no-such-host.invalid") != std::string::npos);
}

TEST_CASE("a dns: seed resolves to every address of its name") {
  auto d = parse_dns_seed("dns:localhost:7001");
  REQUIRE(d);
  auto all = resolve_all(*d);
  REQUIRE(all);
  CHECK(std::find(all->begin(), all->end(), "tcp://127.0.0.1:7001") != all->end());
  CHECK(is_own_address("tcp://127.0.0.1:7001", "7001"));
  CHECK_FALSE(is_own_address("tcp://127.0.0.1:7002", "7001"));
  CHECK_FALSE(is_own_address("tcp://192.0.2.1:7001", "7001"));  // TEST-NET: nobody's
}
