// Internal: the wire codec, how envelopes are framed between nodes (docs/PROTOCOL.md is the
// reference).
//
// A ZeroMQ message carries one frame holding one or more msgpack arrays back to back, each an
// envelope. Control envelopes (hello, welcome, ...) set up and keep a connection; process
// envelopes carry messages and signals as [kind, to, from, ref, tag, body].
//
// Decoding never trusts its input: every field is type-checked, sizes and nesting are bounded,
// and anything malformed yields an error value naming what was wrong, never a crash. Fields
// after the ones a kind defines are ignored (a later version may add trailing fields).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>
#include <otter/detail/envelope.hpp>
#include <otter/error.hpp>
#include <otter/pid.hpp>

namespace otter::wire {

// The protocol versions this code speaks (docs/PROTOCOL.md, "Versions"): two nodes use the
// highest version both speak. Version 2 adds the welcome's `software`.
inline constexpr std::uint32_t oldest_protocol_version = 1;
inline constexpr std::uint32_t protocol_version = 2;  // the newest

// A node's range of versions (OTTER_PROTOCOL_MIN/MAX narrow it, for tests of mixed clusters).
struct version_range {
  std::uint32_t min = oldest_protocol_version, max = protocol_version;
};
// The range this node speaks: the whole of the above unless the environment narrows it.
version_range spoken_versions();
// The version two ranges agree on (the highest both speak), or nothing.
std::optional<std::uint32_t> agreed_version(version_range ours, version_range theirs) noexcept;
// "1..2", or "1" for a range of one.
std::string to_string(version_range r);

enum class kind : std::uint8_t {
  hello = 1,
  welcome = 2,
  refuse = 3,
  heartbeat = 4,
  members = 5,
  bye = 6,
  gone = 7,
  send = 10,
  cast = 11,
  call = 12,
  reply = 13,
  reply_error = 14,
  link = 15,
  unlink = 16,
  link_exit = 17,
  exit = 18,
  monitor = 19,
  demonitor = 20,
  down = 21,
  stop = 22,
};

std::string_view to_string(kind k) noexcept;
bool is_process_kind(kind k) noexcept;

// Why a node refused a hello (or a frame), on the wire as a number.
enum class refuse_code : std::uint8_t {
  unspecified = 0,         // a peer that sent no code
  version = 1,             // a protocol version this node does not speak
  authentication = 2,      // the hello's proof was not made with this cluster's secret
  bad_name = 3,            // empty, or this node's own name
  stale_incarnation = 4,   // a newer incarnation of that node is connected
  handshake_required = 5,  // traffic on a connection that has not said hello (or no longer
                           // may: the node restarted, or declared the sender down)
  name_in_use = 6,         // a live member holds that name (another incarnation, elsewhere)
};
std::string_view to_string(refuse_code c) noexcept;

// A member another member declared down, and why.
struct departed {
  std::string name;
  std::uint32_t creation = 0;
  std::string reason;
  MSGPACK_DEFINE(name, creation, reason);
};

struct member {
  std::string name;
  std::string endpoint;
  std::uint32_t creation = 0;
  MSGPACK_DEFINE(name, endpoint, creation);
};

struct hello {
  std::uint32_t version = oldest_protocol_version;  // the lowest version the sender speaks
  std::string name;
  std::uint32_t creation = 0;
  bool hidden = false;
  std::string endpoint;  // where this node listens ("" for hidden nodes)
  std::string proof;     // keyed hash of the above with the cluster secret (binary)
  // The sender's handshake session with the receiver: the same in every retry, higher when
  // the sender starts its link over (0: not sent, an older or simpler client).
  std::uint64_t session = 0;
  // How many members the sender knows of (up, or shaking hands): a welcome need not list the
  // members to a node that knows as many as the welcomer has (none: not sent; list them).
  std::optional<std::uint64_t> known;
  // The highest version the sender speaks (none: `version` only). Sent after `known` (a 0 there
  // when the sender has none to give: it means "list them", as no `known` does).
  std::optional<std::uint32_t> max_version;
};

struct welcome {
  std::uint32_t version = oldest_protocol_version;  // the version agreed on
  std::string name;
  std::uint32_t creation = 0;
  std::string endpoint;
  std::vector<member> members;  // the visible members the sender knows, itself excluded
  std::string software;         // version 2: the sender's otter release ("" in version 1)
};

// One decoded envelope of a frame.
// Frame counts of a link's session: frames the sender sent the receiver before this heartbeat,
// and frames it received from the receiver.
struct beat_counts {
  std::uint64_t sent = 0, received = 0;
};

struct decoded {
  kind k{};
  // control
  hello hi;
  welcome wel;
  std::string refuse_reason;
  refuse_code refuse = refuse_code::unspecified;
  std::vector<member> members;
  bool members_partial = false;  // a `members` of some of the sender's members only
  std::vector<departed> gone;
  unsigned beat = 0;  // heartbeat flags
  bool has_counts = false;
  beat_counts counts;  // when has_counts
  // process traffic: `to` is a Pid, or a registered name when to_name is set
  pid to;
  std::string to_name;
  detail::envelope_ptr env;
};

// Limits a decoder enforces on untrusted input.
struct limits {
  std::size_t max_frame_bytes = std::size_t{64} << 20;  // 64 MiB, as ZMQ_MAXMSGSIZE
  std::size_t max_depth = 64;
  std::size_t max_elements = std::size_t{1} << 20;  // per array or map
};

// Appends a control envelope.
void encode_hello(msgpack::sbuffer& out, const hello& h);
void encode_welcome(msgpack::sbuffer& out, const welcome& w);
void encode_refuse(msgpack::sbuffer& out, refuse_code code, std::string_view reason);
// Heartbeat flags (docs/PROTOCOL.md): the sender checks the receiver's silence (keep beating
// it), and/or asks for a heartbeat back at once (a probe). `[4]` alone means beat_watching.
inline constexpr unsigned beat_watching = 1, beat_probe = 2;
void encode_heartbeat(msgpack::sbuffer& out, unsigned flags = beat_watching,
                      const beat_counts* counts = nullptr);
// `partial`: the list is some of the sender's members (news), not all of them: the receiver
// does not answer it with the members it lacks.
void encode_members(msgpack::sbuffer& out, const std::vector<member>& members,
                    bool partial = false);
void encode_bye(msgpack::sbuffer& out);
void encode_gone(msgpack::sbuffer& out, const std::vector<departed>& gone);
// Appends a process envelope for `e`, addressed to `to`. False for envelopes that never cross
// nodes (a caller's own call timeout).
bool encode_envelope(msgpack::sbuffer& out, const pid& to, const detail::envelope& e);
// The same, addressed to a name the receiving node resolves (tools and foreign clients).
bool encode_envelope(msgpack::sbuffer& out, std::string_view to_name, const detail::envelope& e);

// The bytes a hello's proof covers (see PROTOCOL.md).
std::string proof_input(const hello& h);

// Calls `fn` for each envelope of one frame, in order, decoding one at a time. Stops at the
// first malformed envelope and returns its error (the envelopes before it were handed to fn);
// otherwise the number of envelopes.
result<std::size_t> for_each_envelope(const char* data, std::size_t size, const limits& lim,
                                      const std::function<void(decoded&)>& fn);

// Decodes every envelope of one frame. Stops at the first malformed envelope: the error says
// which and why (the envelopes before it are not returned either: the peer is broken).
result<std::vector<decoded>> decode_frame(const char* data, std::size_t size,
                                          const limits& lim = {});

errc errc_from_string(std::string_view s) noexcept;

}  // namespace otter::wire
