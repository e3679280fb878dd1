// The cluster secret and what is derived from it (docs/SECURITY.md).
//
// The secret is a file of random bytes, like Erlang's cookie but used properly: it is never
// sent. From it every node derives the same CURVE key pairs (one for the server side of a
// connection, one for the client side) and a key for the proof in a hello. Holding the file
// is what makes a node or a tool a member: without it the CURVE handshake fails (the ZAP
// handler only admits the derived client key) and the hello proof does not verify.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <otter/error.hpp>

namespace otter {

struct cluster_keys {
  std::array<std::uint8_t, 32> master{};  // BLAKE2b-256 of the secret file's contents
  std::array<std::uint8_t, 32> server_public{}, server_secret{};
  std::array<std::uint8_t, 32> client_public{}, client_secret{};
};

// Where the secret lives when no path is given: $OTTER_SECRET_FILE, else ~/.otter/secret.
std::string default_secret_path();

// Reads the secret file, creating it (mode 0600, 32 random bytes) when it does not exist.
// Refuses a file that others can read or write, or one shorter than 16 bytes.
result<std::string> load_or_create_secret(const std::string& path);

cluster_keys derive_keys(std::string_view secret);

// The keyed hash (BLAKE2b-256, key = master) of `data`, as 32 raw bytes.
std::string keyed_proof(const cluster_keys& keys, std::string_view data);
bool proof_matches(const cluster_keys& keys, std::string_view data, std::string_view proof);

}  // namespace otter
