// What a running node tells about its processes (the node tool's `ps`, `info`, `top`).
//
// - runtime::processes() lists every live process from any thread without stopping it: the
//   figures are read atomically one by one, so a row is a consistent-enough snapshot, not an
//   atomic one (like Erlang's process_info called process by process).
// - A call of `sys_get_status` to any gen_server or supervisor, local or remote, is answered by
//   the process itself between two messages with a process_info (as OTP's sys:get_status):
//   its links and monitors are read on its own thread. A process busy in a long handler
//   answers when the handler returns.
// - `sys_get_state` (otter::get_state, sys.hpp) asks a gen_server for its state the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "otter/dynamic.hpp"
#include "otter/message.hpp"
#include "otter/pid.hpp"

namespace otter {

struct process_row {
  pid id;
  std::string name;       // registered on its node, or ""
  std::string behaviour;  // "gen_server", "supervisor", ...
  std::uint32_t mailbox = 0;
  std::uint64_t handled = 0;
  std::uint64_t dropped = 0;       // refused at the mailbox limit
  std::uint64_t memory_bytes = 0;  // estimate: the object's allocation plus queued messages
  std::string status;              // "running" (scheduled), "waiting" (idle), "exiting"
  pid parent;                      // the process that started and linked it, or nil
  MSGPACK_DEFINE(id, name, behaviour, mailbox, handled, dropped, memory_bytes, status, parent);
};

struct sys_get_status {
  MSGPACK_DEFINE();
};
OTTER_MESSAGE_AS(sys_get_status, "sys_get_status");

// OTP's sys:get_state, answered by a gen_server between two of its messages (gen_server.hpp
// says which hooks it uses): `formatted` asks for what format_status() shows (the node tool),
// else for state(). The value is msgpack (`text` set instead when the hook returns a string).
struct sys_get_state {
  bool formatted = false;
  MSGPACK_DEFINE(formatted);
};
OTTER_MESSAGE_AS(sys_get_state, "sys_get_state");

struct sys_state {
  dynamic value;
  std::string text;
  bool is_text = false;
  MSGPACK_DEFINE(value, text, is_text);
};
OTTER_MESSAGE_AS(sys_state, "sys_state");

struct process_info {
  process_row row;
  bool trap_exit = false;
  std::vector<pid> links;
  std::vector<pid> monitors;      // processes it monitors
  std::vector<pid> monitored_by;  // processes monitoring it
  MSGPACK_DEFINE(row, trap_exit, links, monitors, monitored_by);
};
OTTER_MESSAGE_AS(process_info, "process_info");

}  // namespace otter
