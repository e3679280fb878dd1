// A process identifier: {node, id, creation}, as in Erlang.
//
// - `node` identifies the node cluster-wide: a 64-bit hash of the node's name (node_id_of).
// - `id` is unique on that node and never reused while the node runs.
// - `creation` changes every time a node with that name starts, so Pids of an earlier
//   incarnation are recognisably dead: sends to them are dropped, monitors fire `noproc`.
//
// Pids are plain values: comparable, hashable, printable as `<node.id.creation>` (node in
// hex) and serialisable with msgpack as the array [node, id, creation]. The nil Pid is all
// zeroes and never names a process.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <msgpack.hpp>

namespace otter {

struct pid {
  std::uint64_t node = 0;
  std::uint64_t id = 0;
  std::uint32_t creation = 0;

  constexpr bool is_nil() const noexcept { return node == 0 && id == 0 && creation == 0; }
  constexpr explicit operator bool() const noexcept { return !is_nil(); }
  friend constexpr auto operator<=>(const pid&, const pid&) = default;

  MSGPACK_DEFINE(node, id, creation);
};

// 64-bit FNV-1a of the node name; never 0 (0 is the nil node).
constexpr std::uint64_t node_id_of(std::string_view name) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

std::string to_string(const pid& p);
// Parses `<node.id.creation>` as printed by to_string; nullopt when malformed.
std::optional<pid> parse_pid(std::string_view text);
std::ostream& operator<<(std::ostream& os, const pid& p);

}  // namespace otter

template <>
struct std::hash<otter::pid> {
  std::size_t operator()(const otter::pid& p) const noexcept {
    std::uint64_t h = p.node ^ (p.id * 0x9E3779B97F4A7C15ull) ^ (std::uint64_t{p.creation} << 17);
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};
