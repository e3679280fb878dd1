// Every tunable default of the supervisor layer, with its unit and why it has this value.
#pragma once

#include <chrono>
#include <string_view>

namespace otter::supervisor_defaults {

// Restart intensity: more than `max_restarts` restarts within `max_seconds` and a supervisor
// gives up (Elixir's defaults; OTP's are 1 in 5 s, which stops trees too eagerly for a node
// that hosts many workers).
inline constexpr int max_restarts = 3;
inline constexpr std::chrono::seconds max_seconds{5};

// How long a worker child has to run its terminate after `shutdown` before it is killed
// (OTP's and Elixir's default). Supervisor children get infinity: they stop their own children
// within their own children's bounds.
inline constexpr std::chrono::milliseconds worker_shutdown{5000};

// Supervisor calls (start_child, terminate_child, ...) wait as long as the operation takes,
// as OTP's do: terminating a child may take its whole shutdown timeout.
inline constexpr std::chrono::milliseconds call_timeout = std::chrono::milliseconds::max();

// The node-local name of each runtime's root supervisor (otter::root_supervisor).
inline constexpr std::string_view root_name = "otter_root_sup";

}  // namespace otter::supervisor_defaults
