// Requests whose replies are collected later, and calls to many nodes at once (OTP's
// gen_server:send_request family with request-id collections, multi_call and abcast).
//
//   auto id = otter::send_request<value>("kv", get{"a"});         // returns at once
//   ... other work ...
//   result<value> v = co_await otter::receive_response(id, 100ms);
//
//   otter::request_id_collection<pong, std::string> c;  // labels: the caller's own
//   for (auto& n : nodes) otter::send_request(otter::dest::at("srv", n), ping{}, n, c);
//   while (!c.empty()) {
//     auto r = co_await otter::receive_response(c, 1s);  // result<collected<pong, string>>
//     if (!r) break;                                     // timeout: the rest abandoned
//     use(r->label, r->reply);                           // r->reply: result<pong>
//   }
//
// - A request is a call: the server answers it with handle_call; the caller does not block.
//   Any failure is its response: noproc (no such process or name, at once), nodedown, exited
//   (with the server's reason), badarg (a reply of another type), as a call's, for every kind
//   of target (Pid, local name, {name, node}, global name).
// - receive_response(id, timeout) abandons the request on timeout: its late reply is dropped,
//   never seen. wait_response keeps it pending (wait again, or receive it later).
// - check_response is for servers that do not wait: one that defines
//   handle_info(const otter::response_ready&) gets one as each reply arrives, and asks
//   check_response which of its requests it answers.
// - Timeouts are milliseconds; infinity is std::chrono::milliseconds::max() (the default, as in
//   OTP). They are awaited as tasks: co_await in a handler, scoped_process::await outside.
// - A process may have any number of requests pending; their replies wait in a table of the
//   process (never in its mailbox), taken in O(1) by reference.
#pragma once

#include <chrono>
#include <coroutine>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "otter/call.hpp"
#include "otter/detail/envelope.hpp"
#include "otter/error.hpp"
#include "otter/message.hpp"
#include "otter/process.hpp"
#include "otter/runtime.hpp"
#include "otter/task.hpp"

namespace otter {

// Delivered to handle_info, for a server that lists nothing for it but defines
// handle_info(const otter::response_ready&): the reply to pending request `ref` has arrived.
struct response_ready {
  std::uint64_t ref = 0;
  MSGPACK_DEFINE(ref);
};
OTTER_MESSAGE_AS(response_ready, "response_ready");

namespace detail {
template <class R, class Label>
struct collection_ops;
}  // namespace detail

// A request sent with send_request.
template <class R>
struct request_id {
  std::uint64_t ref = 0;  // 0: sent outside a process (every wait gives no_process_context)
  std::string target;     // the destination, described for errors
};

// One response taken from a collection, with the label it was added with.
template <class R, class Label>
struct collected {
  result<R> reply;
  Label label;
};

// OTP's request-id collection: pending requests with a label each (the caller's choice: a
// node name, an index, ...). Not thread-safe; belongs to the process that sent the requests.
template <class R, class Label = std::string>
class request_id_collection {
 public:
  std::size_t size() const noexcept { return refs_.size(); }
  bool empty() const noexcept { return refs_.empty(); }
  void add(const request_id<R>& id, Label label) {
    if (id.ref == 0 || labels_.count(id.ref) > 0) return;
    refs_.push_back(id.ref);
    labels_.emplace(id.ref, entry{std::move(label), id.target});
  }
  // The pending requests with their labels (OTP's reqids_to_list).
  std::vector<std::pair<request_id<R>, Label>> to_list() const {
    std::vector<std::pair<request_id<R>, Label>> out;
    for (auto ref : refs_) {
      const entry& e = labels_.at(ref);
      out.emplace_back(request_id<R>{ref, e.target}, e.label);
    }
    return out;
  }

