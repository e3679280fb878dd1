// Links and membership: applying link events (link_state.hpp) and what entering up or down
// means, learning members and departures from peers, the published view. Failure detection
// and gossip are in detector.cpp.
#include "otter/log.hpp"
#include "otter/log_fields.hpp"
#include "transport.hpp"

namespace otter {

using net_detail::link_event;
using net_detail::link_state;
using namespace std::chrono_literals;

void transport::link_event(const io_token& t, peer& p, net_detail::link_event e,
                           const std::string& reason, bool tell_others) {
  const link_state from = p.state;
  const link_state to = net_detail::next_state(from, e, opts_.hidden, p.hidden);
  if (to == from) return;
  p.state = to;
  p.state_since = now();
  if (from == link_state::up) {
    members_.down(t, p.id);  // the view, before anyone hears the news
    // A ring neighbour lost (not one that said bye): its successor is probed (detector.cpp).
    if (e == link_event::lost && neighbours_.count(p.id) > 0) neighbour_lost_ = true;
    if (e == link_event::lost && !p.hidden) {
      p.declared_down = p.state_since;
      p.declared_creation = p.creation;
    }
    if (!p.hidden) ring_.erase(p.id);
  }
  if (!p.hidden && to == link_state::up) ring_.insert(p.id);
  if (!p.hidden) {
    joining_ += static_cast<int>(net_detail::holds_messages(to)) -
                static_cast<int>(net_detail::holds_messages(from));
  }
  detail::log().debug("link {}: {} --{}--> {}", p.name, net_detail::to_string(from),
                      net_detail::to_string(e), net_detail::to_string(to));
  if (to == link_state::up) {
    went_up(t, p);
  } else if (to == link_state::down) {
    const bool said_bye = e == link_event::left;
    if (said_bye) p.bye_creation = p.creation;
    went_down(t, p, from == link_state::up, said_bye, reason, tell_others && !said_bye);
  }
  view_dirty_ = true;
  if (!p.hidden && (to == link_state::up || from == link_state::up)) last_change_ = p.state_since;
  // The detector plans its ticks by what it waits for (detector.cpp): a link that changed
  // changes that (a peer to watch, a handshake's bound, gossip while members come and go).
  members_.tick_by(p.state_since + opts_.heartbeat_interval);
}

void transport::went_up(const io_token& t, peer& p) {
  p.up_since = p.last_heard = now();
  if (p.declared_down != clock::time_point{} && p.creation == p.declared_creation &&
      p.up_since - p.declared_down < 2 * opts_.failure_timeout) {
    members_.hurt();  // it was alive: our silence bound was too short for now
    detail::log().debug("{} is back as the same incarnation: health {}", p.name, members_.health());
  }
  p.declared_down = {};
  members_.up(t, p.id, node_info{p.name, p.endpoint, p.creation, p.hidden, 0}, p.up_since);
  if (!p.hidden) {
    up_log_.emplace_back(p.up_since, p.id);
    while (up_log_.size() > 1 && (up_log_.size() > 4096 ||
                                  up_log_.front().first < p.up_since - std::chrono::seconds(30))) {
      up_log_floor_ = up_log_.front().first;
      up_log_.pop_front();
    }
  }
  if (p.hidden) {
    detail::log().debug("hidden node {} is up (creation {})", p.name, p.creation);
  } else {
    log_fields fields{{"peer", p.name},
                      {"endpoint", p.endpoint},
                      {"creation", std::to_string(p.creation)},
                      {"protocol", std::to_string(p.version)}};
    detail::log().info("member node {} is up ({}, creation {}, protocol {}{})", p.name,
                       p.endpoint.empty() ? "no endpoint" : p.endpoint, p.creation, p.version,
                       p.software.empty() ? std::string() : ", otter " + p.software);
  }
  auto held = p.out.take_held();
  for (auto& item : held) take_outbound(t, std::move(item));
  flush(t, p);
  // The welcome carried the member list each way. Members that came up here between our
  // welcome and now (nodes joining through us at once) are told to it now, so that joiners
  // through one seed find each other at once rather than at the next gossip (detector.cpp),
  // which still closes the mesh when two nodes join through different seeds at once.
  // Only those (news, not the whole list: N links coming up at once would each carry N).
  if (!p.hidden && !opts_.hidden && ring_.size() - 1 > p.members_told) {
    auto news = member_list(p.told_at);
    std::erase_if(news, [&](const wire::member& m) { return m.name == p.name; });
    if (!news.empty()) send_members(t, p, news, true);
  }
  publish(t);  // before the news: a process told of it reads the view
  if (!p.hidden) members_.announce(t, p.name, true, "");
}

void transport::went_down(const io_token& t, peer& p, bool was_up, bool said_bye,
                          const std::string& reason, bool tell_others) {
  // Its connection to us stays known but ignored until it says hello again (handle_frame);
  // ours to it starts afresh, so that nothing queued for the peer we gave up on arrives after
  // the new handshake.
  // We start over: a new session in our hellos to it, unless it started over itself (it knows
  // the link is down: a new session would look like a second start to it, and if it was up
  // with us again by then, it would start over again, and so on: two nodes did that every
  // 10-20 ms for minutes).
  if (!std::exchange(p.it_started_over, false)) p.our_session = ++sessions_;
  p.frames_sent = p.frames_confirmed = p.last_data_frame = 0;
  if (connection* c = connection_of(p)) {
    if (said_bye && !c->seed) {
      // It shut down: nobody is left to knock at (every member would otherwise send it a hello
      // each heartbeat period, and ZeroMQ reconnect, until the connection was forgotten 30 s
      // later). A new incarnation says hello itself: it joins through its seeds and connects
      // to every member. Closed at the next tick (this may run inside the poll of it).
      c->closing = true;
    } else {
      // A link that never came up carried only hellos (frames wait for up): its connection is
      // kept, and the encrypted handshake it may be in the middle of with it.
      if (was_up) io_->reset(t, c->id);
      send_hello(t, *c);
    }
  }
  for (auto& item : p.out.take_held()) fail_item(*item, false);
  p.out.clear(outq_);
  if (was_up) {
    log_fields fields{{"peer", p.name}, {"endpoint", p.endpoint}, {"reason", reason}};
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
  p.probe_sent = {};
  p.probe_tells = false;
  p.watched = false;
  if (!was_up || p.hidden) return;
  members_.announce(t, p.name, false, reason);
  // The others learn at once that it is gone (a joiner still shaking hands with it gives up,
  // a member that does not watch it probes it), unless we only confirmed such a report (its
  // author told them), or it said bye (to each of them).
  if (opts_.hidden || !tell_others) return;
  msgpack::sbuffer buf;
  wire::encode_gone(buf, {wire::departed{p.name, p.creation, reason}});
  for (auto& [id, other] : peers_) {
    if (other->state == link_state::up && !other->hidden) send_control(t, *other, buf);
  }
}

void transport::learn_members(const io_token& t, const std::vector<wire::member>& members) {
  if (opts_.hidden) return;
  const auto at = now();
  // Every new member is counted before the first hello goes: a hello's `known` says how many
  // we know of, and a welcome lists its members only to a node that knows of fewer than half.
  std::vector<connection*> hello;
  for (const auto& m : members) {
    if (m.name == rt_.node_name() || m.endpoint.empty() || blocked(m.name)) continue;
    peer& p = peer_for(m.name);
    if (p.state == link_state::up || net_detail::out_done(p.state)) continue;
    if (p.creation != 0 && m.creation < p.creation) continue;  // news of an older incarnation
    if (p.bye_creation != 0 && m.creation == p.bye_creation) continue;  // it left (went_down)
    if (p.endpoint.empty()) p.endpoint = m.endpoint;
    connection& c = connect_to(t, m.endpoint, p.id);
    if (at - c.last_hello > opts_.heartbeat_interval / 2) hello.push_back(&c);
    link_event(t, p, link_event::handshake);
  }
  for (connection* c : hello) {
    if (at - c->last_hello > opts_.heartbeat_interval / 2) send_hello(t, *c);  // once each
  }
}

void transport::learn_gone(const io_token& t, const peer& from,
                           const std::vector<wire::departed>& gone) {
  for (const auto& g : gone) {
    if (g.name == rt_.node_name()) continue;
    peer* p = find_peer(node_id_of(g.name));
    if (p == nullptr || p->hidden) continue;
    if (p->creation != 0 && g.creation < p->creation) continue;
    detail::log().debug("{} reports {} down ({})", from.name, g.name, g.reason);
    if (p->state == link_state::up) {
      probe(t, *p, g.reason);  // down unless it answers at once: it may be cut off from `from` only
    } else if (p->state == link_state::connecting) {
      link_event(t, *p, link_event::lost, g.reason);  // a joiner waiting for it gives up
    }
  }
}

void transport::publish(const io_token& t) {
  // The view itself changes a peer at a time (link_event, went_up): only the join state and
  // the ring are left to settle here.
  view_dirty_ = false;
  members_.set_joined(t, joining_ == 0);
  choose_neighbours(t);
}

std::vector<wire::member> transport::member_list(std::optional<clock::time_point> since) const {
  std::vector<wire::member> out;
  if (since && *since > up_log_floor_) {  // the log has every member up since then
    for (auto it = up_log_.rbegin(); it != up_log_.rend() && it->first >= *since; ++it) {
      const auto p = peers_.find(it->second);
      if (p == peers_.end() || p->second->state != link_state::up ||
          p->second->up_since != it->first)
        continue;  // down since, or up again later (listed at that later entry)
      out.push_back({p->second->name, p->second->endpoint, p->second->creation});
    }
    return out;
  }
  for (const auto& [id, p] : peers_) {
    if (p->state == link_state::up && !p->hidden && (!since || p->up_since >= *since))
      out.push_back({p->name, p->endpoint, p->creation});
  }
  return out;
}

}  // namespace otter
