// otter's logging: everything the library logs goes through one spdlog logger named "otter",
// which belongs to otter, not to the application. Starting a runtime or a node never touches
// spdlog's default logger, its global level or its registry defaults: an application keeps
// its own logging as it set it up.
//
//   otter::set_log_level(spdlog::level::warn);                  // quieter
//   otter::set_log_sinks({std::make_shared<spdlog::sinks::basic_file_sink_mt>("otter.log")});
//   otter::logger()->set_pattern("[%H:%M:%S] %v");               // anything spdlog offers
//
// By default it writes to stderr (a program's stdout stays its own) at level info. What it
// logs: member nodes coming up and going down (tools such as otterctl, hidden nodes, only at
// debug), refused connections, registry conflicts, crash reports (a warning per process that
// exits abnormally: names, Pid, reason, last message's type), supervisor restarts (info, with
// the restart count) and a supervisor giving up (error), handlers that drop unhandled
// messages. Thread-safe.
#pragma once

#include <memory>
#include <vector>

#include <spdlog/common.h>
#include <spdlog/logger.h>

namespace otter {

// The logger every otter library logs through ("otter"); created on first use.
std::shared_ptr<spdlog::logger> logger();
void set_log_level(spdlog::level::level_enum level);
// Replaces where otter's lines go (the default is one sink: stderr, with colours on a tty).
// Call it before starting runtimes: spdlog's sink list is not safe to change while logging.
void set_log_sinks(std::vector<spdlog::sink_ptr> sinks);

namespace detail {
// The same logger, for otter's own code (no reference count per line).
spdlog::logger& log();
}  // namespace detail

}  // namespace otter
