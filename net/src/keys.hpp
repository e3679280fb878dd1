// Internal: what is derived from the cluster secret (docs/PROTOCOL.md, "Authentication"): the
// CURVE key pairs of both sides of a connection and the keyed proof of a hello.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace otter {

struct cluster_keys {
  std::array<std::uint8_t, 32> master{};  // BLAKE2b-256 of the secret file's contents
  std::array<std::uint8_t, 32> server_public{}, server_secret{};
  std::array<std::uint8_t, 32> client_public{}, client_secret{};
};

cluster_keys derive_keys(std::string_view secret);

// The keyed hash (BLAKE2b-256, key = master) of `data`, as 32 raw bytes.
std::string keyed_proof(const cluster_keys& keys, std::string_view data);
bool proof_matches(const cluster_keys& keys, std::string_view data, std::string_view proof);

}  // namespace otter
