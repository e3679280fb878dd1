// The handshake (docs/PROTOCOL.md, "Control envelopes"): hello on our connection, welcome back;
// the peer's hello on its connection to us, our welcome; a refusal with a code when a hello
// cannot be taken.
#include "otter/log.hpp"
#include "transport.hpp"

namespace otter {

using net_detail::link_event;
using namespace std::chrono_literals;

wire::hello transport::make_hello() const {
  wire::hello h;
  h.name = rt_.node_name();
  h.creation = rt_.creation();
  h.hidden = opts_.hidden;
  h.endpoint = advertised_;
  h.version = versions_.min;
  if (versions_.max != versions_.min) h.max_version = versions_.max;
  h.proof = keyed_proof(keys_, wire::proof_input(h));
  return h;
}

// Whether a hello from `p`, which is up, starts a new session. A retry of the hello that
// brought the link up (late: a slow link, a retry in flight) carries the same session and
// changes nothing (an older one is dropped before: stale_session). A peer that sends no
// session is judged by time: a hello from a peer that has long been up starts over; retries
// come within a few heartbeats of the handshake.
bool transport::restarted_session(const peer& p, std::uint64_t session,
                                  clock::time_point at) const {
  if (session != 0 && p.its_session != 0) return session > p.its_session;
  return at - p.up_since > 5 * opts_.heartbeat_interval;
}

// A hello of a session its sender has left behind: a node numbers its sessions upwards, and
// starting over it drops its connection and opens another, but what the old one carried may
// still be read after the new one's hello (a ROUTER reads its connections in turn). Taken as
// news, such a hello would end the new session too, and with it the sender's next one: on
// 48 nodes starting at once on two cores, pairs went down and up every 100-200 ms for good.
bool transport::stale_session(const peer& p, const wire::hello& h) const {
  return h.session != 0 && p.its_session != 0 && h.creation == p.its_session_creation &&
         h.session < p.its_session;
}

void transport::send_hello(const io_token& t, connection& c) {
  const auto at = now();
  if (at < c.refused_until) return;
  c.last_hello = at;
  wire::hello h = make_hello();
  if (const peer* p = c.peer_id != 0 ? find_peer(c.peer_id) : nullptr) h.session = p->our_session;
  if (!opts_.hidden) {
    h.known = ring_.size() + static_cast<std::uint64_t>(std::max(joining_, 0));
    // A node that knows of nobody yet and knocks at several seeds at once counts the other
    // seeds too. A welcome lists the members only to a hello that knows of fewer than half of
    // them: seeds that are most of the cluster (a static list of every host) then answer
    // without lists, N of up to N each, since the node says hello to them all anyway.
    if (ring_.empty() && joining_ <= 0) h.known = *h.known + other_seeds_;
  }
  msgpack::sbuffer buf;
  wire::encode_hello(buf, h);
  if (io_->send(t, c.id, std::string_view(buf.data(), buf.size())) !=
      net_detail::send_status::would_block) {
    c.hello_blocked_since = {};
    c.hello_backoff = {};
    return;
  }
  // Not connected yet (a connection is made in a few ms on a LAN): try again soon rather than
  // at the next tick, backing off, for a while; a peer that is not there is knocked at once a
  // tick.
  if (c.hello_blocked_since == clock::time_point{}) c.hello_blocked_since = at;
  c.hello_backoff = c.hello_backoff == std::chrono::milliseconds{0}
                        ? hello_retry_first
                        : std::min(2 * c.hello_backoff, opts_.heartbeat_interval);
  c.hello_retry = at + c.hello_backoff;
  if (at - c.hello_blocked_since < hello_retry_for) {
    hello_retry_at_ = std::min(hello_retry_at_, c.hello_retry);
  }
}

void transport::retry_hellos(const io_token& t) {
  const auto at = now();
  if (at < hello_retry_at_) return;
  hello_retry_at_ = clock::time_point::max();
  for (auto& [endpoint, c] : connections_) {
    if (c.hello_blocked_since == clock::time_point{} ||
        at - c.hello_blocked_since >= hello_retry_for) {
      continue;
    }
    if (at >= c.hello_retry) {
      send_hello(t, c);  // re-arms hello_retry_at_ if it still waits
    } else {
      hello_retry_at_ = std::min(hello_retry_at_, c.hello_retry);
    }
  }
}

void transport::refuse(const io_token& t, const std::string& routing_id, wire::refuse_code code,
                       const std::string& reason) {
  msgpack::sbuffer buf;
  wire::encode_refuse(buf, code, reason);
  (void)io_->reply(t, routing_id, std::string_view(buf.data(), buf.size()));
}

void transport::on_hello(const io_token& t, wire::decoded& d, const std::string& routing_id,
                         const std::string& address) {
  const auto refused = [&](wire::refuse_code code, const std::string& reason) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    // A name in use is asked again each heartbeat: logged once per incarnation asking.
    const bool again =
        (code == wire::refuse_code::name_in_use || code == wire::refuse_code::stale_incarnation) &&
        !name_in_use_told_.emplace(d.hi.name, d.hi.creation).second;
    if (name_in_use_told_.size() > 1000) name_in_use_told_.clear();
    if (again) {
      detail::log().debug("refused {} ('{}') again: {}", address, d.hi.name, reason);
    } else {
      detail::log().warn("refused {} ('{}'): {}", address, d.hi.name, reason);
    }
    refuse(t, routing_id, code, reason);
  };
  const wire::version_range theirs{d.hi.version,
                                   std::max(d.hi.version, d.hi.max_version.value_or(0))};
  const auto agreed = wire::agreed_version(versions_, theirs);
  if (!agreed) {
    const auto describe = [](wire::version_range r) {
      return (r.min == r.max ? "version " : "versions ") + wire::to_string(r);
    };
    refused(wire::refuse_code::version,
            "protocol " + describe(theirs) + (theirs.min == theirs.max ? " is" : " are") +
                " not supported (this node speaks " + describe(versions_) + ")");
    return;
  }
  if (!proof_matches(keys_, wire::proof_input(d.hi), d.hi.proof)) {
    refused(wire::refuse_code::authentication,
            "authentication failed: the hello was not made with this cluster's secret");
    return;
  }
  if (d.hi.name == rt_.node_name() && d.hi.creation != rt_.creation()) {
    refused(wire::refuse_code::name_in_use, "node name '" + d.hi.name +
                                                "' is already in use by a live member at " +
                                                advertised_ + " (the node asked)");
    return;
  }
  if (d.hi.name.empty() || d.hi.name == rt_.node_name()) {
    refused(wire::refuse_code::bad_name,
            "node name '" + d.hi.name + "' is empty or this node's own");
    return;
  }
  if (blocked(d.hi.name)) return;
  peer& p = peer_for(d.hi.name);
  const auto at = now();
  if (p.creation != 0 && p.creation != d.hi.creation) {
    const bool live = p.state == net_detail::link_state::up;
    const std::string holder = p.endpoint.empty() ? std::string("(hidden)") : p.endpoint;
    if (d.hi.creation < p.creation && live) {
      refused(wire::refuse_code::stale_incarnation,
              "node name '" + d.hi.name + "' is already in use by a live member at " + holder +
                  " (an incarnation newer than " + std::to_string(d.hi.creation) + ")");
      return;
    }
    // Another incarnation elsewhere while the one we know is alive: a second node started
    // with a name in use, not a restart (a restart at the same endpoint proves the old one
    // gone: it could bind the address). Refused until the failure detector says the holder
    // is down; a real restart elsewhere joins then (docs/PROTOCOL.md, "Incarnations").
    if (live && d.hi.endpoint != p.endpoint) {
      refused(wire::refuse_code::name_in_use,
              "node name '" + d.hi.name + "' is already in use by a live member at " + holder);
      return;
    }
    link_event(t, p, link_event::lost);  // it restarted: the old incarnation is gone
  } else if (stale_session(p, d.hi)) {
    detail::log().debug("ignored a hello of {}'s session {} (it is at session {})", p.name,
                        d.hi.session, p.its_session);
    return;  // its connection is gone: nobody would read a welcome
  } else if (p.state == net_detail::link_state::up && restarted_session(p, d.hi.session, at)) {
    // The peer declared us down (we were silent to it for its failure timeout, while we still
    // heard it) and starts over. What we sent it meanwhile is lost: we are down for each other
    // too, and both sides see nodedown and nodeup (the registry resynchronises on those).
    // It is alive (it says hello): the others are not told, as the sender did not tell them
    // either unless it found us silent.
    detail::log().debug("{} starts over (session {} after {}): it declared us down", p.name,
                        d.hi.session, p.its_session);
    p.it_started_over = true;
    link_event(t, p, link_event::lost, "noconnection", false);
    p.it_started_over = false;
  }
  // A new session (or a link that was not taking its frames): its frames count from here.
  if (d.hi.session != p.its_session || !net_detail::in_done(p.state)) p.frames_received = 0;
  if (d.hi.session != 0) {
    p.its_session = d.hi.session;
    p.its_session_creation = d.hi.creation;
  }
  if (!p.routing_id.empty() && p.routing_id != routing_id) inbound_.erase(p.routing_id);
  p.creation = d.hi.creation;
  const bool flipped = p.hidden != d.hi.hidden;
  if (flipped) {  // the counts of members kept by link_event follow
    if (net_detail::holds_messages(p.state)) joining_ += d.hi.hidden ? -1 : 1;
    if (p.state == net_detail::link_state::up && d.hi.hidden) ring_.erase(p.id);
    if (p.state == net_detail::link_state::up && !d.hi.hidden) ring_.insert(p.id);
    view_dirty_ = true;
  }
  p.hidden = d.hi.hidden;
  p.version = *agreed;
  p.traffic->hidden.store(p.hidden, std::memory_order_relaxed);
  // The address it advertises, unless we already reach it by another (on_welcome).
  if (!d.hi.hidden && (p.endpoint.empty() || !net_detail::out_done(p.state))) {
    p.endpoint = d.hi.endpoint;
  }
  if (flipped && p.state == net_detail::link_state::up) {  // its entry in the view too
    members_.up(t, p.id, node_info{p.name, p.endpoint, p.creation, p.hidden, 0}, p.up_since);
  }
  p.routing_id = routing_id;
  p.last_heard = at;
  inbound_[routing_id] = p.id;
  banned_.erase(routing_id);

