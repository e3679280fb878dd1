// Internal: what is open between this node's processes and one peer's, so that when the peer
// goes down every party on this side gets its answer (calls fail with nodedown, monitors fire
// noconnection, links propagate noconnection) instead of waiting for ever. Kept by the I/O
// owner from the envelopes that cross the link in both directions.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "otter/detail/envelope.hpp"
#include "otter/runtime.hpp"

namespace otter::net_detail {

class ledger {
 public:
  // An envelope from local process `local` to the peer's process `remote`.
  void sent(detail::sig kind, const pid& local, const pid& remote, std::uint64_t ref);
  // An envelope from the peer's process `remote` to local process `local`.
  void received(detail::sig kind, const pid& local, const pid& remote, std::uint64_t ref);
  // A request to the peer's `remote` failed on this side (answer_for did the answering).
  void forget(detail::sig kind, const pid& local, const pid& remote, std::uint64_t ref);
  // The peer `peer_name` is down: answers everything open and forgets it.
  void settle(runtime& rt, const std::string& peer_name, const std::string& reason);
  bool empty() const noexcept;
  // Calls of local processes waiting for the peer's answer.
  bool calls_open() const noexcept { return !calls_.empty(); }
  std::size_t size() const noexcept;

 private:
  struct pair_hash {
    std::size_t operator()(const std::pair<pid, std::uint64_t>& p) const noexcept {
      return std::hash<pid>()(p.first) ^ (p.second * 0x9E3779B97F4A7C15ull);
    }
  };
  std::unordered_set<std::pair<pid, std::uint64_t>, pair_hash> calls_;   // local caller, ref
  std::unordered_map<std::uint64_t, std::pair<pid, pid>> monitors_out_;  // ref -> local, remote
  std::unordered_map<std::uint64_t, std::pair<pid, pid>> monitors_in_;   // ref -> local, remote
  std::set<std::pair<pid, pid>> links_;                                  // local, remote
};

}  // namespace otter::net_detail
