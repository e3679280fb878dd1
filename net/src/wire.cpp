#include "wire.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <utility>

namespace otter::wire {

using detail::envelope;
using detail::sig;

std::string_view to_string(kind k) noexcept {
  switch (k) {
    case kind::hello: return "hello";
    case kind::welcome: return "welcome";
    case kind::refuse: return "refuse";
    case kind::heartbeat: return "heartbeat";
    case kind::members: return "members";
    case kind::bye: return "bye";
    case kind::gone: return "gone";
    case kind::send: return "send";
    case kind::cast: return "cast";
    case kind::call: return "call";
    case kind::reply: return "reply";
    case kind::reply_error: return "reply_error";
    case kind::link: return "link";
    case kind::unlink: return "unlink";
    case kind::link_exit: return "link_exit";
    case kind::exit: return "exit";
    case kind::monitor: return "monitor";
    case kind::demonitor: return "demonitor";
    case kind::down: return "down";
    case kind::stop: return "stop";
  }
  return "unknown";
}

std::string_view to_string(refuse_code c) noexcept {
  switch (c) {
    case refuse_code::unspecified: return "unspecified";
    case refuse_code::version: return "version";
    case refuse_code::authentication: return "authentication";
    case refuse_code::bad_name: return "bad_name";
    case refuse_code::stale_incarnation: return "stale_incarnation";
    case refuse_code::handshake_required: return "handshake_required";
    case refuse_code::name_in_use: return "name_in_use";
  }
  return "unknown";
}

bool is_process_kind(kind k) noexcept {
  return static_cast<int>(k) >= static_cast<int>(kind::send) &&
         static_cast<int>(k) <= static_cast<int>(kind::stop);
}

errc errc_from_string(std::string_view s) noexcept {
  for (int c = static_cast<int>(errc::timeout); c <= static_cast<int>(errc_last); ++c) {
    if (to_string(static_cast<errc>(c)) == s) return static_cast<errc>(c);
  }
  return errc::badarg;
}

namespace {

using packer = msgpack::packer<msgpack::sbuffer>;

kind kind_of(sig s) {
  switch (s) {
    case sig::info: return kind::send;
    case sig::cast: return kind::cast;
    case sig::call: return kind::call;
    case sig::reply: return kind::reply;
    case sig::reply_error: return kind::reply_error;
    case sig::link: return kind::link;
    case sig::unlink: return kind::unlink;
    case sig::link_exit: return kind::link_exit;
    case sig::exit: return kind::exit;
    case sig::monitor: return kind::monitor;
    case sig::demonitor: return kind::demonitor;
    case sig::down: return kind::down;
    case sig::stop_request: return kind::stop;
    case sig::call_timeout: break;
  }
  return kind{};
}

void pack_pid(packer& pk, const pid& p) {
  pk.pack_array(3);
  pk.pack(p.node);
  pk.pack(p.id);
  pk.pack(p.creation);
}

template <class To>
bool encode_process(msgpack::sbuffer& out, const To& to, const envelope& e) {
  const kind k = kind_of(e.kind);
  if (k == kind{}) return false;
  packer pk(out);
  pk.pack_array(6);
  pk.pack(static_cast<int>(k));
  if constexpr (std::is_same_v<To, pid>) {
    pack_pid(pk, to);
  } else {
    pk.pack(to);
  }
  pack_pid(pk, e.from);
  pk.pack(e.ref);
  switch (e.kind) {
    case sig::info:
    case sig::cast:
    case sig::call:
    case sig::reply:
      pk.pack(e.type_name());
      e.pack_payload(out);
      break;
    case sig::reply_error: {
      const auto& err = static_cast<const detail::error_envelope&>(e).err;
      pk.pack(to_string(err.code));
      pk.pack_array(2);
      pk.pack(err.message);
      pk.pack(err.reason.str());
      break;
    }
    case sig::link_exit:
    case sig::exit:
    case sig::down:
    case sig::stop_request:
      pk.pack(static_cast<const detail::reason_envelope&>(e).reason.str());
      pk.pack_nil();
      break;
    default:
      pk.pack(std::string_view());
      pk.pack_nil();
      break;
  }
  return true;
}

}  // namespace

void encode_hello(msgpack::sbuffer& out, const hello& h) {
  packer pk(out);
  pk.pack_array(h.max_version ? 10 : h.known ? 9 : 8);
  pk.pack(static_cast<int>(kind::hello));
  pk.pack(h.version);
  pk.pack(h.name);
  pk.pack(h.creation);
  pk.pack(h.hidden);
  pk.pack(h.endpoint);
  pk.pack_bin(static_cast<std::uint32_t>(h.proof.size()));
  pk.pack_bin_body(h.proof.data(), static_cast<std::uint32_t>(h.proof.size()));
  pk.pack(h.session);
  if (h.known || h.max_version) pk.pack(h.known.value_or(0));
  if (h.max_version) pk.pack(*h.max_version);
}

void encode_welcome(msgpack::sbuffer& out, const welcome& w) {
  packer pk(out);
  pk.pack_array(w.software.empty() ? 6 : 7);
  pk.pack(static_cast<int>(kind::welcome));
  pk.pack(w.version);
  pk.pack(w.name);
  pk.pack(w.creation);
  pk.pack(w.endpoint);
  pk.pack(w.members);
  if (!w.software.empty()) pk.pack(w.software);
}

namespace {
std::uint32_t version_from_env(const char* name, std::uint32_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const unsigned long n = std::strtoul(v, &end, 10);
  if (*end != '\0' || n < oldest_protocol_version || n > protocol_version) return fallback;
  return static_cast<std::uint32_t>(n);
}
}  // namespace

version_range spoken_versions() {
  version_range r;
  r.min = version_from_env("OTTER_PROTOCOL_MIN", oldest_protocol_version);
  r.max = version_from_env("OTTER_PROTOCOL_MAX", protocol_version);
  if (r.max < r.min) r = version_range{};
  return r;
}

std::optional<std::uint32_t> agreed_version(version_range ours, version_range theirs) noexcept {
  const std::uint32_t lo = std::max(ours.min, theirs.min), hi = std::min(ours.max, theirs.max);
  if (lo > hi) return std::nullopt;
  return hi;
}

std::string to_string(version_range r) {
  if (r.min == r.max) return std::to_string(r.min);
  return std::to_string(r.min) + ".." + std::to_string(r.max);
}

void encode_refuse(msgpack::sbuffer& out, refuse_code code, std::string_view reason) {
  packer pk(out);
  pk.pack_array(3);
  pk.pack(static_cast<int>(kind::refuse));
  pk.pack(reason);
  pk.pack(static_cast<int>(code));
}

void encode_heartbeat(msgpack::sbuffer& out, unsigned flags, const beat_counts* counts) {
  packer pk(out);
  pk.pack_array(counts != nullptr ? 4 : flags == beat_watching ? 1 : 2);
  pk.pack(static_cast<int>(kind::heartbeat));
  if (counts != nullptr || flags != beat_watching) pk.pack(flags);
  if (counts != nullptr) {
    pk.pack(counts->sent);
    pk.pack(counts->received);
  }
}

void encode_members(msgpack::sbuffer& out, const std::vector<member>& members, bool partial) {
  packer pk(out);
  pk.pack_array(partial ? 3 : 2);
  pk.pack(static_cast<int>(kind::members));
  pk.pack(members);
  if (partial) pk.pack(true);
}

void encode_bye(msgpack::sbuffer& out) {
  packer pk(out);
  pk.pack_array(1);
  pk.pack(static_cast<int>(kind::bye));
}

void encode_gone(msgpack::sbuffer& out, const std::vector<departed>& gone) {
  packer pk(out);
  pk.pack_array(2);
  pk.pack(static_cast<int>(kind::gone));
  pk.pack(gone);
}

bool encode_envelope(msgpack::sbuffer& out, const pid& to, const envelope& e) {
  return encode_process(out, to, e);
}

bool encode_envelope(msgpack::sbuffer& out, std::string_view to_name, const envelope& e) {
  return encode_process(out, to_name, e);
}

std::string proof_input(const hello& h) {
  msgpack::sbuffer buf;
  packer pk(buf);
  pk.pack_array(5);
  pk.pack(h.version);
  pk.pack(h.name);
  pk.pack(h.creation);
  pk.pack(h.hidden);
  pk.pack(h.endpoint);
  return std::string(buf.data(), buf.size());
}

}  // namespace otter::wire
