#include "wire.hpp"

#include <algorithm>
#include <array>
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

// ---- decoding ----

struct bad_input {
  std::string what;
};

const msgpack::object& field(const msgpack::object& arr, std::size_t i, const char* name) {
  if (arr.via.array.size <= i) throw bad_input{std::string("missing field '") + name + "'"};
  return arr.via.array.ptr[i];
}

std::uint64_t as_uint(const msgpack::object& o, const char* name) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) {
    throw bad_input{std::string("field '") + name + "' is not an unsigned integer"};
  }
  return o.via.u64;
}

std::uint32_t as_u32(const msgpack::object& o, const char* name) {
  const std::uint64_t v = as_uint(o, name);
  if (v > 0xffffffffu) throw bad_input{std::string("field '") + name + "' exceeds 32 bits"};
  return static_cast<std::uint32_t>(v);
}

std::string as_str(const msgpack::object& o, const char* name, bool allow_bin = false) {
  if (o.type == msgpack::type::STR) return std::string(o.via.str.ptr, o.via.str.size);
  if (allow_bin && o.type == msgpack::type::BIN) return std::string(o.via.bin.ptr, o.via.bin.size);
  throw bad_input{std::string("field '") + name + "' is not a string"};
}

pid as_pid(const msgpack::object& o, const char* name) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 3) {
    throw bad_input{std::string("field '") + name + "' is not a pid [node, id, creation]"};
  }
  pid p;
  p.node = as_uint(o.via.array.ptr[0], "pid.node");
  p.id = as_uint(o.via.array.ptr[1], "pid.id");
  p.creation = as_u32(o.via.array.ptr[2], "pid.creation");
  return p;
}

std::vector<member> as_members(const msgpack::object& o) {
  if (o.type != msgpack::type::ARRAY) throw bad_input{"field 'members' is not an array"};
  std::vector<member> out;
  for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
    const auto& m = o.via.array.ptr[i];
    if (m.type != msgpack::type::ARRAY || m.via.array.size != 3) {
      throw bad_input{"a member is not [name, endpoint, creation]"};
    }
    member mem;
    mem.name = as_str(m.via.array.ptr[0], "member.name");
    mem.endpoint = as_str(m.via.array.ptr[1], "member.endpoint");
    mem.creation = as_u32(m.via.array.ptr[2], "member.creation");
    out.push_back(std::move(mem));
  }
  return out;
}

decoded decode_one(const msgpack::object& arr, const std::shared_ptr<msgpack::zone>& zone) {
  if (arr.type != msgpack::type::ARRAY || arr.via.array.size == 0) {
    throw bad_input{"an envelope is not a non-empty array"};
  }
  decoded d;
  const std::uint64_t raw_kind = as_uint(arr.via.array.ptr[0], "kind");
  if (raw_kind > 255 || to_string(static_cast<kind>(raw_kind)) == "unknown") {
    throw bad_input{"unknown envelope kind " + std::to_string(raw_kind)};
  }
  d.k = static_cast<kind>(raw_kind);
  switch (d.k) {
    case kind::hello: {
      if (arr.via.array.size != 7) throw bad_input{"hello must have 7 fields"};
      const std::uint64_t v = as_uint(field(arr, 1, "version"), "version");
      d.hi.version = v > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(v);
      d.hi.name = as_str(field(arr, 2, "name"), "name");
      d.hi.creation = as_u32(field(arr, 3, "creation"), "creation");
      const auto& h = field(arr, 4, "hidden");
      if (h.type != msgpack::type::BOOLEAN) throw bad_input{"field 'hidden' is not a boolean"};
      d.hi.hidden = h.via.boolean;
      d.hi.endpoint = as_str(field(arr, 5, "endpoint"), "endpoint");
      d.hi.proof = as_str(field(arr, 6, "proof"), "proof", true);
      return d;
    }
    case kind::welcome: {
      if (arr.via.array.size != 6) throw bad_input{"welcome must have 6 fields"};
      const std::uint64_t v = as_uint(field(arr, 1, "version"), "version");
      d.wel.version = v > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(v);
      d.wel.name = as_str(field(arr, 2, "name"), "name");
      d.wel.creation = as_u32(field(arr, 3, "creation"), "creation");
      d.wel.endpoint = as_str(field(arr, 4, "endpoint"), "endpoint");
      d.wel.members = as_members(field(arr, 5, "members"));
      return d;
    }
    case kind::refuse:
      if (arr.via.array.size != 2) throw bad_input{"refuse must have 2 fields"};
      d.refuse_reason = as_str(field(arr, 1, "reason"), "reason");
      return d;
    case kind::heartbeat:
    case kind::bye:
      if (arr.via.array.size != 1) throw bad_input{std::string(to_string(d.k)) + " has fields"};
      return d;
    case kind::members:
      if (arr.via.array.size != 2) throw bad_input{"members must have 2 fields"};
      d.members = as_members(field(arr, 1, "members"));
      return d;
    default: break;
  }
  // Process envelope: [kind, to, from, ref, tag, body]
  if (arr.via.array.size != 6) {
    throw bad_input{std::string(to_string(d.k)) +
                    " must have 6 fields [kind, to, from, ref, tag, body]"};
  }
  const auto& to = arr.via.array.ptr[1];
  if (to.type == msgpack::type::STR) {
    d.to_name = as_str(to, "to");
    if (d.to_name.empty()) throw bad_input{"field 'to' is an empty name"};
  } else {
    d.to = as_pid(to, "to");
  }
  const pid from = as_pid(arr.via.array.ptr[2], "from");
  const std::uint64_t ref = as_uint(arr.via.array.ptr[3], "ref");
  std::string tag = as_str(arr.via.array.ptr[4], "tag");
  const msgpack::object& body = arr.via.array.ptr[5];

  auto with_reason = [&](sig s) {
    return std::make_unique<detail::reason_envelope>(s, exit_reason(std::move(tag)));
  };
  switch (d.k) {
    case kind::send:
    case kind::cast:
    case kind::call:
    case kind::reply: {
      const sig s = d.k == kind::send   ? sig::info
                    : d.k == kind::cast ? sig::cast
                    : d.k == kind::call ? sig::call
                                        : sig::reply;
      d.env = std::make_unique<detail::remote_envelope>(s, std::move(tag), body, zone);
      break;
    }
    case kind::reply_error: {
      if (body.type != msgpack::type::ARRAY || body.via.array.size != 2) {
        throw bad_input{"reply_error body is not [message, reason]"};
      }
      error err(errc_from_string(tag), as_str(body.via.array.ptr[0], "message"),
                exit_reason(as_str(body.via.array.ptr[1], "reason")));
      d.env = std::make_unique<detail::error_envelope>(std::move(err));
      break;
    }
    case kind::link: d.env = std::make_unique<envelope>(sig::link); break;
    case kind::unlink: d.env = std::make_unique<envelope>(sig::unlink); break;
    case kind::monitor: d.env = std::make_unique<envelope>(sig::monitor); break;
    case kind::demonitor: d.env = std::make_unique<envelope>(sig::demonitor); break;
    case kind::link_exit: d.env = with_reason(sig::link_exit); break;
    case kind::exit: d.env = with_reason(sig::exit); break;
    case kind::down: d.env = with_reason(sig::down); break;
    case kind::stop: d.env = with_reason(sig::stop_request); break;
    default: throw bad_input{"unexpected kind"};
  }
  d.env->from = from;
  d.env->ref = ref;
  return d;
}

}  // namespace

