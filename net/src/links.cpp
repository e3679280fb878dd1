// Links and membership: applying link events (link_state.hpp) and what entering up or down
// means, learning members and departures from peers, failure detection, the published view.
#include "otter/log.hpp"
#include "transport.hpp"

namespace otter {

using net_detail::link_event;
using net_detail::link_state;
using namespace std::chrono_literals;

void transport::link_event(const io_token& t, peer& p, net_detail::link_event e,
                           const std::string& reason) {
  const link_state from = p.state;
  const link_state to = net_detail::next_state(from, e, opts_.hidden, p.hidden);
  if (to == from) return;
  p.state = to;
  p.state_since = now();
  detail::log().debug("link {}: {} --{}--> {}", p.name, net_detail::to_string(from),
                      net_detail::to_string(e), net_detail::to_string(to));
  if (to == link_state::up) {
    went_up(t, p);
  } else if (to == link_state::down) {
    went_down(t, p, from == link_state::up, reason);
  }
  view_dirty_ = true;
}

void transport::went_up(const io_token& t, peer& p) {
  p.up_since = p.last_heard = now();
  if (p.hidden) {
    detail::log().debug("hidden node {} is up (creation {})", p.name, p.creation);
  } else {
    detail::log().info("member node {} is up ({}, creation {})", p.name,
                       p.endpoint.empty() ? "no endpoint" : p.endpoint, p.creation);
  }
  auto held = std::move(p.out.held);
  p.out.held.clear();
  for (auto& item : held) take_outbound(t, std::move(item));
  flush(t, p);
  if (!p.hidden && !opts_.hidden) {
    // Tell everyone about everyone: the mesh closes whichever seed each node used.
    msgpack::sbuffer buf;
    wire::encode_members(buf, member_list());
    for (auto& [id, other] : peers_) {
      if (other->state == link_state::up && !other->hidden) send_control(t, *other, buf);
    }
  }
  publish(t);  // before the news: a process told of it reads the view
  if (!p.hidden) members_.announce(t, p.name, true, "");
}

void transport::went_down(const io_token& t, peer& p, bool was_up, const std::string& reason) {
  // Its connection to us stays known but ignored until it says hello again (handle_frame);
  // ours to it starts afresh, so that nothing queued for the peer we gave up on arrives after
  // the new handshake.
  p.our_session = ++sessions_;  // we start over: a new session in our hellos to it
  if (connection* c = connection_of(p)) {
    io_->reset(t, c->id);
    send_hello(t, *c);
  }
  for (auto& item : p.out.held) fail_item(*item, false);
  p.out.clear(outq_);
  if (was_up) {
    if (p.hidden) {
      detail::log().debug("hidden node {} is down ({})", p.name, reason);
    } else {
      detail::log().info("node {} is down ({})", p.name, reason);
    }
    // The view first: whoever learns of the death (a DOWN, a failed call) no longer finds the
    // node in nodes() (as in Erlang).
    publish(t);
  }
  p.book.settle(rt_, p.name, reason);
  if (!was_up || p.hidden) return;
  members_.announce(t, p.name, false, reason);
  // Members still shaking hands with it (a node joining) learn at once that it is gone.
  if (opts_.hidden) return;
  msgpack::sbuffer buf;
  wire::encode_gone(buf, {wire::departed{p.name, p.creation, reason}});
  for (auto& [id, other] : peers_) {
    if (other->state == link_state::up && !other->hidden) send_control(t, *other, buf);
  }
}

void transport::learn_members(const io_token& t, const std::vector<wire::member>& members) {
  if (opts_.hidden) return;
  const auto at = now();
  for (const auto& m : members) {
    if (m.name == rt_.node_name() || m.endpoint.empty() || blocked(m.name)) continue;
    peer& p = peer_for(m.name);
    if (p.state == link_state::up || net_detail::out_done(p.state)) continue;
    if (p.creation != 0 && m.creation < p.creation) continue;  // news of an older incarnation
    if (p.endpoint.empty()) p.endpoint = m.endpoint;
    connection& c = connect_to(t, m.endpoint, p.id);
    if (at - c.last_hello > opts_.heartbeat_interval / 2) send_hello(t, c);
    link_event(t, p, link_event::handshake);
  }
}

void transport::learn_gone(const io_token& t, const peer& from,
                           const std::vector<wire::departed>& gone) {
  for (const auto& g : gone) {
    if (g.name == rt_.node_name()) continue;
    peer* p = find_peer(node_id_of(g.name));
    // Only for a member we are trying to reach and have not heard from: one we hear ourselves
    // (a partial partition, a link coming back) knows better than the report.
    if (p == nullptr || p->state != link_state::connecting) continue;
    if (p->creation != 0 && g.creation < p->creation) continue;
    detail::log().debug("{} reports {} down ({})", from.name, g.name, g.reason);
    link_event(t, *p, link_event::lost, g.reason);
  }
}

void transport::tick(const io_token& t) {
  const auto at = now();
  members_.ticked(at);
  msgpack::sbuffer hb;
  wire::encode_heartbeat(hb);
  std::vector<peer*> silent, stuck;
  for (auto& [id, p] : peers_) {
    if (p->state == link_state::up) {
      if (members_.silent(p->last_heard, at)) {
        silent.push_back(p.get());
      } else if (!blocked(p->name)) {
        send_control(t, *p, hb);
      }
    } else if (net_detail::holds_messages(p->state) &&
               at - p->state_since > members_.failure_timeout()) {
      stuck.push_back(p.get());  // still shaking hands after the failure bound: give up
    }
  }
  for (peer* p : silent) {
    detail::log().warn(
        "node {} is down: nothing heard for {} ms", p->name,
        std::chrono::duration_cast<std::chrono::milliseconds>(at - p->last_heard).count());
    link_event(t, *p, link_event::lost);
  }
  for (peer* p : stuck) link_event(t, *p, link_event::lost, "handshake timed out");
  // Keep knocking where we are not (or no longer) welcome; close connections nobody has
  // answered on for a while (a peer that restarted elsewhere, a member that left), except
  // the seeds.
  constexpr auto forget_after = 30s;
  for (auto it = connections_.begin(); it != connections_.end();) {
    connection& c = it->second;
    peer* p = c.peer_id != 0 ? find_peer(c.peer_id) : nullptr;
    const bool in_use = p != nullptr && p->state == link_state::up && connection_of(*p) == &c;
    if (in_use) c.last_useful = at;
    if (!in_use && !c.seed && at - c.last_useful > forget_after) {
      detail::log().info("closing the unused connection to {}", c.endpoint);
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
  if (view_dirty_) publish(t);
}

void transport::publish(const io_token& t) {
  view_dirty_ = false;
  std::vector<node_info> up;
  bool joining = false;
  const auto at = now();
  for (const auto& [id, p] : peers_) {
    if (p->state == link_state::up) {
      up.push_back(
          {p->name, p->endpoint, p->creation, p->hidden,
           std::chrono::duration_cast<std::chrono::milliseconds>(at - p->up_since).count()});
    } else if (!p->hidden && net_detail::holds_messages(p->state)) {
      joining = true;
    }
  }
  members_.publish(t, std::move(up), joining);
}

std::vector<wire::member> transport::member_list() const {
  std::vector<wire::member> out;
  for (const auto& [id, p] : peers_) {
    if (p->state == link_state::up && !p->hidden)
      out.push_back({p->name, p->endpoint, p->creation});
  }
  return out;
}

}  // namespace otter
