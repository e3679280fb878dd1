// Decoding of frames (wire.hpp): untrusted input, every field checked.
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "wire.hpp"

namespace otter::wire {

using detail::envelope;
using detail::sig;

namespace {

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
    if (m.type != msgpack::type::ARRAY || m.via.array.size < 3) {
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

std::vector<departed> as_departed(const msgpack::object& o) {
  if (o.type != msgpack::type::ARRAY) throw bad_input{"field 'gone' is not an array"};
  std::vector<departed> out;
  for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
    const auto& m = o.via.array.ptr[i];
    if (m.type != msgpack::type::ARRAY || m.via.array.size < 3) {
      throw bad_input{"a departed member is not [name, creation, reason]"};
    }
    departed d;
    d.name = as_str(m.via.array.ptr[0], "departed.name");
    d.creation = as_u32(m.via.array.ptr[1], "departed.creation");
    d.reason = as_str(m.via.array.ptr[2], "departed.reason");
    out.push_back(std::move(d));
  }
  return out;
}

// Fills `d`: freshly made, or reset by for_each_envelope after a process envelope (which sets
// only k, to or to_name, and env).
void decode_one(const msgpack::object& arr, const std::shared_ptr<msgpack::zone>& zone,
                decoded& d) {
  if (arr.type != msgpack::type::ARRAY || arr.via.array.size == 0) {
    throw bad_input{"an envelope is not a non-empty array"};
  }
  const std::uint64_t raw_kind = as_uint(arr.via.array.ptr[0], "kind");
  if (raw_kind > 255 || to_string(static_cast<kind>(raw_kind)) == "unknown") {
    throw bad_input{"unknown envelope kind " + std::to_string(raw_kind)};
  }
  d.k = static_cast<kind>(raw_kind);
  switch (d.k) {
    case kind::hello: {
      if (arr.via.array.size < 7) throw bad_input{"hello must have 7 fields"};
      const std::uint64_t v = as_uint(field(arr, 1, "version"), "version");
      d.hi.version = v > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(v);
      d.hi.name = as_str(field(arr, 2, "name"), "name");
      d.hi.creation = as_u32(field(arr, 3, "creation"), "creation");
      const auto& h = field(arr, 4, "hidden");
      if (h.type != msgpack::type::BOOLEAN) throw bad_input{"field 'hidden' is not a boolean"};
      d.hi.hidden = h.via.boolean;
      d.hi.endpoint = as_str(field(arr, 5, "endpoint"), "endpoint");
      d.hi.proof = as_str(field(arr, 6, "proof"), "proof", true);
      if (arr.via.array.size >= 8) d.hi.session = as_uint(field(arr, 7, "session"), "session");
      if (arr.via.array.size >= 9) d.hi.known = as_uint(field(arr, 8, "known"), "known");
      if (arr.via.array.size >= 10) {
        d.hi.max_version = as_u32(field(arr, 9, "max_version"), "max_version");
      }
      return;
    }
    case kind::welcome: {
      if (arr.via.array.size < 6) throw bad_input{"welcome must have 6 fields"};
      const std::uint64_t v = as_uint(field(arr, 1, "version"), "version");
      d.wel.version = v > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(v);
      d.wel.name = as_str(field(arr, 2, "name"), "name");
      d.wel.creation = as_u32(field(arr, 3, "creation"), "creation");
      d.wel.endpoint = as_str(field(arr, 4, "endpoint"), "endpoint");
      d.wel.members = as_members(field(arr, 5, "members"));
      if (arr.via.array.size >= 7) d.wel.software = as_str(field(arr, 6, "software"), "software");
      return;
    }
    case kind::refuse: {
      d.refuse_reason = as_str(field(arr, 1, "reason"), "reason");
      if (arr.via.array.size > 2) {  // the code came in a later revision: optional
        const std::uint64_t c = as_uint(arr.via.array.ptr[2], "code");
        d.refuse = c <= static_cast<std::uint64_t>(refuse_code::name_in_use)
                       ? static_cast<refuse_code>(c)
                       : refuse_code::unspecified;
      }
      return;
    }
    case kind::heartbeat: {  // [4], [4, flags] or [4, flags, sent, received]
      // Fields of another type (a later revision's) read as absent.
      const auto n = arr.via.array.size;
      const auto* f = arr.via.array.ptr;
      const auto is_uint = [&](std::size_t i) {
        return n > i && f[i].type == msgpack::type::POSITIVE_INTEGER;
      };
      d.beat = is_uint(1) ? static_cast<unsigned>(f[1].via.u64 & 3u) : beat_watching;
      d.has_counts = is_uint(1) && is_uint(2) && is_uint(3);
      if (d.has_counts) d.counts = {f[2].via.u64, f[3].via.u64};
      return;
    }
    case kind::bye: return;
    case kind::members:  // [5, members] or [5, members, partial]
      d.members = as_members(field(arr, 1, "members"));
      // Not a bool (a later revision's field): a whole list.
      d.members_partial = arr.via.array.size > 2 &&
                          arr.via.array.ptr[2].type == msgpack::type::BOOLEAN &&
                          arr.via.array.ptr[2].via.boolean;
      return;
    case kind::gone: d.gone = as_departed(field(arr, 1, "gone")); return;
    default: break;
  }
  // Process envelope: [kind, to, from, ref, tag, body]
  if (arr.via.array.size < 6) {
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
  const msgpack::object& tag_object = arr.via.array.ptr[4];
  if (tag_object.type != msgpack::type::STR) throw bad_input{"field 'tag' is not a string"};
  // In the frame's bytes, which `zone` holds (for_each_envelope).
  const std::string_view tag(tag_object.via.str.ptr, tag_object.via.str.size);
  const msgpack::object& body = arr.via.array.ptr[5];

  auto with_reason = [&](sig s) {
    return std::make_unique<detail::reason_envelope>(s, exit_reason(std::string(tag)));
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
      d.env = std::make_unique<detail::remote_envelope>(s, detail::remote_envelope::name_in_zone{},
                                                        tag, body, zone);
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
}

}  // namespace

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
  // them. The frame is copied into it once and every string and binary refers to that copy (a
  // copy per string otherwise); the rest is the decoded objects (24 bytes each: several times
  // the bytes they came from; the zone adds chunks as it needs them).
  std::shared_ptr<msgpack::zone> zone;
  char* bytes = nullptr;
  try {
    zone = std::make_shared<msgpack::zone>(std::min<std::size_t>(size * 3 + 256, 1 << 20));
    bytes = static_cast<char*>(zone->allocate_no_align(size));
  } catch (const std::bad_alloc&) {
    return error{errc::badarg, "frame of " + std::to_string(size) + " bytes: out of memory"};
  }
  std::memcpy(bytes, data, size);
  // One parser and one object builder for the frame: msgpack::unpack() makes both for every
  // call (two vectors of 32 each, allocated and freed per envelope).
  using builder = msgpack::v2::detail::create_object_visitor;
  builder objects([](msgpack::type::object_type, std::size_t, void*) { return true; }, nullptr, ul);
  objects.set_zone(*zone);
  msgpack::detail::parse_helper<builder> parser(objects);
  decoded d;  // made once: it holds a dozen strings and vectors, mostly for handshakes
  while (offset < size) {
    const std::size_t at = offset;
    try {
      parser.init();
      // Errors and limits throw from the builder; only a truncated envelope returns.
      if (parser.execute(bytes, size, offset) != msgpack::PARSE_SUCCESS) {
        throw msgpack::insufficient_bytes("insufficient bytes");
      }
      decode_one(objects.data(), zone, d);
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
    if (!is_process_kind(d.k)) {
      d = decoded{};  // a control envelope may have set any field
    } else {
      d.to = pid{};
      d.to_name.clear();
      d.env.reset();
    }
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