void encode_hello(msgpack::sbuffer& out, const hello& h) {
  packer pk(out);
  pk.pack_array(7);
  pk.pack(static_cast<int>(kind::hello));
  pk.pack(h.version);
  pk.pack(h.name);
  pk.pack(h.creation);
  pk.pack(h.hidden);
  pk.pack(h.endpoint);
  pk.pack_bin(static_cast<std::uint32_t>(h.proof.size()));
  pk.pack_bin_body(h.proof.data(), static_cast<std::uint32_t>(h.proof.size()));
}

void encode_welcome(msgpack::sbuffer& out, const welcome& w) {
  packer pk(out);
  pk.pack_array(6);
  pk.pack(static_cast<int>(kind::welcome));
  pk.pack(w.version);
  pk.pack(w.name);
  pk.pack(w.creation);
  pk.pack(w.endpoint);
  pk.pack(w.members);
}

void encode_refuse(msgpack::sbuffer& out, std::string_view reason) {
  packer pk(out);
  pk.pack_array(2);
  pk.pack(static_cast<int>(kind::refuse));
  pk.pack(reason);
}

void encode_heartbeat(msgpack::sbuffer& out) {
  packer pk(out);
  pk.pack_array(1);
  pk.pack(static_cast<int>(kind::heartbeat));
}

void encode_members(msgpack::sbuffer& out, const std::vector<member>& members) {
  packer pk(out);
  pk.pack_array(2);
  pk.pack(static_cast<int>(kind::members));
  pk.pack(members);
}

void encode_bye(msgpack::sbuffer& out) {
  packer pk(out);
  pk.pack_array(1);
  pk.pack(static_cast<int>(kind::bye));
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

result<std::size_t> for_each_envelope(const char* data, std::size_t size, const limits& lim,
                                      const std::function<void(decoded&)>& fn) {
  if (size > lim.max_frame_bytes) {
    return error{errc::badarg, "frame of " + std::to_string(size) + " bytes exceeds the limit of " +
                                   std::to_string(lim.max_frame_bytes)};
  }
  if (size == 0) return error{errc::badarg, "empty frame"};
  const msgpack::unpack_limit ul(lim.max_elements, lim.max_elements, lim.max_frame_bytes,
                                 lim.max_frame_bytes, lim.max_frame_bytes, lim.max_depth);
  std::size_t offset = 0, count = 0;
  // One zone for the frame: message bodies point into it, and it lives as long as the last of
  // them (the default chunk is 8 KiB; a frame holds up to batch_bytes of envelopes).
  auto zone = std::make_shared<msgpack::zone>(std::min<std::size_t>(size * 2 + 256, 1 << 20));
  while (offset < size) {
    const std::size_t at = offset;
    decoded d;
    try {
      msgpack::object obj = msgpack::unpack(*zone, data, size, offset, nullptr, nullptr, ul);
      d = decode_one(obj, zone);
    } catch (const bad_input& b) {
      return error{errc::badarg,
                   "malformed envelope at byte " + std::to_string(at) + ": " + b.what};
    } catch (const msgpack::insufficient_bytes&) {
      return error{errc::badarg, "truncated envelope at byte " + std::to_string(at)};
    } catch (const std::exception& e) {
      return error{errc::badarg,
                   "undecodable msgpack at byte " + std::to_string(at) + ": " + e.what()};
    }
    fn(d);
    ++count;
  }
  return count;
}

result<std::vector<decoded>> decode_frame(const char* data, std::size_t size, const limits& lim) {
  std::vector<decoded> out;
  auto r = for_each_envelope(data, size, lim, [&](decoded& d) { out.push_back(std::move(d)); });
  if (!r) return r.err();
  return out;
}

}  // namespace otter::wire
