// Internal: the names as one node knows them. A node is the authority on the names its own
// processes hold (own), and keeps a replica of each connected member's own names, as that
// member last said (a sync, then its numbered updates, in order: one connection). A name is
// held by one Pid per authority; when two authorities hold it (a partition healed, two
// registrations crossed), every node picks the same winner by one rule (keeps_name), without
// asking anyone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <otter/global.hpp>

namespace otter::registry_detail {

// The rule for a name held by two Pids: the lower node name keeps it; on one node, the newer
// incarnation, then the newer process (a higher id: ids grow).
bool keeps_name(const global_entry& a, const global_entry& b) noexcept;

class name_table {
 public:
  explicit name_table(std::string me) : me_(std::move(me)) {}

  // ---- this node's own names ----
  // Changes are numbered: seq() is the number of the last one.
  void own_add(const global_entry& e);
  // True when `holder` held `name` (and no longer does).
  bool own_remove(const std::string& name, const pid& holder);
  std::optional<global_entry> own(const std::string& name) const;
  std::vector<global_entry> own_entries() const;
  std::uint64_t seq() const noexcept { return seq_; }

  // ---- replicas of the members' own names ----
  // The names `node` holds as of its change `seq` (a sync): replaces what was known.
  void sync(const std::string& node, std::uint64_t seq, const std::vector<global_entry>& entries);
  // Change `seq` of `node`; false when it is older than what is known (ignored).
  bool update(const std::string& node, std::uint64_t seq, bool add, const global_entry& e);
  // `node` is down: its names are gone from here.
  void drop(const std::string& node);
  // The seq of the last change of `node` applied here (its own: seq()); 0 when none.
  std::uint64_t seq_of(const std::string& node) const {
    if (node == me_) return seq_;
    auto it = replicas_.find(node);
    return it == replicas_.end() ? 0 : it->second.seq;
  }
  bool synced(const std::string& node) const {
    auto it = replicas_.find(node);
    return it != replicas_.end() && it->second.synced;
  }

  // ---- resolution ----
  // Every Pid that holds `name` somewhere (its own authority's word), best first.
  std::vector<global_entry> holders(const std::string& name) const;
  std::optional<global_entry> winner(const std::string& name) const;
  // Names touched since the last call (to refresh the resolved view).
  std::set<std::string> take_touched();
  // Authorities whose replica changed (or went) since the last call (to refresh their seqs).
  std::set<std::string> take_touched_nodes();
  bool has_replica(const std::string& node) const { return replicas_.count(node) > 0; }
  void touch(const std::string& name) { touched_.insert(name); }

 private:
  struct replica {
    std::uint64_t seq = 0;
    bool synced = false;  // its sync has arrived
    std::map<std::string, global_entry> names;
  };
  void index_add(const global_entry& e);
  void index_remove(const std::string& name, const pid& holder);

  std::string me_;
  std::map<std::string, global_entry> own_;
  std::uint64_t seq_ = 0;
  std::unordered_map<std::string, replica> replicas_;
  // name -> every holder known, from any authority
  std::unordered_map<std::string, std::vector<global_entry>> by_name_;
  std::set<std::string> touched_;
  std::set<std::string> touched_nodes_;
};

}  // namespace otter::registry_detail
