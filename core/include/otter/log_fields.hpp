// Structured fields of a log line: key/value pairs a line carries besides its text, for a
// formatter that writes them apart (otter-node's --log-format json puts them in "fields").
//
//   {
//     otter::log_fields f{{"pid", otter::to_string(p)}, {"reason", reason.str()}};
//     otter::detail::log().warn("crash report: ...");   // the line's fields: pid, reason
//   }
//
// The fields belong to the thread that logs, for the scope of the object: a formatter reads
// them with current_log_fields() while it formats the line, which spdlog's synchronous loggers
// (otter's default, and otter-node's) do on the logging thread. An asynchronous logger formats
// on its own thread and sees none. Costs nothing to lines logged without fields.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otter {

using log_field = std::pair<std::string_view, std::string>;  // keys are string literals

class log_fields {
 public:
  log_fields(std::initializer_list<log_field> fields);
  ~log_fields();
  log_fields(const log_fields&) = delete;
  log_fields& operator=(const log_fields&) = delete;

 private:
  std::vector<log_field> fields_;
  const std::vector<log_field>* saved_;  // the enclosing scope's (nested scopes restore it)
};

// The fields of the innermost log_fields alive on this thread (empty when none).
std::span<const log_field> current_log_fields() noexcept;

}  // namespace otter
