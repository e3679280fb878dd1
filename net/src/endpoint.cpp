#include "endpoint.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace otter::net_detail {

namespace {

bool valid_port(std::string_view p) {
  return !p.empty() && p.size() <= 5 &&
         std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         std::stoul(std::string(p)) <= 65535;
}

std::string address_text(const sockaddr* sa) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (sa->sa_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf.data(),
                buf.size());
  } else if (sa->sa_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf.data(),
                buf.size());
  } else {
    return {};
  }
  return buf.data();
}

// Every address of `host`, IPv4 ones first (getaddrinfo's order within each family).
result<std::vector<std::string>> addresses_of(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0) {
    return error{errc::badarg, "cannot resolve host name '" + host + "': " + ::gai_strerror(rc)};
  }
  std::vector<std::string> v4, v6;
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
    std::string text = address_text(a->ai_addr);
    if (text.empty()) continue;
    auto& to = a->ai_family == AF_INET ? v4 : v6;
    if (std::find(to.begin(), to.end(), text) == to.end()) to.push_back(std::move(text));
  }
  ::freeaddrinfo(res);
  v4.insert(v4.end(), v6.begin(), v6.end());
  if (v4.empty()) return error{errc::badarg, "host name '" + host + "' has no IP address"};
  return v4;
}

bool is_ip_literal(const std::string& host) {
  std::array<unsigned char, sizeof(in6_addr)> buf{};
  return ::inet_pton(AF_INET, host.c_str(), buf.data()) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf.data()) == 1;
}

}  // namespace

std::optional<tcp_address> parse_tcp(std::string_view e) {
  if (!e.starts_with("tcp://")) return std::nullopt;
  e.remove_prefix(6);
  tcp_address a;
  if (e.starts_with("[")) {
    const auto close = e.find(']');
    if (close == std::string_view::npos || close + 1 >= e.size() || e[close + 1] != ':') {
      return std::nullopt;
    }
    a.host = std::string(e.substr(1, close - 1));
    a.port = std::string(e.substr(close + 2));
  } else {
    const auto colon = e.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    a.host = std::string(e.substr(0, colon));
    a.port = std::string(e.substr(colon + 1));
    if (a.host.find(':') != std::string::npos) return std::nullopt;  // IPv6 without brackets
  }
  if (a.host.empty() || (a.port != "*" && !valid_port(a.port))) return std::nullopt;
  return a;
}

std::string tcp_endpoint(std::string_view host, std::string_view port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return "tcp://" + std::string(v6 ? "[" : "") + std::string(host) + (v6 ? "]" : "") + ":" +
         std::string(port);
}

bool is_wildcard_host(std::string_view host) {
  return host == "*" || host == "0.0.0.0" || host == "::";
}

result<std::string> bindable(const std::string& endpoint) {
  const auto a = parse_tcp(endpoint);
  if (!a) return error{errc::badarg, "'" + endpoint + "' is not of the form tcp://HOST:PORT"};
  if (is_wildcard_host(a->host) || is_ip_literal(a->host)) return endpoint;
  // An interface name (tcp://eth0:7001) is ZeroMQ's to bind; anything else a host name.
  if (ifaddrs* ifs = nullptr; ::getifaddrs(&ifs) == 0) {
    bool interface = false;
    for (const ifaddrs* i = ifs; i != nullptr && !interface; i = i->ifa_next) {
      interface = i->ifa_name != nullptr && a->host == i->ifa_name;
    }
    ::freeifaddrs(ifs);
    if (interface) return endpoint;
  }
  auto addrs = addresses_of(a->host);
  if (!addrs) return addrs.err();
  return tcp_endpoint(addrs->front(), a->port);
}

std::optional<dns_name> parse_dns_seed(std::string_view seed) {
  if (!seed.starts_with("dns:")) return std::nullopt;
  seed.remove_prefix(4);
  const auto colon = seed.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  dns_name d{std::string(seed.substr(0, colon)), std::string(seed.substr(colon + 1))};
  if (!valid_port(d.port) || d.port == "0") return std::nullopt;
  return d;
}

result<std::vector<std::string>> resolve_all(const dns_name& d) {
  auto addrs = addresses_of(d.name);
  if (!addrs) return addrs.err();
  std::vector<std::string> out;
  for (const auto& a : *addrs) out.push_back(tcp_endpoint(a, d.port));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool is_own_address(std::string_view endpoint, std::string_view port) {
  const auto a = parse_tcp(endpoint);
  if (!a || a->port != port) return false;
  ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) != 0) return false;
  bool own = false;
  for (const ifaddrs* i = ifs; i != nullptr && !own; i = i->ifa_next) {
    if (i->ifa_addr != nullptr) own = address_text(i->ifa_addr) == a->host;
  }
  ::freeifaddrs(ifs);
  return own;
}

error check_seed(const std::string& seed) {
  if (parse_dns_seed(seed)) return error{};
  if (const auto a = parse_tcp(seed); a && a->port != "*" && a->port != "0") {
    if (is_wildcard_host(a->host)) {
      return error{errc::badarg, "seed '" + seed + "' is a wildcard address: nothing to reach"};
    }
    return error{};
  }
  return error{errc::badarg,
               "seed '" + seed + "' is not of the form tcp://HOST:PORT or dns:NAME:PORT"};
}

}  // namespace otter::net_detail
