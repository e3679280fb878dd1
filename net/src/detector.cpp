// Failure detection and membership gossip, O(1) messages per node per period whatever the
// size of the cluster (docs/PROTOCOL.md, "Heartbeats"):
// - Watching: a node heartbeats, and checks the silence of, only the peers it watches: its
//   watch_neighbours nearest members on each side of a ring of the members up ordered by node
//   id, every hidden peer, and every member it is waiting on (calls open, frames of process
//   envelopes sent that it has not confirmed yet). Monitors and links alone do not make a node
//   watch: a member that many monitor (a global name's holder) would be beaten by all of
//   them, N beats where the ring needs 2; its death reaches them through the ring's `gone`. A
//   watched peer is sent a heartbeat each round (beat_every(), 600 ms by default, on the
//   clock's multiples of it) unless a frame went to it in the last quarter round. Any envelope
//   counts as liveness. One silent for failure_timeout since we heard it (or began watching it)
//   is declared down, and the other members are told (gone).
// - Ticks are planned, not periodic (plan_tick): the next round, the earliest silence bound of
//   a watched peer, a probe's verdict, a stuck handshake's bound, a hello to send again, the
//   gossip. Idle, a node ticks once a round; the rounds of all the nodes of a host fall
//   together, so a node's neighbours' heartbeats arrive together and its two I/O threads
//   (ZeroMQ's and the poller) wake about once for them rather than once each: 64 idle nodes
//   on two cores wake each about 6 times a second instead of 15-18.
// - A heartbeat says whether its sender watches the receiver; a node keeps heartbeating a
//   peer that watches it (for three beat periods after that peer's last such beat) even
//   when it does not watch that peer: the two need not agree on the ring.
// - Frame counts: a heartbeat between members carries how many frames its sender sent the
//   receiver in this session, and how many it received from it. Fewer received than the
//   sender says it sent: frames were lost (a connection broken and silently remade while the
//   two did not watch each other), and the link is declared down, so that both resynchronise
//   as after any nodedown. The count received is the confirmation that ends watching.
// - Probes: a member reported down by another is probed (a heartbeat answered at once) and
//   declared down unless something arrives from it within a heartbeat period. Who can still
//   reach it keeps it (a partial partition does not spread); who cannot learns of the death
//   within failure_timeout + 2 heartbeat periods.
// - A ring neighbour lost (down, not by its bye) makes the next member on that side a
//   neighbour; the 3 * watch_neighbours nearest members on each side that were not neighbours
//   before are probed at once, and each is declared down (and the others told) if it does not
//   answer: a partition, or a crash of several nodes in a row on the ring, is found a few
//   members deep per probe past the first silent neighbours instead of a failure timeout at a
//   time.
// - Gossip: the member list goes to one member in turn, every tick while members come and go
//   (for 2 failure timeouts after the last change), else every gossip_every ticks (5 s); one that
//   receives a list lacking members it knows sends its own back (push-pull). So a mesh that
//   concurrent joins through one seed (or several) left open closes within a few ticks.
#include <algorithm>
#include <utility>

#include "otter/log.hpp"
#include "transport.hpp"

