// Internal: the transport's view of the network, so the same transport runs on ZeroMQ
// (zmq_io.hpp) and in the deterministic simulator (tests/sim). What it offers is what ZeroMQ
// offers a node:
// - its listening endpoint, on which peers' connections arrive, each known by a routing id
//   (a ROUTER socket): frames come in with that id, replies go back by it;
// - outbound connections to endpoints (one DEALER each), by a connection id: frames sent on one
//   connection arrive in order; a connection that breaks loses what is in flight; reset()
//   replaces a connection by a fresh one, so nothing queued before arrives after.
// Everything is called by the I/O owner (io_token.hpp), and reports back to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "io_token.hpp"

namespace otter::net_detail {

using conn_id = std::uint64_t;  // an outbound connection (0: none)

enum class send_status : std::uint8_t {
  sent,
  would_block,  // the high-water mark: keep it and retry later (never dropped)
  unreachable,  // no such connection (any more): the failure detector will tell
};

// What the network reports to the transport (on the I/O owner's thread).
class link_events {
 public:
  // A frame on our listening endpoint, from the connection `routing_id` (peer address for logs).
  virtual void on_inbound(const io_token& t, const std::string& routing_id,
                          const std::string& address, std::string_view frame) = 0;
  // A frame on our outbound connection `c`.
  virtual void on_outbound(const io_token& t, conn_id c, std::string_view frame) = 0;
  // The encrypted handshake on our connection `c` failed (the peer holds another secret, or
  // is not an otter node); ZeroMQ retries it. The simulator has no such failure.
  virtual void on_handshake_failed(const io_token&, conn_id, const std::string& /*why*/) {}

 protected:
  ~link_events() = default;
};

class link_io {
 public:
  virtual ~link_io() = default;
  // Where we listen, with the real port ("" for hidden nodes, which do not listen).
  virtual const std::string& endpoint() const noexcept = 0;
  // Opens an outbound connection.
  virtual conn_id connect(const io_token& t, const std::string& endpoint) = 0;
  // Replaces `c` by a fresh connection to the same endpoint (what was queued on it is dropped).
  virtual void reset(const io_token& t, conn_id c) = 0;
  virtual void close(const io_token& t, conn_id c) = 0;
  virtual send_status send(const io_token& t, conn_id c, std::string_view frame) = 0;
  // A frame to the inbound connection `routing_id`.
  virtual send_status reply(const io_token& t, const std::string& routing_id,
                            std::string_view frame) = 0;
  // Takes in what arrived (reporting it to `events`), waiting up to `timeout` for something
  // to arrive or for wake(). The simulator's never waits: it delivers frames itself. One that
  // waits calls detail::io_activity() after the wait, before its first report (a worker
  // waits quiescent: see io_driver::wait).
  virtual void poll(const io_token& t, link_events& events, std::chrono::milliseconds timeout) = 0;
  // Any thread: makes a current or next poll() return at once.
  virtual void wake() = 0;
  // Says goodbye: what is queued may still go out for `linger`, then every socket closes.
  virtual void shut(const io_token& t, std::chrono::milliseconds linger) = 0;
  // Connections refused below the transport (a CURVE handshake without the secret).
  virtual std::uint64_t refused_connections() const noexcept { return 0; }
};

}  // namespace otter::net_detail
