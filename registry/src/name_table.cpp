#include "name_table.hpp"

#include <algorithm>

namespace otter::registry_detail {

bool keeps_name(const global_entry& a, const global_entry& b) noexcept {
  if (a.node != b.node) return a.node < b.node;
  if (a.holder.creation != b.holder.creation) return a.holder.creation > b.holder.creation;
  return a.holder.id > b.holder.id;
}

void name_table::index_add(const global_entry& e) {
  auto& v = by_name_[e.name];
  for (auto& x : v) {
    if (x.holder == e.holder) {
      x = e;
      touched_.insert(e.name);
      return;
    }
  }
  v.push_back(e);
  touched_.insert(e.name);
}

void name_table::index_remove(const std::string& name, const pid& holder) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return;
  std::erase_if(it->second, [&](const global_entry& x) { return x.holder == holder; });
  if (it->second.empty()) by_name_.erase(it);
  touched_.insert(name);
}

void name_table::own_add(const global_entry& e) {
  if (auto it = own_.find(e.name); it != own_.end()) index_remove(e.name, it->second.holder);
  own_[e.name] = e;
  ++seq_;
  index_add(e);
}

bool name_table::own_remove(const std::string& name, const pid& holder) {
  auto it = own_.find(name);
  if (it == own_.end() || it->second.holder != holder) return false;
  own_.erase(it);
  ++seq_;
  index_remove(name, holder);
  return true;
}

std::optional<global_entry> name_table::own(const std::string& name) const {
  auto it = own_.find(name);
  if (it == own_.end()) return std::nullopt;
  return it->second;
}

std::vector<global_entry> name_table::own_entries() const {
  std::vector<global_entry> out;
  out.reserve(own_.size());
  for (const auto& [name, e] : own_) out.push_back(e);
  return out;
}

void name_table::sync(const std::string& node, std::uint64_t seq,
                      const std::vector<global_entry>& entries) {
  drop(node);
  touched_nodes_.insert(node);
  replica& r = replicas_[node];
  r.seq = seq;
  r.synced = true;
  for (const auto& e : entries) {
    if (e.node != node) continue;  // a node speaks for its own processes only
    r.names[e.name] = e;
    index_add(e);
  }
}

bool name_table::update(const std::string& node, std::uint64_t seq, bool add,
                        const global_entry& e) {
  replica& r = replicas_[node];  // an update before the sync: the sync replaces it
  touched_nodes_.insert(node);   // even an ignored update may have made its (empty) replica
  if (seq <= r.seq || e.node != node) return false;
  r.seq = seq;
  if (add) {
    if (auto it = r.names.find(e.name); it != r.names.end())
      index_remove(e.name, it->second.holder);
    r.names[e.name] = e;
    index_add(e);
  } else if (auto it = r.names.find(e.name); it != r.names.end() && it->second.holder == e.holder) {
    r.names.erase(it);
    index_remove(e.name, e.holder);
  }
  return true;
}

void name_table::drop(const std::string& node) {
  auto it = replicas_.find(node);
  if (it == replicas_.end()) return;
  touched_nodes_.insert(node);
  for (const auto& [name, e] : it->second.names) index_remove(name, e.holder);
  replicas_.erase(it);
}

std::vector<global_entry> name_table::holders(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return {};
  std::vector<global_entry> out = it->second;
  std::sort(out.begin(), out.end(), keeps_name);
  return out;
}

std::optional<global_entry> name_table::winner(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end() || it->second.empty()) return std::nullopt;
  return *std::min_element(it->second.begin(), it->second.end(), keeps_name);
}

std::set<std::string> name_table::take_touched_nodes() {
  std::set<std::string> out;
  out.swap(touched_nodes_);
  return out;
}

std::set<std::string> name_table::take_touched() {
  std::set<std::string> out;
  out.swap(touched_);
  return out;
}

}  // namespace otter::registry_detail
