#include "otter/pid.hpp"

#include <charconv>
#include <cstdio>

namespace otter {

std::string to_string(const pid& p) {
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "<%llx.%llu.%u>", static_cast<unsigned long long>(p.node),
                        static_cast<unsigned long long>(p.id), p.creation);
  return std::string(buf, static_cast<std::size_t>(n));
}

std::ostream& operator<<(std::ostream& os, const pid& p) {
  return os << to_string(p);
}

std::optional<pid> parse_pid(std::string_view text) {
  if (text.size() < 7 || text.front() != '<' || text.back() != '>') return std::nullopt;
  text = text.substr(1, text.size() - 2);
  pid p;
  const char* cur = text.data();
  const char* end = text.data() + text.size();
  auto field = [&](auto& out, int base) {
    auto [ptr, ec] = std::from_chars(cur, end, out, base);
    if (ec != std::errc() || ptr == cur) return false;
    cur = ptr;
    return true;
  };
  if (!field(p.node, 16) || cur == end || *cur++ != '.') return std::nullopt;
  if (!field(p.id, 10) || cur == end || *cur++ != '.') return std::nullopt;
  if (!field(p.creation, 10) || cur != end) return std::nullopt;
  return p;
}

}  // namespace otter