  wire::welcome w;
  w.name = rt_.node_name();
  w.creation = rt_.creation();
  w.endpoint = advertised_;
  w.version = *agreed;
  if (*agreed >= 2) w.software = OTTER_VERSION;
  // The members, unless the hello says it knows of half as many as we are up with or more:
  // a joiner gets them all; between members, N nodes joining at once would otherwise send
  // N² lists of up to N members. News after this welcome follows once the link is up
  // (went_up), and gossip closes any other gap.
  p.told_at = at;
  if (!d.hi.known || *d.hi.known * 2 < ring_.size()) {
    w.members = member_list();
    p.members_told = w.members.size();
  } else {
    p.members_told = static_cast<std::size_t>(*d.hi.known);
  }
  msgpack::sbuffer buf;
  wire::encode_welcome(buf, w);
  (void)io_->reply(t, routing_id, std::string_view(buf.data(), buf.size()));
  // Full nodes connect back: the link is up once our hello is welcomed too.
  if (!p.hidden && !opts_.hidden && !p.endpoint.empty() && !net_detail::out_done(p.state)) {
    connection& c = connect_to(t, p.endpoint, p.id);
    if (at - c.last_hello > 50ms) send_hello(t, c);
  }
  link_event(t, p, link_event::hello_accepted);
}

