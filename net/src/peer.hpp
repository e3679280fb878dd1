// Internal: what the transport knows of another node (a peer) and of each of its own outbound
// connections. Owned and used by the I/O owner only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "ledger.hpp"
#include "link_io.hpp"
#include "link_state.hpp"
#include "outbound.hpp"

namespace otter::net_detail {

using clock = std::chrono::steady_clock;

// Bytes of frames exchanged with one peer: written by the I/O owner, read by any thread
// (node::metrics), relaxed.
struct peer_traffic {
  std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0};
  std::atomic<bool> hidden{false};
};

struct peer {
  std::string name;
  std::uint64_t id = 0;
  std::uint32_t creation = 0;  // 0 until its hello or welcome says
  std::string endpoint;        // where we reach it ("" for hidden peers)
  bool hidden = false;
  link_state state = link_state::idle;
  std::string routing_id;  // of its connection to our listening endpoint
  // The handshake sessions: ours (in our hellos to it; new each time our link to it starts
  // over) and its (from the last hello of its we accepted, and that hello's incarnation; 0:
  // it sends none).
  std::uint64_t our_session = 0, its_session = 0;
  std::uint32_t its_session_creation = 0;
  clock::time_point last_heard{}, up_since{}, state_since{};
  // Failure detection (detector.cpp): whether we watch it (heartbeat it and check its
  // silence) and since when; until when it watches us (its heartbeats said so); a probe after
  // another member reported it down (sent at, and the report's reason).
  bool watched = false;
  clock::time_point watch_since{}, watches_us_until{}, probe_sent{}, list_sent{};
  clock::time_point last_sent{};  // any frame on our way to it (heartbeats are skipped then)
  std::string probe_reason;
  // When we last declared it down while up with it, and its incarnation then: up again as
  // that incarnation soon after, it was alive (membership's health).
  clock::time_point declared_down{};
  std::uint32_t declared_creation = 0;
  // The incarnation that said bye (0: none): it shut down and does not come back, so news of it
  // from members that have not heard yet is not knocked at (links.cpp).
  std::uint32_t bye_creation = 0;
  // How many members our last welcome to it told of (or, when it listed none, how many its
  // hello said it knew): more members up by the time the link is up are sent to it then.
  std::size_t members_told = 0;
  clock::time_point told_at{};  // when our welcome to it listed our members (or did not need to)
  bool probe_tells = false;     // a probe of our own (not after a report): its failure is told
  // The link goes down because it started over (a hello of a new session while up): our next
  // hello keeps our session (handshake.cpp).
  bool it_started_over = false;
  // The link session's frame counts (full peers, frames on our connection to it and on its
  // to us): sent (and how many of those it has confirmed, and where the last frame of process
  // envelopes stands) and received. A heartbeat saying it sent more than we received
  // means frames were lost: the link is down.
  std::uint64_t frames_sent = 0, frames_confirmed = 0, last_data_frame = 0, frames_received = 0;
  // Messages dropped for it (transport::shed) since the last log line about it, and when that was.
  std::uint64_t shed_unlogged = 0;
  clock::time_point shed_logged{};
  ledger book;                            // what is open with its processes
  std::shared_ptr<peer_traffic> traffic;  // also in transport::traffic_ (never null)
  std::uint32_t version = 0;              // the protocol version agreed in the handshake
  std::string software;                   // its otter release, from its welcome (version 2), or ""
  send_buffer out;                        // what goes to it
};

// One of our outbound connections (a DEALER), by endpoint.
struct connection {
  conn_id id = 0;
  std::string endpoint;
  std::uint64_t peer_id = 0;  // known once welcomed
  clock::time_point last_hello{}, refused_until{}, last_useful{};
  // Since when our hello waits for the connection (ZMQ_IMMEDIATE: not sent before the
  // connection is made); retried after 2, 4, 8 ... ms for a while (handshake.cpp), not once a
  // tick.
  clock::time_point hello_blocked_since{}, hello_retry{};
  std::chrono::milliseconds hello_backoff{0};
  // Failed encrypted handshakes in a row on it (a welcome ends the run): one alone can be a
  // connection cut in the middle of its handshake (a busy or restarting peer), not a secret.
  unsigned handshake_failures = 0;
  bool seed = false;  // given at start or asked for (node::connect): kept while unused
  // Its node said bye: closed at the next tick rather than knocked at (links.cpp), unless a
  // new incarnation is connected to through it meanwhile (connect_to clears it).
  bool closing = false;
};

}  // namespace otter::net_detail
