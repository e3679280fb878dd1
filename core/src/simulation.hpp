// Internal: what the deterministic simulator (tests/sim) needs of a runtime. A manual runtime
// has no threads: a manual_executor runs its processes one activation at a time when told, and
// manual_timers fire when told, at the time of a clock the simulator owns and moves.
#pragma once

#include <chrono>
#include <memory>

#include "otter/runtime.hpp"

namespace otter::detail {

class manual_executor;
class manual_timers;

manual_executor& manual_executor_of(runtime& rt) noexcept;
manual_timers& manual_timers_of(runtime& rt) noexcept;

}  // namespace otter::detail