 private:
  template <class, class>
  friend struct detail::collection_ops;
  struct entry {
    Label label;
    std::string target;
  };
  std::vector<std::uint64_t> refs_;  // in the order added
  std::unordered_map<std::uint64_t, entry> labels_;
};

template <class R>
struct multi_call_result {
  std::vector<std::pair<std::string, R>> replies;  // node, reply; in the order of `nodes`
  std::vector<std::string> bad_nodes;  // no reply in time, no such server, node down, crashed
};

namespace detail {

// The process's request table (process.hpp), for the functions below.
struct request_ops {
  static void track(process& p, std::uint64_t ref) { p.track_request(ref); }
  static envelope_ptr take(process& p, std::uint64_t ref) { return p.take_response(ref); }
  static bool pending(const process& p, std::uint64_t ref) { return p.request_pending(ref); }
  static bool arrived(const process& p, std::uint64_t ref) { return p.response_arrived(ref); }
  static void forget(process& p, std::uint64_t ref) { p.forget_request(ref); }
  static void await_any(process& p, const std::vector<std::uint64_t>* refs, reply_sink* sink,
                        std::coroutine_handle<> h, std::chrono::steady_clock::time_point deadline) {
    p.await_any_request(refs, sink, h, deadline);
  }
};

// Sends `e` as request `ref` of the calling process; a failure known at once becomes its
// response.
bool send_request_envelope(process& self, const dest& to, envelope_ptr e, std::uint64_t ref);

// What one wait for any of `refs` gives.
struct any_response {
  enum class kind { arrived, timed_out, none_pending, no_process } what = kind::none_pending;
  std::uint64_t ref = 0;
  envelope_ptr reply;
};

// Awaits the first reply among `refs` (already arrived, or arriving before the deadline).
class any_response_awaiter final : reply_sink {
 public:
  any_response_awaiter(std::vector<std::uint64_t> refs, std::chrono::milliseconds timeout)
      : refs_(std::move(refs)), timeout_(timeout) {}
  any_response_awaiter(any_response_awaiter&&) = default;

