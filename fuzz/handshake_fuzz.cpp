// libFuzzer target: the handshake a node runs on a new connection's first frame: decode,
// version and name checks, proof verification, then the welcome it would answer with.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <otter/secret.hpp>
#include "keys.hpp"
#include "wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const otter::cluster_keys keys = otter::derive_keys("fuzzing secret, 32 bytes long..");
  auto r = otter::wire::decode_frame(reinterpret_cast<const char*>(data), size);
  if (!r || r->empty()) return 0;
  for (auto& d : *r) {
    if (d.k == otter::wire::kind::hello) {
      const otter::wire::version_range theirs{d.hi.version,
                                              std::max(d.hi.version, d.hi.max_version.value_or(0))};
      const bool ok = otter::wire::agreed_version(otter::wire::spoken_versions(), theirs) &&
                      otter::proof_matches(keys, otter::wire::proof_input(d.hi), d.hi.proof);
      if (!ok) continue;
      otter::wire::welcome w;
      w.name = "fuzz-node";
      w.members = {{d.hi.name, d.hi.endpoint, d.hi.creation}};
      msgpack::sbuffer out;
      otter::wire::encode_welcome(out, w);
    } else if (d.k == otter::wire::kind::welcome || d.k == otter::wire::kind::members) {
      for (const auto& m : d.k == otter::wire::kind::welcome ? d.wel.members : d.members) {
        (void)otter::node_id_of(m.name);
      }
    }
  }
  return 0;
}
