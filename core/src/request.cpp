// The non-template parts of request.hpp.
#include "otter/request.hpp"

namespace otter::detail {

bool send_request_envelope(process& self, const dest& to, envelope_ptr e, std::uint64_t ref) {
  runtime& rt = self.rt();
  e->from = self.self();
  e->ref = ref;
  if (rt.stopped()) {
    (void)answer_for(
        rt, sig::call, self.self(), pid{}, ref,
        error{errc::shutting_down, "the runtime of node " + rt.node_name() + " has shut down"});
    return false;
  }
  if (const dest::name_at* at = to.as_name_at(); at != nullptr && at->node != rt.node_name()) {
    if (deliver_to(rt, to, std::move(e))) return true;
  } else if (auto target = rt.resolve(to)) {
    if (deliver(rt, *target, std::move(e))) return true;
    (void)answer_for(rt, sig::call, self.self(), *target, ref, noproc_error(*target));
    return false;
  }
  // Known at once: its response is noproc, as a call's would be.
  (void)answer_for(rt, sig::call, self.self(), pid{}, ref, noproc_error(to));
  return false;
}

error no_request_error() {
  return error{errc::not_found, "no pending request to wait for (OTP's no_request)"};
}

error no_process_error() {
  return error{errc::no_process_context,
               "requests belong to a process: send and receive them inside one (a handler, or "
               "scoped_process::await)"};
}

error request_timeout_error(const std::string& target) {
  return error{errc::timeout, "no response from " +
                                  (target.empty() ? std::string("the request") : target) +
                                  " before the timeout"};
}

}  // namespace otter::detail
