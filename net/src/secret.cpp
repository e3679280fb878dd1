#include "otter/secret.hpp"

#include "keys.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace otter {

namespace {

void init_sodium() {
  static const int rc = sodium_init();
  (void)rc;  // 0 first time, 1 when already initialised; -1 cannot happen on Linux
}

std::array<std::uint8_t, 32> keyed(const std::array<std::uint8_t, 32>& key, std::string_view msg) {
  std::array<std::uint8_t, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size(), key.data(), key.size());
  return out;
}

}  // namespace

std::string default_secret_path() {
  if (const char* env = std::getenv("OTTER_SECRET_FILE"); env != nullptr && *env != '\0') {
    return env;
  }
  // systemd's LoadCredential=otter-secret:PATH puts it there, readable by the service only.
  if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr && *dir != '\0') {
    const std::string path = std::string(dir) + "/otter-secret";
    if (::access(path.c_str(), F_OK) == 0) return path;
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : "/root") + "/.otter/secret";
}

result<std::string> load_or_create_secret(const std::string& path) {
  init_sodium();
  if (path.empty()) return error{errc::badarg, "no secret file path given"};
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return error{errc::badarg, "cannot stat secret file " + path + ": " + std::strerror(errno)};
    }
    std::error_code ec;
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      return error{errc::badarg, "cannot create secret file " + path + ": " + std::strerror(errno)};
    }
    std::array<unsigned char, 32> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    const bool written = ::write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size());
    ::close(fd);
    if (!written) return error{errc::badarg, "cannot write secret file " + path};
  } else if (!S_ISREG(st.st_mode)) {
    return error{errc::badarg, "secret file " + path + " is not a regular file"};
  } else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return error{errc::badarg, "secret file " + path + " is accessible by others (mode " + mode +
                                   "); run: chmod 600 " + path};
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return error{errc::badarg, "cannot read secret file " + path +
                                   (errno != 0 ? std::string(": ") + std::strerror(errno) : "")};
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string secret = content.str();
  if (secret.size() < 16) {
    return error{errc::badarg, "secret file " + path + " holds " + std::to_string(secret.size()) +
                                   " bytes; at least 16 random bytes are needed"};
  }
  return secret;
}

cluster_keys derive_keys(std::string_view secret) {
  init_sodium();
  cluster_keys k;
  crypto_generichash(k.master.data(), k.master.size(),
                     reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), nullptr,
                     0);
  k.server_secret = keyed(k.master, "otter/curve/server/v1");
  k.client_secret = keyed(k.master, "otter/curve/client/v1");
  crypto_scalarmult_base(k.server_public.data(), k.server_secret.data());
  crypto_scalarmult_base(k.client_public.data(), k.client_secret.data());
  return k;
}

std::string keyed_proof(const cluster_keys& keys, std::string_view data) {
  auto h = keyed(keys.master, data);
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

bool proof_matches(const cluster_keys& keys, std::string_view data, std::string_view proof) {
  const std::string expected = keyed_proof(keys, data);
  return proof.size() == expected.size() &&
         sodium_memcmp(proof.data(), expected.data(), expected.size()) == 0;
}

}  // namespace otter
