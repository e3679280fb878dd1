// libFuzzer target: the frame decoder (every envelope kind) and message decoding on top of it.
#include <cstddef>
#include <cstdint>

#include "wire.hpp"

namespace {
struct probe_msg {
  std::int64_t seq = 0;
  std::string text;
  std::vector<std::int64_t> values;
  MSGPACK_DEFINE(seq, text, values);
};
OTTER_MESSAGE(probe_msg);
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  otter::wire::limits lim;
  lim.max_frame_bytes = 1 << 20;
  auto r = otter::wire::for_each_envelope(reinterpret_cast<const char*>(data), size, lim,
                                          [](otter::wire::decoded& d) {
                                            if (!d.env) return;
                                            // A receiving server asks for its types: a body that
                                            // does not convert is no match.
                                            (void)otter::detail::payload_as<probe_msg>(*d.env);
                                            (void)otter::detail::payload_as<std::string>(*d.env);
                                            (void)d.env->type_name();
                                            // Whatever decoded must encode again (a node forwards
                                            // what it received).
                                            msgpack::sbuffer out;
                                            otter::wire::encode_envelope(out, d.to, *d.env);
                                          });
  (void)r;
  return 0;
}
