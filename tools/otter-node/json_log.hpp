// otter-node's --log-format json: an spdlog formatter that writes each log line as one JSON
// object, for log shippers (journald, Loki, Elasticsearch) that would otherwise have to parse
// free text:
//
//   {"time":"2026-12-01T17:22:08.123Z","level":"warn","node":"n1","logger":"otter",
//    "message":"crash report: ...","fields":{}}
//
// `time` is UTC with milliseconds; `level` one of trace, debug, info, warn, error, critical
// (the names --log-level takes); `logger` is "otter" for the libraries' lines and "otter-node"
// for the tool's own (and the demo servers'); `fields` is an object of the line's structured
// values (otter/log_fields.hpp), all strings: a crash report's pid, behaviour, name (its
// registered names, comma-separated), reason and last_message; a supervisor restart's
// supervisor, child and restarts; a peer coming up or going down: peer, endpoint, and creation
// and protocol, or reason. Other lines have none ({}). Strings are escaped as JSON requires; bytes
// that are not UTF-8 are replaced, never dropped with the line.
#pragma once

#include <memory>
#include <string>

#include <spdlog/formatter.h>

namespace otter::node_tool {

class json_log_formatter final : public spdlog::formatter {
 public:
  explicit json_log_formatter(std::string node) : node_(std::move(node)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_log_formatter>(node_);
  }

 private:
  std::string node_;
};

}  // namespace otter::node_tool
