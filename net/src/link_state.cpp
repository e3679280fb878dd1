#include "link_state.hpp"

#include <array>

namespace otter::net_detail {

namespace {

using s = link_state;
constexpr std::size_t states = 6, events = 6;

// The table of link_state.hpp, row by state, column by event.
constexpr std::array<std::array<link_state, events>, states> table = {{
    //  handshake      welcomed     hello_accepted  lost      left      violated
    {{s::connecting, s::half_out, s::half_in, s::idle, s::idle, s::down}},  // idle
    {{s::connecting, s::half_out, s::half_in, s::down, s::down, s::down}},  // connecting
    {{s::half_out, s::half_out, s::up, s::down, s::down, s::down}},         // half_out
    {{s::half_in, s::up, s::half_in, s::down, s::down, s::down}},           // half_in
    {{s::up, s::up, s::up, s::down, s::down, s::down}},                     // up
    {{s::down, s::half_out, s::half_in, s::down, s::down, s::down}},        // down
}};

}  // namespace

link_state next_state(link_state from, link_event e, bool in_implied, bool out_implied) noexcept {
  link_state to = table[static_cast<std::size_t>(from)][static_cast<std::size_t>(e)];
  if ((to == s::half_out && in_implied) || (to == s::half_in && out_implied)) to = s::up;
  return to;
}

std::string_view to_string(link_state st) noexcept {
  switch (st) {
    case s::idle: return "idle";
    case s::connecting: return "connecting";
    case s::half_out: return "half_out";
    case s::half_in: return "half_in";
    case s::up: return "up";
    case s::down: return "down";
  }
  return "unknown";
}

std::string_view to_string(link_event e) noexcept {
  switch (e) {
    case link_event::handshake: return "handshake";
    case link_event::welcomed: return "welcomed";
    case link_event::hello_accepted: return "hello_accepted";
    case link_event::lost: return "lost";
    case link_event::left: return "left";
    case link_event::violated: return "violated";
  }
  return "unknown";
}

}  // namespace otter::net_detail
