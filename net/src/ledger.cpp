#include "ledger.hpp"

namespace otter::net_detail {

using detail::sig;

void ledger::sent(sig kind, const pid& local, const pid& remote, std::uint64_t ref) {
  switch (kind) {
    case sig::call:
    case sig::stop_request: calls_.insert({local, ref}); break;
    case sig::monitor: monitors_out_[ref] = {local, remote}; break;
    case sig::demonitor: monitors_out_.erase(ref); break;
    case sig::link: links_.insert({local, remote}); break;
    case sig::unlink:
    case sig::link_exit: links_.erase({local, remote}); break;
    case sig::down: monitors_in_.erase(ref); break;  // our process's DOWN for its monitor
    default: break;
  }
}

void ledger::received(sig kind, const pid& local, const pid& remote, std::uint64_t ref) {
  switch (kind) {
    case sig::reply:
    case sig::reply_error: calls_.erase({local, ref}); break;
    case sig::link: links_.insert({local, remote}); break;
    case sig::unlink:
    case sig::link_exit: links_.erase({local, remote}); break;
    case sig::monitor: monitors_in_[ref] = {local, remote}; break;
    case sig::demonitor: monitors_in_.erase(ref); break;
    case sig::down: monitors_out_.erase(ref); break;
    default: break;
  }
}

void ledger::forget(sig kind, const pid& local, const pid& remote, std::uint64_t ref) {
  switch (kind) {
    case sig::call:
    case sig::stop_request: calls_.erase({local, ref}); break;
    case sig::monitor: monitors_out_.erase(ref); break;
    case sig::link: links_.erase({local, remote}); break;
    default: break;
  }
}

void ledger::settle(runtime& rt, const std::string& peer_name, const std::string& reason) {
  const error lost{errc::nodedown, "node " + peer_name + " went down (" + reason + ")",
                   exit_reason::noconnection()};
  for (const auto& [caller, ref] : calls_) {
    // Spoken by the node's id-0 Pid: the callee is not known here, only its node.
    detail::answer_for(rt, sig::call, caller, pid{node_id_of(peer_name), 0, 0}, ref, lost);
  }
  for (const auto& [ref, lr] : monitors_out_) {
    detail::answer_for(rt, sig::monitor, lr.first, lr.second, ref, lost);
  }
  for (const auto& [local, remote] : links_) {
    detail::answer_for(rt, sig::link, local, remote, 0, lost);
  }
  // Monitors the peer's processes held on ours are gone with it.
  for (const auto& [ref, lr] : monitors_in_) {
    detail::deliver(rt, lr.first, detail::make_signal(sig::demonitor, lr.second, ref));
  }
  calls_.clear();
  monitors_out_.clear();
  monitors_in_.clear();
  links_.clear();
}

bool ledger::empty() const noexcept {
  return size() == 0;
}

std::size_t ledger::size() const noexcept {
  return calls_.size() + monitors_out_.size() + monitors_in_.size() + links_.size();
}

}  // namespace otter::net_detail