namespace otter {

using net_detail::link_event;
using net_detail::link_state;

namespace {
using namespace std::chrono_literals;
constexpr int gossip_every = 25;  // heartbeat intervals (5 s by default) between gossips when calm
constexpr auto forget_after = 30s;  // an unused connection is closed (not a seed's)
}  // namespace

bool transport::should_watch(const peer& p) const {
  return opts_.hidden || p.hidden || opts_.watch_neighbours == 0 || neighbours_.count(p.id) > 0 ||
         p.book.calls_open() || p.frames_confirmed < p.last_data_frame;
}

void transport::choose_neighbours(const io_token& t) {
  const auto before = neighbours_;
  neighbours_ = ring_around(opts_.watch_neighbours);
  const bool lost = std::exchange(neighbour_lost_, false);
  if (neighbours_ == before) return;
  if (lost) {
    // The new neighbours, and twice as many past them on each side: a run of silent members
    // on the ring (a partition into halves leaves runs of ~log2 N at N members) is probed
    // three neighbourhoods deep at once.
    for (const std::uint64_t id : ring_around(3 * opts_.watch_neighbours)) {
      peer* p = find_peer(id);
      if (before.count(id) == 0 && p != nullptr && p->state == link_state::up) {
        probe(t, *p, "noconnection", true);
      }
    }
  }
  if (!detail::log().should_log(spdlog::level::debug)) return;
  std::string names;
  for (const auto& [id, p] : peers_) {
    if (neighbours_.count(id) > 0) names += (names.empty() ? "" : ", ") + p->name;
  }
  detail::log().debug("watching ring neighbours: {}", names.empty() ? "none" : names);
}

std::unordered_set<std::uint64_t> transport::ring_around(std::size_t k) const {
  std::unordered_set<std::uint64_t> out;
  if (opts_.hidden || opts_.watch_neighbours == 0) return out;
  if (ring_.size() <= 2 * k) {  // a small cluster: everyone is a neighbour
    out.insert(ring_.begin(), ring_.end());
    return out;
  }
  // Where we would stand on the ring: before the first member after us.
  const auto after = ring_.upper_bound(rt_.node_id());
  auto succ = after;
  auto pred = after;
  for (std::size_t i = 0; i < k; ++i) {
    if (succ == ring_.end()) succ = ring_.begin();
    out.insert(*succ++);
    if (pred == ring_.begin()) pred = ring_.end();
    out.insert(*--pred);
  }
  return out;
}

void transport::send_heartbeat(const io_token& t, peer& p, unsigned flags) {
  msgpack::sbuffer hb;
  if (p.hidden || opts_.hidden) {
    wire::encode_heartbeat(hb, flags);
  } else {
    const wire::beat_counts counts{p.frames_sent, p.frames_received};
    wire::encode_heartbeat(hb, flags, &counts);
  }
  send_control(t, p, hb);
}

void transport::on_heartbeat(const io_token& t, peer& p, const wire::decoded& d, bool counted) {
  if ((d.beat & wire::beat_watching) != 0) {
    p.watches_us_until = now() + 3 * beat_every();
  } else {
    p.watches_us_until = {};
  }
  if (d.has_counts && counted) {
    // Our count includes this heartbeat's frame; it counts the frames before it.
    if (d.counts.sent > p.frames_received - 1) {
      detail::log().warn(
          "node {} is down: it sent {} frames on this link, {} arrived (a broken "
          "connection)",
          p.name, d.counts.sent, p.frames_received - 1);
      link_event(t, p, link_event::lost, "noconnection", false);
      return;
    }
    p.frames_confirmed = std::max(p.frames_confirmed, d.counts.received);
  }
  if ((d.beat & wire::beat_probe) != 0 && !blocked(p.name)) {
    send_heartbeat(t, p, p.watched ? wire::beat_watching : 0);
  }
}

void transport::probe(const io_token& t, peer& p, const std::string& reason, bool tell_others) {
  if (p.probe_sent != clock::time_point{} || blocked(p.name)) return;  // one at a time
  const auto at = now();
  p.probe_sent = at;
  suspicions_.fetch_add(1, std::memory_order_relaxed);
  p.probe_reason = reason;
  p.probe_tells = tell_others;
  send_heartbeat(t, p, wire::beat_probe | (p.watched ? wire::beat_watching : 0));
  members_.tick_by(at + members_.probe_timeout());  // the verdict, on time
}

transport::clock::time_point transport::next_round_after(clock::time_point at) const noexcept {
  const auto period = std::chrono::duration_cast<clock::duration>(beat_every());
  return clock::time_point{(at.time_since_epoch() / period + 1) * period};
}

void transport::tick(const io_token& t) {
  const auto at = now();
  members_.ticked(at);
  // A heartbeat round: due, or near enough that this tick does it rather than wake again for
  // it. A peer gets a heartbeat in a round unless a frame went to it in the last quarter of a
  // round (then frames go to it at most 1.25 rounds apart: 750 ms by default, so one lost
  // heartbeat leaves 1.35 s of silence, within the failure timeout).
  const auto slack = opts_.heartbeat_interval / 4;
  const bool round = at + slack >= beat_round_;
  if (round) beat_round_ = next_round_after(at + slack);
  std::vector<peer*> silent, stuck, unanswered;
  for (auto& entry : peers_) {
    peer& p = *entry.second;
    if (p.state == link_state::up) {
      const bool watch = should_watch(p);
      if (watch && !p.watched) p.watch_since = at;
      p.watched = watch;
      if (p.probe_sent != clock::time_point{} && at - p.probe_sent >= members_.probe_timeout()) {
        if (p.last_heard < p.probe_sent) {
          unanswered.push_back(&p);
          continue;
        }
        p.probe_sent = {};  // it answered: the report was about a link of someone else's
        p.probe_tells = false;
      }
      if (watch && members_.silent(std::max(p.last_heard, p.watch_since), at)) {
        silent.push_back(&p);
      } else if (round && (watch || at < p.watches_us_until) &&
                 at - p.last_sent >= beat_every() / 4 && !blocked(p.name)) {
        send_heartbeat(t, p, watch ? wire::beat_watching : 0);
      }
    } else if (net_detail::holds_messages(p.state) &&
               at - p.state_since > members_.failure_timeout()) {
      stuck.push_back(&p);  // still shaking hands after the failure bound: give up
    }
  }
  for (peer* p : silent) {
    if (!p->hidden) suspicions_.fetch_add(1, std::memory_order_relaxed);
    // A tool (otterctl) that vanished without a goodbye (killed, ^C) is no cluster event.
    detail::log().log(
        p->hidden ? spdlog::level::debug : spdlog::level::warn,
        "node {} is down: nothing heard for {} ms", p->name,
        std::chrono::duration_cast<std::chrono::milliseconds>(at - p->last_heard).count());
    link_event(t, *p, link_event::lost);  // our own finding: the others are told
  }
  for (peer* p : unanswered) {
    detail::log().warn("node {} is down: {}, and silent to a probe", p->name,
                       p->probe_tells ? "a new ring neighbour" : "reported down by a member");
    // A report's author told the others; a new neighbour's silence is our own finding.
    link_event(t, *p, link_event::lost, p->probe_reason, p->probe_tells);
  }
  // A handshake that takes longer than the failure bound: the peer is gone, or this machine is
  // too busy to finish handshakes in time (each one given up on is begun again, more work):
  // health says so for the next ones.
  if (!stuck.empty()) members_.hurt();
  for (peer* p : stuck) link_event(t, *p, link_event::lost, "handshake timed out");
  // Keep knocking where we are not (or no longer) welcome; close connections nobody has
  // answered on for a while (a peer that restarted elsewhere, a member that left), except
  // the seeds.
  for (auto it = connections_.begin(); it != connections_.end();) {
    connection& c = it->second;
    peer* p = c.peer_id != 0 ? find_peer(c.peer_id) : nullptr;
    // (The peer's own endpoint first: a map lookup a connection would cost O(N log N) a tick.)
    const bool in_use = p != nullptr && p->state == link_state::up &&
                        (p->endpoint == it->first || connection_of(*p) == &c);
    if (in_use) c.last_useful = at;
    if (!in_use && !c.seed && (c.closing || at - c.last_useful > forget_after)) {
      detail::log().log(c.closing ? spdlog::level::debug : spdlog::level::info,
                        "closing the {} connection to {}", c.closing ? "departed node's" : "unused",
                        c.endpoint);
      io_->close(t, c.id);
      connection_ids_.erase(c.id);
      it = connections_.erase(it);
      continue;
    }
    ++it;
    if (p != nullptr && (net_detail::out_done(p->state) || blocked(p->name))) continue;
    if (at - c.last_hello >= opts_.heartbeat_interval) send_hello(t, c);
  }
  // Hidden peers (tools) are forgotten once gone: a new run is a new name.
  std::erase_if(peers_, [&](const auto& kv) {
    const peer& p = *kv.second;
    if (!p.hidden || p.state == link_state::up || net_detail::holds_messages(p.state)) return false;
    if (auto c = inbound_.find(p.routing_id); c != inbound_.end() && c->second == p.id) {
      inbound_.erase(c);
    }
    return true;
  });
  const bool changing = at - last_change_ < 2 * opts_.failure_timeout;
  if (at - last_gossip_ >= (changing ? 1 : gossip_every) * opts_.heartbeat_interval) {
    last_gossip_ = at;
    gossip(t);
  }
  if (view_dirty_) publish(t);
  members_.plan(plan_tick(at));
}

transport::clock::time_point transport::plan_tick(clock::time_point at) {
  constexpr auto after = 1ms;  // silence is *more* than the failure timeout
  auto next = beat_round_;
  const bool changing = at - last_change_ < 2 * opts_.failure_timeout;
  next = std::min(next, last_gossip_ + (changing ? 1 : gossip_every) * opts_.heartbeat_interval);
  for (const auto& [id, p] : peers_) {
    if (p->state == link_state::up) {
      if (p->probe_sent != clock::time_point{}) {
        next = std::min(next, p->probe_sent + members_.probe_timeout());
      }
      if (p->watched) {
        next = std::min(
            next, std::max(p->last_heard, p->watch_since) + members_.failure_timeout() + after);
      }
    } else if (net_detail::holds_messages(p->state)) {
      next = std::min(next, p->state_since + members_.failure_timeout() + after);
    }
  }
  for (auto& [endpoint, c] : connections_) {
    const peer* p = c.peer_id != 0 ? find_peer(c.peer_id) : nullptr;
    const bool in_use = p != nullptr && p->state == link_state::up && connection_of(*p) == &c;
    if (!in_use && !c.seed) next = std::min(next, c.last_useful + forget_after);
    if (p != nullptr && (net_detail::out_done(p->state) || blocked(p->name))) continue;
    next = std::min(next, std::max(c.last_hello + opts_.heartbeat_interval, c.refused_until));
  }
  return std::max(next, at + after);
}

void transport::gossip(const io_token& t) {
  if (opts_.hidden) return;
  // The next member up after the last one told, by node id (deterministic, and each member
  // hears from each other one every N gossip periods at most).
  peer* next = nullptr;
  peer* first = nullptr;
  for (auto& [id, p] : peers_) {
    if (p->state != link_state::up || p->hidden || blocked(p->name)) continue;
    if (first == nullptr || id < first->id) first = p.get();
    if (id > gossiped_to_ && (next == nullptr || id < next->id)) next = p.get();
  }
  if (next == nullptr) next = first;
  if (next == nullptr) return;
  gossiped_to_ = next->id;
  send_members(t, *next, member_list(), false);
}

void transport::send_members(const io_token& t, peer& to, const std::vector<wire::member>& list,
                             bool partial) {
  to.list_sent = now();
  msgpack::sbuffer buf;
  wire::encode_members(buf, list, partial);
  send_control(t, to, buf);
}

void transport::gossip_back(const io_token& t, peer& from,
                            const std::vector<wire::member>& theirs) {
  if (opts_.hidden || from.hidden || from.state != link_state::up) return;
  if (now() - from.list_sent < opts_.heartbeat_interval) return;  // no ping-pong while joining
  // Theirs is whole: what it lacks is known, and only that goes back (marked partial, so
  // that it is not answered in turn).
  std::unordered_set<std::uint64_t> listed{from.id};
  for (const auto& m : theirs) listed.insert(node_id_of(m.name));
  std::vector<wire::member> lacking;
  for (const auto& [id, p] : peers_) {
    if (p->state == link_state::up && !p->hidden && listed.count(id) == 0)
      lacking.push_back({p->name, p->endpoint, p->creation});
  }
  if (!lacking.empty()) send_members(t, from, lacking, true);
}

}  // namespace otter