void transport::on_welcome(const io_token& t, wire::decoded& d, connection& via) {
  via.handshake_failures = 0;
  if (d.wel.version < versions_.min || d.wel.version > versions_.max || d.wel.name.empty() ||
      d.wel.name == rt_.node_name()) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    detail::log().error(
        "{} answered with an unusable welcome (protocol version {}, this node speaks {}; name "
        "'{}')",
        via.endpoint, d.wel.version, wire::to_string(versions_), d.wel.name);
    return;
  }
  peer& p = peer_for(d.wel.name);
  if (blocked(p.name)) return;
  if (p.creation != 0 && p.creation != d.wel.creation) {
    link_event(t, p, link_event::lost);  // it restarted: the old incarnation is gone
  }
  p.creation = d.wel.creation;
  p.version = d.wel.version;
  p.software = d.wel.software;
  p.endpoint = d.wel.endpoint.empty() ? via.endpoint : d.wel.endpoint;
  via.peer_id = p.id;
  p.last_heard = now();
  // The seed may be known by another address than the one it advertises: reach it by both.
  if (p.endpoint != via.endpoint && connections_.count(p.endpoint) == 0) p.endpoint = via.endpoint;
  if (!opts_.hidden) learn_members(t, d.wel.members);
  seed_answered(via.endpoint, seed_answer::welcomed, {});
  link_event(t, p, link_event::welcomed);
}

