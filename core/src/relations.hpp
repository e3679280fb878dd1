// Internal: a process's links and monitors, created on first use (most processes have none).
#pragma once

#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "otter/call.hpp"
#include "otter/detail/envelope.hpp"
#include "otter/message.hpp"
#include "otter/pid.hpp"

namespace otter::detail {

struct relations {
  std::unordered_set<pid> links;
  std::unordered_map<monitor_ref, pid> monitors;            // this process monitors them
  std::unordered_map<monitor_ref, pid> monitored_by;        // they monitor this process
  std::vector<std::pair<pid, std::uint64_t>> stop_waiters;  // otter::stop callers to answer
  std::vector<from> orphaned;  // callers answered with the exit reason (from's destructor)
  // Pending send_request refs, with their reply once it arrived (null until then).
  std::unordered_map<std::uint64_t, envelope_ptr> requests;
};

}  // namespace otter::detail
