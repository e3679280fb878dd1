// Internal: the addresses a node is given (docs/PROTOCOL.md, "Addresses").
// - tcp://HOST:PORT: HOST an IPv4 literal, an IPv6 literal in brackets, or a host name (from DNS
//   or /etc/hosts). ZeroMQ connects to host names itself but binds only to literals (or an
//   interface name): a host name to listen on is resolved here first.
// - A wildcard (tcp://0.0.0.0:PORT, tcp://*:PORT, tcp://[::]:PORT) can be bound, never told
//   to peers: a node listening on one needs an advertised address.
// - dns:NAME:PORT (seeds only): every A and AAAA record of NAME is a seed, re-resolved while
//   the node runs (seed_watch.hpp), as a Kubernetes headless service lists its pods.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <otter/error.hpp>

namespace otter::net_detail {

struct tcp_address {
  std::string host;  // without brackets
  std::string port;  // digits, or "*"
};

// Splits tcp://HOST:PORT; nullopt when it is not of that form.
std::optional<tcp_address> parse_tcp(std::string_view endpoint);
// tcp://HOST:PORT, with brackets around an IPv6 host.
std::string tcp_endpoint(std::string_view host, std::string_view port);
bool is_wildcard_host(std::string_view host);

// The endpoint to bind: a host name replaced by its first address; literals, wildcards and
// interface names as they are.
result<std::string> bindable(const std::string& endpoint);

struct dns_name {
  std::string name;
  std::string port;
};
std::optional<dns_name> parse_dns_seed(std::string_view seed);
// Every address of `d` (A and AAAA) as tcp endpoints, sorted, without duplicates.
result<std::vector<std::string>> resolve_all(const dns_name& d);

// Whether `endpoint` is an IP literal of this host's (an address of one of its interfaces)
// with port `port`: a seed that is the node itself, when it listens on a wildcard.
bool is_own_address(std::string_view endpoint, std::string_view port);

// Checks a seed (tcp://HOST:PORT or dns:NAME:PORT): an error naming it when it is neither.
error check_seed(const std::string& seed);

}  // namespace otter::net_detail