void transport::on_refuse(const io_token& t, const wire::decoded& d, const std::string& address,
                          connection* via) {
  rejected_.fetch_add(1, std::memory_order_relaxed);
  // stale_incarnation is a name in use too (the holder's creation is higher: another host's
  // clock ahead of ours); both are asked again, as the holder may be dead and not yet known so.
  const bool in_use = d.refuse == wire::refuse_code::name_in_use ||
                      d.refuse == wire::refuse_code::stale_incarnation;
  const seed_answer answer = d.refuse == wire::refuse_code::authentication
                                 ? seed_answer::wrong_secret
                             : in_use ? seed_answer::name_in_use
                                      : seed_answer::refused;
  // A seed that says the same again (name_in_use is asked again each heartbeat) is logged once.
  const bool news = via == nullptr || d.refuse == wire::refuse_code::handshake_required ||
                    seed_answered(via->endpoint, answer, d.refuse_reason);
  if (news) {
    // A hidden node is a tool, which reports its seed's refusal itself (node::seeds()).
    detail::log().log(opts_.hidden ? spdlog::level::info : spdlog::level::err,
                      "{} refused us ({}): {}", address, wire::to_string(d.refuse),
                      d.refuse_reason);
  }
  if (via == nullptr) return;
  if (in_use) {
    // Our predecessor (killed, restarted at another address) is still up for that node until
    // its failure detector notices: ask again each heartbeat, to join as soon as it does.
    via->refused_until = now() + opts_.heartbeat_interval;
  } else if (d.refuse == wire::refuse_code::handshake_required) {
    // It does not know us (it restarted, or declared us down): we are down for each other;
    // shake hands again at the next tick.
    if (peer* p = via->peer_id != 0 ? find_peer(via->peer_id) : nullptr) {
      detail::log().debug("{} does not know us (handshake_required)", p->name);
      link_event(t, *p, link_event::lost, "noconnection", false);  // alive: it answered
    }
    via->last_hello = {};
  } else {
    via->refused_until = now() + 5s;
  }
}

void transport::on_handshake_failed(const io_token&, net_detail::conn_id c,
                                    const std::string& why) {
  connection* via = connection_by_id(c);
  if (via == nullptr) return;
  rejected_.fetch_add(1, std::memory_order_relaxed);
  // An error from the second failure in a row: a single one is also what a connection cut
  // during its handshake looks like (seen while 100 nodes form a cluster on one machine).
  const bool repeated = ++via->handshake_failures >= 2;
  if (seed_answered(via->endpoint, seed_answer::wrong_secret, why)) {
    detail::log().log(opts_.hidden ? spdlog::level::info
                      : repeated   ? spdlog::level::err
                                   : spdlog::level::debug,
                      "{} refused our connection: {}", via->endpoint, why);
  }
}

bool transport::seed_answered(const std::string& endpoint, seed_answer a,
                              const std::string& reason) {
  std::lock_guard<std::mutex> l(seeds_mutex_);
  for (auto& s : seeds_) {
    if (s.endpoint != endpoint) continue;
    const bool again = s.answer == a && s.reason == reason;
    if (s.answer != a) {
      s.since = now();
      s.times = 0;
    }
    ++s.times;
    s.answer = a;
    s.reason = reason;
    return !again;
  }
  return true;  // not a seed: always news
}

std::vector<seed_status> transport::seeds() const {
  std::lock_guard<std::mutex> l(seeds_mutex_);
  return seeds_;
}

}  // namespace otter
