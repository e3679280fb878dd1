// Internal: a node's resolved view of the global names, shared between its registry server
// (which writes it) and any thread (whereis_global reads it under a shared lock).
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <otter/detail/membership.hpp>

#include "otter/global.hpp"

namespace otter {

namespace registry_detail {
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
}  // namespace registry_detail

struct global_registry::state {
  mutable std::shared_mutex mutex;  // protects names, synced
  // name -> its holder (the winner when two authorities hold it)
  std::unordered_map<std::string, global_entry, registry_detail::string_hash, std::equal_to<>>
      names;
  std::set<std::string> synced;  // connected members whose names have arrived
  // How far this node has followed each authority's changes (its own included): the seq of
  // the last change applied (the simulator's checker reads it).
  std::unordered_map<std::string, std::uint64_t> seqs;
  std::condition_variable_any synced_cv;
  std::shared_ptr<detail::membership_view> members;                         // the node's membership
  std::atomic<std::uint64_t> registered{0}, unregistered{0}, conflicts{0};  // relaxed counters

  // Every entry, by name (any thread).
  std::vector<global_entry> sorted_entries() const {
    std::vector<global_entry> out;
    {
      std::shared_lock<std::shared_mutex> l(mutex);
      out.reserve(names.size());
      for (const auto& [name, e] : names) out.push_back(e);
    }
    std::sort(out.begin(), out.end(),
              [](const global_entry& a, const global_entry& b) { return a.name < b.name; });
    return out;
  }
  registry_stats stats() const {
    registry_stats st;
    {
      std::shared_lock<std::shared_mutex> l(mutex);
      st.names = names.size();
    }
    st.registered = registered.load(std::memory_order_relaxed);
    st.unregistered = unregistered.load(std::memory_order_relaxed);
    st.conflicts = conflicts.load(std::memory_order_relaxed);
    return st;
  }
  // Every connected member's names have arrived, and no member is still joining.
  bool synced_now() const {  // mutex held (shared)
    if (!members->joined()) return false;
    for (const auto& m : members->members()) {
      if (!synced.contains(m.name)) return false;
    }
    return true;
  }
};

namespace registry_detail {
struct inspect {
  static std::uint64_t replica_seq(const global_registry& g, const std::string& node) {
    std::shared_lock<std::shared_mutex> l(g.s_->mutex);
    auto it = g.s_->seqs.find(node);
    return it == g.s_->seqs.end() ? 0 : it->second;
  }
};
}  // namespace registry_detail

}  // namespace otter
