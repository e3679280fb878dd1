// Internal: the way out. Any thread encodes an envelope for another node (on its own thread,
// so the I/O owner only moves bytes) and pushes it on one MPSC queue (the mailbox's queue
// type); the I/O owner drains it into per-peer send buffers, which batch envelopes into frames
// (up to net_defaults::batch_bytes), keep frames the socket refused at its high-water mark
// and hold what waits for a link still shaking hands.
// Bytes queued for the I/O owner (and held for handshakes) are counted: above
// max_outbound_bytes, senders wait (the I/O owner is behind). Each peer's own bytes are counted
// too: above max_peer_queued_bytes (a peer that does not take what we send), its messages are shed
// (transport::take_outbound), so that one slow peer never makes senders to the others wait.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "io_token.hpp"
#include "link_io.hpp"
#include "otter/detail/envelope.hpp"
#include "otter/detail/mailbox.hpp"

namespace otter::net_detail {

// True while this thread serves the transport (service() or wait()): it is the thread that
// drains the queue, so it never waits for the queue to drain (back-pressure).
extern thread_local bool tl_serving;
struct serving_scope {
  serving_scope() noexcept { tl_serving = true; }
  ~serving_scope() { tl_serving = false; }
  serving_scope(const serving_scope&) = delete;
  serving_scope& operator=(const serving_scope&) = delete;
};

// An envelope encoded for the network: its bytes plus what the bookkeeping needs.
struct out_item final : detail::envelope {
  explicit out_item(detail::sig k) : envelope(k), bytes(256) {}  // sbuffer's default: 8 KiB
  pid to;                                                        // for a name: {node id, 0, 0}
  bool by_name = false;
  msgpack::sbuffer bytes;
};

class outbound_queue {
 public:
  outbound_queue() { q_.try_block(); }
  ~outbound_queue();
  // Any thread. True when the queue was empty (the I/O owner must be woken).
  bool push(std::unique_ptr<out_item> item);
  // Any thread: something waits to be sent (queued, or refused by a socket).
  bool wants_service() const noexcept {
    return q_.has_items() || backlogged_.load(std::memory_order_relaxed);
  }
  bool has_items() const noexcept { return q_.has_items(); }
  // I/O owner: hands every queued item to `take`, oldest first; then `after_round`. Repeats
  // while more arrive (bounded), so a sender still filling the queue is not chased for ever.
  void drain(const io_token& t, const std::function<void(std::unique_ptr<out_item>)>& take,
             const std::function<void()>& after_round);
  void set_backlogged(bool b) noexcept { backlogged_.store(b, std::memory_order_relaxed); }
  bool backlogged() const noexcept { return backlogged_.load(std::memory_order_relaxed); }
  // Drops everything still queued (shutdown).
  void discard() noexcept;

  // Bytes waiting anywhere between senders and sockets.
  std::size_t bytes() const noexcept { return bytes_.load(std::memory_order_relaxed); }
  void add_bytes(std::size_t n) noexcept { bytes_.fetch_add(n, std::memory_order_relaxed); }
  void sub_bytes(std::size_t n) noexcept;

 private:
  detail::inbox q_;  // out_items from any thread to the I/O owner
  std::atomic<std::size_t> bytes_{0};
  std::atomic<bool> backlogged_{false};
};

// One peer's side of the way out (I/O owner only).
class send_buffer {
 public:
  using sender = std::function<send_status(std::string_view frame)>;

  // Adds an encoded envelope to the frame being built; true when it is full (flush it).
  bool append(const msgpack::sbuffer& bytes);
  // Sends the frame being built (and anything refused before, in order). What the socket
  // refuses is kept (counted in queued_bytes, not in the outbound_queue's bytes: a peer that
  // does not read is bounded on its own).
  void flush(const sender& send);
  // Retries frames the socket refused; true when none is left.
  bool retry(const sender& send);
  bool backlogged() const noexcept { return !backlog_.empty(); }
  // Bytes of the frame being built that must go out before `bytes` would make the frame larger
  // than the frame limit (flush first, then append).
  bool would_overflow(std::size_t bytes) const noexcept;
  // The link is gone: everything waiting is dropped (`queue` counts the held envelopes).
  void clear(outbound_queue& queue);
  // Bytes waiting for this peer here: the frame being built, the frames the socket refused, the
  // envelopes held for the handshake (what the socket itself holds is bounded by its
  // high-water mark).
  std::size_t queued_bytes() const noexcept { return batch_.size() + backlog_bytes_ + held_bytes_; }

  // What waits for the link to come up.
  void hold(std::unique_ptr<out_item> item);
  std::vector<std::unique_ptr<out_item>> take_held() noexcept;

 private:
  std::string batch_;                // envelopes of the next frame
  std::deque<std::string> backlog_;  // frames refused at the high-water mark
  std::size_t backlog_bytes_ = 0;    // their bytes
  std::vector<std::unique_ptr<out_item>> held_;
  std::size_t held_bytes_ = 0;  // their encoded bytes
};

}  // namespace otter::net_detail
