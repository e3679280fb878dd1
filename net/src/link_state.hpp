// Internal: the link to one peer as a state machine. A link is up when both directions are
// established: our hello on our connection was welcomed ("out"), and the peer's hello on its
// connection to us was accepted ("in"). For a hidden peer (a tool, which has no listening
// endpoint) "out" is implied; for a hidden node of our own, "in" is.
//
//   state \ event | handshake   welcomed   hello_accepted  lost   left   violated
//   --------------+-----------------------------------------------------------------
//   idle          | connecting  half_out   half_in         idle   idle   down
//   connecting    | connecting  half_out   half_in         down   down   down
//   half_out      | half_out    half_out   up              down   down   down
//   half_in       | half_in     up         half_in         down   down   down
//   up            | up          up         up              down   down   down
//   down          | down        half_out   half_in         down   down   down
//
// What a state means for a message sent to the peer (outbound.hpp): up sends it; connecting,
// half_out and half_in hold it until the link is up (or the handshake gives up: lost); idle
// (never tried) and down (declared down) fail it at once with nodedown, as node.hpp promises.
// A down peer is still knocked at (hellos every heartbeat period), so it can come back.
#pragma once

#include <cstdint>
#include <string_view>

namespace otter::net_detail {

enum class link_state : std::uint8_t { idle, connecting, half_out, half_in, up, down };

enum class link_event : std::uint8_t {
  handshake,       // we sent our hello (a seed, a learned member, a reconnection)
  welcomed,        // our hello was welcomed
  hello_accepted,  // the peer's hello passed every check and we welcomed it
  lost,            // silence, a refusal, a handshake that took too long: nodedown noconnection
  left,            // the peer said bye: nodedown shutdown
  violated,        // it broke the protocol: down, and its connection ignored
};

// The one transition function. `in_implied` / `out_implied`: one direction needs no
// handshake (see above), so a half link with the other direction done is up.
link_state next_state(link_state s, link_event e, bool in_implied, bool out_implied) noexcept;

// Messages to a peer in this state wait for the link (true), are sent (up), or fail (idle, down).
constexpr bool holds_messages(link_state s) noexcept {
  return s == link_state::connecting || s == link_state::half_out || s == link_state::half_in;
}
// Our hello on our connection has been welcomed.
constexpr bool out_done(link_state s) noexcept {
  return s == link_state::half_out || s == link_state::up;
}
// The peer's hello has been accepted: what it sends us is taken.
constexpr bool in_done(link_state s) noexcept {
  return s == link_state::half_in || s == link_state::up;
}

std::string_view to_string(link_state s) noexcept;
std::string_view to_string(link_event e) noexcept;

}  // namespace otter::net_detail