  bool await_ready() {
    self_ = current_process();
    if (self_ == nullptr) {
      out_.what = any_response::kind::no_process;
      return true;
    }
    if (take_arrived()) return true;
    bool any = false;
    for (auto ref : refs_) any = any || request_ops::pending(*self_, ref);
    if (!any) {
      out_.what = any_response::kind::none_pending;
      return true;
    }
    if (timeout_.count() <= 0) {
      out_.what = any_response::kind::timed_out;
      return true;
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    const auto deadline = timeout_ == std::chrono::milliseconds::max()
                              ? std::chrono::steady_clock::time_point::max()
                              : detail::now(self_->rt()) + timeout_;
    request_ops::await_any(*self_, &refs_, this, h, deadline);
  }
  any_response await_resume() {
    if (out_.what == any_response::kind::none_pending && !timed_out_) take_arrived();
    if (timed_out_ && !out_.reply) out_.what = any_response::kind::timed_out;
    return std::move(out_);
  }

 private:
  bool take_arrived() {
    for (auto ref : refs_) {
      if (envelope_ptr e = request_ops::take(*self_, ref)) {
        out_.what = any_response::kind::arrived;
        out_.ref = ref;
        out_.reply = std::move(e);
        return true;
      }
    }
    return false;
  }
  void complete(envelope_ptr e) override {
    if (e) timed_out_ = true;  // the timer's envelope; an arrival completes with nullptr
  }

  std::vector<std::uint64_t> refs_;
  std::chrono::milliseconds timeout_;
  process* self_ = nullptr;
  bool timed_out_ = false;
  any_response out_;
};

error no_request_error();
error no_process_error();
error request_timeout_error(const std::string& target);

template <class R>
result<R> response_result(any_response& r, const std::string& target) {
  switch (r.what) {
    case any_response::kind::arrived: return result_of_reply<R>(*r.reply);
    case any_response::kind::timed_out: return request_timeout_error(target);
    case any_response::kind::none_pending: return no_request_error();
    case any_response::kind::no_process: return no_process_error();
  }
  return no_request_error();
}

template <class R, class Label>
struct collection_ops {
  using coll = request_id_collection<R, Label>;
  static const std::vector<std::uint64_t>& refs(const coll& c) { return c.refs_; }
  static bool contains(const coll& c, std::uint64_t ref) { return c.labels_.count(ref) > 0; }
  static const std::string& target(const coll& c, std::uint64_t ref) {
    return c.labels_.at(ref).target;
  }
  // Takes the entry of `ref` out of the collection (remove) or copies its label.
  static Label label(coll& c, std::uint64_t ref, bool remove) {
    auto it = c.labels_.find(ref);
    if (!remove) return it->second.label;
    Label l = std::move(it->second.label);
    c.labels_.erase(it);
    std::erase(c.refs_, ref);
    return l;
  }
  static void abandon_all(coll& c) {
    if (process* self = current_process()) {
      for (auto ref : c.refs_) request_ops::forget(*self, ref);
    }
    c.refs_.clear();
    c.labels_.clear();
  }
};

}  // namespace detail

// Sends `request` as a call to `to` and returns at once; R is the reply type (dynamic: any).
template <class R, class T>
request_id<R> send_request(const dest& to, T&& request) {
  using Req = std::decay_t<T>;
  if constexpr (declares_reply<Req>) {
    static_assert(std::is_same_v<R, typename Req::reply_type> || std::is_void_v<R> ||
                      std::is_same_v<R, dynamic>,
                  "otter::send_request<R>: R is not the reply_type the request declares");
  }
  request_id<R> id;
  id.target = to.describe();
  process* self = detail::current_process();
  if (self == nullptr) return id;
  id.ref = detail::make_ref(self->rt());
  detail::request_ops::track(*self, id.ref);
  (void)detail::send_request_envelope(
      *self, to, detail::make_message(detail::sig::call, std::forward<T>(request)), id.ref);
  return id;
}
template <class T>
requires declares_reply<std::decay_t<T>> request_id<typename std::decay_t<T>::reply_type>
send_request(const dest& to, T&& request) {
  return send_request<typename std::decay_t<T>::reply_type>(to, std::forward<T>(request));
}
// Sends a request and adds it to `coll` under `label` (OTP's send_request/4).
template <class R, class Label, class T>
void send_request(const dest& to, T&& request, Label label, request_id_collection<R, Label>& coll) {
  coll.add(send_request<R>(to, std::forward<T>(request)), std::move(label));
}

// The response of `id`; on timeout the request is abandoned (its late reply dropped).
template <class R>
task<result<R>> receive_response(
    request_id<R> id, std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) {
  std::vector<std::uint64_t> refs{id.ref};  // (not braced in the co_await: g++ 12 chokes)
  auto r = co_await detail::any_response_awaiter(std::move(refs), timeout);
  if (process* self = detail::current_process(); self && id.ref != 0) {
    if (r.what != detail::any_response::kind::none_pending) {
      detail::request_ops::forget(*self, id.ref);
    }
  }
  co_return detail::response_result<R>(r, id.target);
}

// The response of `id`; on timeout the request stays pending.
template <class R>
task<result<R>> wait_response(
    request_id<R> id, std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) {
  std::vector<std::uint64_t> refs{id.ref};  // (not braced in the co_await: g++ 12 chokes)
  auto r = co_await detail::any_response_awaiter(std::move(refs), timeout);
  if (r.what == detail::any_response::kind::arrived) {
    detail::request_ops::forget(*detail::current_process(), id.ref);  // answered
  }
  co_return detail::response_result<R>(r, id.target);
}

// The first response of any request in `coll`, with its label; `remove` takes the request out
// of the collection. Errors of the wait itself: timeout (every request still in `coll` is
// then abandoned and the collection emptied, receive_response) or kept (wait_response),
// not_found (the collection is empty: OTP's no_request), no_process_context.
template <class R, class Label>
task<result<collected<R, Label>>> receive_response(
    request_id_collection<R, Label>& coll,
    std::chrono::milliseconds timeout = std::chrono::milliseconds::max(), bool remove = true) {
  using ops = detail::collection_ops<R, Label>;
  auto r = co_await detail::any_response_awaiter(ops::refs(coll), timeout);
  if (r.what == detail::any_response::kind::timed_out) ops::abandon_all(coll);
  if (r.what != detail::any_response::kind::arrived) {
    co_return detail::response_result<R>(r, {}).err();
  }
  detail::request_ops::forget(*detail::current_process(), r.ref);
  Label label = ops::label(coll, r.ref, remove);
  co_return collected<R, Label>{detail::result_of_reply<R>(*r.reply), std::move(label)};
}

template <class R, class Label>
task<result<collected<R, Label>>> wait_response(
    request_id_collection<R, Label>& coll,
    std::chrono::milliseconds timeout = std::chrono::milliseconds::max(), bool remove = true) {
  using ops = detail::collection_ops<R, Label>;
  auto r = co_await detail::any_response_awaiter(ops::refs(coll), timeout);
  if (r.what != detail::any_response::kind::arrived) {
    co_return detail::response_result<R>(r, {}).err();
  }
  detail::request_ops::forget(*detail::current_process(), r.ref);
  Label label = ops::label(coll, r.ref, remove);
  co_return collected<R, Label>{detail::result_of_reply<R>(*r.reply), std::move(label)};
}

// In handle_info(const response_ready&): the response of `id` if `m` is about it (nullopt:
// OTP's no_reply, another request's).
template <class R>
std::optional<result<R>> check_response(const response_ready& m, const request_id<R>& id) {
  process* self = detail::current_process();
  if (self == nullptr || m.ref != id.ref) return std::nullopt;
  detail::envelope_ptr e = detail::request_ops::take(*self, m.ref);
  if (!e) return std::nullopt;
  detail::request_ops::forget(*self, m.ref);
  return detail::result_of_reply<R>(*e);
}
template <class R, class Label>
std::optional<collected<R, Label>> check_response(const response_ready& m,
                                                  request_id_collection<R, Label>& coll,
                                                  bool remove = true) {
  using ops = detail::collection_ops<R, Label>;
  process* self = detail::current_process();
  if (self == nullptr || !ops::contains(coll, m.ref)) return std::nullopt;
  detail::envelope_ptr e = detail::request_ops::take(*self, m.ref);
  if (!e) return std::nullopt;
  detail::request_ops::forget(*self, m.ref);
  Label label = ops::label(coll, m.ref, remove);
  return collected<R, Label>{detail::result_of_reply<R>(*e), std::move(label)};
}

// Calls `name` on every node of `nodes` at once and gathers the replies until `timeout`
// (OTP's gen_server:multi_call). A node whose reply does not come in time, has no such
// server, is down, or whose server fails the call, is a bad node; a late reply is dropped.
template <class R, class T>
task<multi_call_result<R>> multi_call(
    std::vector<std::string> nodes, std::string name, T request,
    std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) {
  request_id_collection<R, std::size_t> coll;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    coll.add(send_request<R>(dest::at(name, nodes[i]), T(request)), i);
  }
  std::vector<std::optional<R>> got(nodes.size());
  process* self = detail::current_process();
  const auto start = self ? detail::now(self->rt()) : std::chrono::steady_clock::time_point{};
  while (!coll.empty()) {
    auto left = timeout;
    if (timeout != std::chrono::milliseconds::max()) {
      left = timeout -
             std::chrono::duration_cast<std::chrono::milliseconds>(detail::now(self->rt()) - start);
      if (left.count() < 0) left = std::chrono::milliseconds(0);
    }
    auto r = co_await receive_response(coll, left);
    if (!r) break;  // timeout (the rest abandoned), or no process context
    if (r->reply) got[r->label].emplace(std::move(*r->reply));
  }
  multi_call_result<R> out;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (got[i]) {
      out.replies.emplace_back(nodes[i], std::move(*got[i]));
    } else {
      out.bad_nodes.push_back(nodes[i]);
    }
  }
  co_return out;
}

// Casts `msg` to `name` on every node of `nodes` (OTP's gen_server:abcast); never fails.
template <class T>
void abcast(runtime& rt, const std::vector<std::string>& nodes, const std::string& name,
            const T& msg) {
  for (const auto& n : nodes) (void)rt.cast(dest::at(name, n), T(msg));
}

}  // namespace otter
