// The way out (outbound.hpp): envelopes queued by any thread, taken by the I/O owner and, by
// the state of the peer's link, sent, held until the link is up, or answered at once as
// unreachable.
#include <thread>

#include "otter/log.hpp"
#include "transport.hpp"

namespace otter {

using detail::sig;
using net_detail::link_state;
using namespace std::chrono_literals;

bool transport::enqueue(std::unique_ptr<out_item> item) {
  // Back-pressure: a sender that outruns the network waits; nothing is dropped. Not the
  // thread serving the sockets: it is the one that drains the queue.
  while (!net_detail::tl_serving && outq_.bytes() > net_defaults::max_outbound_bytes) {
    if (stopped_) return false;
    if (!detail::try_service_io(rt_)) std::this_thread::sleep_for(50us);
  }
  detail::network_send(rt_, outq_.push(std::move(item)));
  return true;
}

void transport::drain_outbound(const io_token& t) {
  outq_.drain(
      t, [&](std::unique_ptr<out_item> item) { take_outbound(t, std::move(item)); },
      [&] {
        // The peers this round added to (not every peer: a wake must not cost O(members)).
        for (const std::uint64_t id : to_flush_) {
          if (peer* p = find_peer(id)) flush(t, *p);
        }
        to_flush_.clear();
      });
  if (!outq_.backlogged()) return;  // no frame waits at a socket's high-water mark
  bool any_backlog = false;
  for (auto& entry : peers_) {
    peer& p = *entry.second;  // (clang 14 cannot capture a structured binding)
    if (!p.out.backlogged()) continue;
    const auto send = [&](std::string_view frame) { return send_frame(t, p, frame); };
    any_backlog = !p.out.retry(send) || any_backlog;
  }
  outq_.set_backlogged(any_backlog);
}

void transport::take_outbound(const io_token& t, std::unique_ptr<out_item> item) {
  peer* p = find_peer(item->to.node);
  if (p == nullptr || blocked(p->name)) {
    fail_item(*item, false);
    return;
  }
  if (!item->by_name && p->creation != 0 && item->to.creation != p->creation) {
    fail_item(*item, true);  // a Pid of an earlier incarnation: dead
    return;
  }
  if (over_budget(*p) && sheddable(item->kind)) {
    shed(*p, *item);
    return;
  }
  if (p->state == link_state::up) {
    send_to_peer(t, *p, std::move(item));
  } else if (net_detail::holds_messages(p->state)) {
    p->out.hold(std::move(item));  // sent when the handshake completes
  } else {
    fail_item(*item, false);  // known to be down (or never reached): at once
  }
}

bool transport::over_budget(const peer& p) const noexcept {
  return p.out.queued_bytes() >= net_defaults::max_peer_queued_bytes;
}

bool transport::sheddable(detail::sig kind) noexcept {
  // Messages and the answers to calls: what a peer asks for and does not read. Signals that
  // open, close or end something (links, monitors, exits) keep their guarantees.
  return kind == sig::info || kind == sig::cast || kind == sig::call || kind == sig::reply ||
         kind == sig::reply_error;
}

void transport::shed(peer& p, const out_item& item) {
  outq_.sub_bytes(item.bytes.size());
  note_shed(p);
  if (item.kind == sig::call) {
    detail::answer_for(
        rt_, item.kind, item.from, item.to, item.ref,
        error{errc::mailbox_full, "node " + p.name + " does not take its messages: " +
                                      std::to_string(p.out.queued_bytes()) +
                                      " bytes wait to be sent to it (limit " +
                                      std::to_string(net_defaults::max_peer_queued_bytes) + ")"});
  }
}

void transport::note_shed(peer& p) {
  shed_.fetch_add(1, std::memory_order_relaxed);
  ++p.shed_unlogged;
  const auto at = now();
  if (at - p.shed_logged < defaults::drop_log_period) return;
  detail::log().warn(
      "node {} does not take its messages ({} bytes wait to be sent to it, limit {}): dropped "
      "{} messages, calls and replies to or from it since the last such line",
      p.name, p.out.queued_bytes(), net_defaults::max_peer_queued_bytes, p.shed_unlogged);
  p.shed_logged = at;
  p.shed_unlogged = 0;
}

void transport::send_to_peer(const io_token& t, peer& p, std::unique_ptr<out_item> item) {
  // Never a frame over the frame limit: the envelopes before a large one go out on their own.
  if (p.out.would_overflow(item->bytes.size())) flush(t, p);
  p.book.sent(item->kind, item->from, item->to, item->ref);
  env_out_.fetch_add(1, std::memory_order_relaxed);
  outq_.sub_bytes(item->bytes.size());
  if (p.out.append(item->bytes)) {
    flush(t, p);
  } else {
    // At the end of the drain round (once: items for one peer come in runs).
    if (to_flush_.empty() || to_flush_.back() != p.id) to_flush_.push_back(p.id);
  }
}

void transport::fail_item(const out_item& item, bool dead_incarnation) {
  outq_.sub_bytes(item.bytes.size());
  const error why =
      dead_incarnation
          ? error{errc::noproc,
                  "process " + to_string(item.to) +
                      " belongs to an earlier incarnation of its node",
                  exit_reason::noproc()}
          : error{errc::nodedown, "node of " + to_string(item.to) + " is down or unknown",
                  exit_reason::noconnection()};
  detail::answer_for(rt_, item.kind, item.from, item.to, item.ref, why);
}

void transport::flush(const io_token& t, peer& p) {
  const auto send = [&](std::string_view frame) { return send_frame(t, p, frame); };
  p.out.flush(send);
  if (p.out.backlogged()) outq_.set_backlogged(true);
}

net_detail::send_status transport::send_frame(const io_token& t, peer& p, std::string_view bytes,
                                              bool control) {
  net_detail::send_status r;
  // Our connection to it if we have one (a hidden peer we reach through our listening socket).
  connection* c = p.hidden && !opts_.hidden ? nullptr : connection_of(p);
  if (c != nullptr) {
    r = io_->send(t, c->id, bytes);
  } else if (opts_.hidden || p.routing_id.empty()) {
    return net_detail::send_status::unreachable;  // no way to it: dropped with the peer
  } else {
    r = io_->reply(t, p.routing_id, bytes);
  }
  if (r == net_detail::send_status::sent) {
    p.last_sent = now();
    frames_out_.fetch_add(1, std::memory_order_relaxed);
    bytes_out_.fetch_add(bytes.size(), std::memory_order_relaxed);
    p.traffic->bytes_out.fetch_add(bytes.size(), std::memory_order_relaxed);
    if (c != nullptr && !p.hidden && !opts_.hidden) {  // counted (peer.hpp)
      ++p.frames_sent;
      if (!control) p.last_data_frame = p.frames_sent;
    }
  }
  // unreachable: the connection is gone; the failure detector will say so.
  return r;
}

void transport::send_control(const io_token& t, peer& p, const msgpack::sbuffer& bytes) {
  flush(t, p);
  (void)send_frame(t, p, std::string_view(bytes.data(), bytes.size()), true);
}

}  // namespace otter
