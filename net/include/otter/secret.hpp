// The cluster secret (docs/SECURITY.md): a file of random bytes, like Erlang's cookie but used
// properly: it is never sent. Every node and tool of a cluster holds the same file; from it
// each derives the CURVE keys that encrypt and authenticate traffic, and the key of the proof
// in its hello (docs/PROTOCOL.md, "Authentication").
//
//   auto s = otter::load_or_create_secret(otter::default_secret_path());
//   if (!s) ... s.err().message says why (unreadable, readable by others, too short) ...
#pragma once

#include <string>

#include <otter/error.hpp>

namespace otter {

// Where the secret lives when no path is given: $OTTER_SECRET_FILE, else
// $CREDENTIALS_DIRECTORY/otter-secret when it exists (systemd's LoadCredential=otter-secret:...),
// else ~/.otter/secret.
std::string default_secret_path();

// Reads the secret file, creating it (mode 0600, 32 random bytes) when it does not exist.
// Refuses a file that others can read or write, or one shorter than 16 bytes.
result<std::string> load_or_create_secret(const std::string& path);

}  // namespace otter
