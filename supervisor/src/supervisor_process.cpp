#include "supervisor_process.hpp"

#include <algorithm>
#include <exception>
#include <set>
#include <string>

#include "otter/log.hpp"
#include "otter/log_fields.hpp"

namespace otter::detail {

namespace {

std::string describe_child(const child_spec& spec, const pid& p) {
  std::string s = spec.id.empty() ? std::string("child") : "child '" + spec.id + "'";
  if (p) s += " " + otter::to_string(p);
  return s;
}

}  // namespace

supervisor_process::supervisor_process(std::string label, supervisor_flags flags,
                                       std::vector<child_spec> children)
    : dynamic_(false),
      label_(std::move(label)),
      strategy_(flags.strategy),
      max_restarts_(flags.max_restarts),
      max_seconds_(flags.max_seconds) {
  trap_exit(true);
  for (auto& s : children) add_child(std::move(s));
}

supervisor_process::supervisor_process(std::string label, dynamic_supervisor_options options)
    : dynamic_(true),
      label_(std::move(label)),
      max_restarts_(options.max_restarts),
      max_seconds_(options.max_seconds),
      max_children_(options.max_children) {
  trap_exit(true);
}

// ---- start and stop of the supervisor ----

result<void> supervisor_process::validate(int max_restarts, std::chrono::seconds max_seconds,
                                          const std::vector<child_spec>& children) {
  if (max_restarts < 0 || max_seconds.count() <= 0) {
    return error{errc::badarg, "invalid restart intensity: max_restarts " +
                                   std::to_string(max_restarts) + " in max_seconds " +
                                   std::to_string(max_seconds.count())};
  }
  std::set<std::string_view> ids;
  for (const child_spec& c : children) {
    if (!ids.insert(c.id).second) return error{errc::badarg, "duplicate child id '" + c.id + "'"};
    if (!c.start) return error{errc::badarg, describe_child(c, {}) + " has no start function"};
  }
  return ok();
}

result<void> supervisor_process::init() {
  for (auto it = children_.begin(); it != children_.end();) {
    auto r = start_process(it);
    if (r) {
      // `ignore`: OTP keeps the spec to restart later, except a temporary child's.
      if (!it->proc && it->spec.restart == restart_type::temporary) {
        it = children_.erase(it);
      } else {
        ++it;
      }
      continue;
    }
    // Children already started are told to stop, in reverse order; the supervisor never runs,
    // so it cannot wait for them (see docs/SUPERVISION.md).
    for (auto back = std::make_reverse_iterator(it); back != children_.rend(); ++back) {
      if (back->proc) signal_and_forget(*back);
    }
    const error& e = r.err();
    exit_reason reason = e.reason.is_normal() ? exit_reason(e.message) : e.reason;
    return error{errc::init_failed,
                 "supervisor " + otter::to_string(self()) + " failed to start " +
                     describe_child(it->spec, {}) + ": " + e.message,
                 std::move(reason)};
  }
  return ok();
}

void supervisor_process::terminate(const exit_reason&) {
  // After an orderly shutdown nothing is left. Otherwise (otter::stop, a crash) children are
  // told without waiting, in reverse order.
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
    if (it->proc) signal_and_forget(*it);
  }
}

void supervisor_process::signal_and_forget(child& c) {
  const shutdown_policy p = c.spec.effective_shutdown();
  if (p.is_brutal_kill()) {
    otter::exit(c.proc, exit_reason::kill());
    return;
  }
  otter::exit(c.proc, exit_reason::shutdown());
  if (!p.is_infinity()) {
    // A delayed, untrappable kill: dropped if the child has exited by then.
    auto e = std::make_unique<reason_envelope>(sig::exit, exit_reason::kill());
    e->from = self();
    start_timer(rt(), p.time(), c.proc, std::move(e));
  }
}

std::vector<supervisor_process::child_iter> supervisor_process::shutdown_order() {
  std::vector<child_iter> order;
  order.reserve(dynamic_ ? by_pid_.size() : children_.size());
  for (auto it = children_.end(); it != children_.begin();) {
    --it;
    if (it->proc) order.push_back(it);
  }
  return order;
}

void supervisor_process::shut_down(exit_reason reason, std::optional<from> waiter) {
  stopping_ = true;  // callers waiting behind this learn our exit reason when we exit
  terminate_then(shutdown_order(), supervisor_job([this, reason = std::move(reason),
                                                   w = std::move(waiter)]() mutable {
                   if (w) w->reply(ok_reply{});
                   stop(std::move(reason));
                 }));
}

// ---- children ----

supervisor_process::child_iter supervisor_process::add_child(child_spec spec) {
  children_.push_back(child{});
  auto it = std::prev(children_.end());
  it->spec = std::move(spec);
  it->key = next_key_++;
  return it;
}

void supervisor_process::erase_child(child_iter c) {
  if (c->proc) by_pid_.erase(c->proc);
  if (c->restarting) restarting_.erase(c->key);
  children_.erase(c);
}

std::optional<supervisor_process::child_iter> supervisor_process::find_id(std::string_view id) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->spec.id == id) return it;
  }
  return std::nullopt;
}

std::optional<supervisor_process::child_iter> supervisor_process::find_key(std::uint64_t key) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->key == key) return it;
  }
  return std::nullopt;
}

result<void> supervisor_process::on_child_started(const child_spec& spec, const pid& p) {
  if (spec.global_name.empty()) return ok();
  if (auto registrar = find_service<global_name_registrar>(rt())) {
    return registrar->fn(rt(), spec.global_name, p);
  }
  return rt().register_name(spec.global_name, p);
}

result<void> supervisor_process::start_process(child_iter c) {
  if (!c->spec.start) {
    return error{errc::badarg, describe_child(c->spec, {}) + " has no start function"};
  }
  result<pid> r = error{errc::init_failed, "not started"};
  try {
    r = c->spec.start();
  } catch (const std::exception& e) {
    r = error{errc::init_failed, std::string("start function threw: ") + e.what(),
              exit_reason(e.what())};
  } catch (...) {
    r = error{errc::init_failed, "start function threw", exit_reason("unknown exception")};
  }
  if (!r) return r.err();
  ++c->incarnation;
  const pid p = *r;
  if (!p) return ok();  // ignore
  // OTP requires start functions to link; a local child that is not linked gets linked here.
  // (parent() is fixed before the process is published: safe to read from here.)
  bool linked = false;
  with_process(rt(), p, [&](process& proc) { linked = proc.parent() == self(); });
  if (!linked) otter::link(p);
  if (auto g = on_child_started(c->spec, p); !g) {
    otter::unlink(p);
    otter::exit(p, exit_reason::kill());
    return g.err();
  }
  c->proc = p;
  if (c->restarting) {
    c->restarting = false;
    restarting_.erase(c->key);
  }
  by_pid_.emplace(p, c);
  return ok();
}

child_info supervisor_process::info_of(const child& c) const {
  child_info i;
  i.id = c.spec.id;
  i.child = c.proc;
  i.type = c.spec.type;
  i.restart = c.spec.restart;
  i.status = c.proc         ? child_status::running
             : c.restarting ? child_status::restarting
                            : child_status::undefined;
  return i;
}

// ---- exits and restarts ----

void supervisor_process::handle_info(const exit_msg& x) {
  if (parent() && x.from == parent()) {
    // OTP: a supervisor whose parent exits stops its children and exits with that reason.
    submit([this, reason = x.reason]() mutable { shut_down(std::move(reason), std::nullopt); });
    return;
  }
  auto found = by_pid_.find(x.from);
  if (found == by_pid_.end()) return;  // not (or no longer) a child of ours
  const child_iter c = found->second;
  by_pid_.erase(found);
  c->proc = {};
  if (c->stopping) {
    child_stopped(c);
    return;
  }
  submit([this, c, key = c->key, incarnation = c->incarnation, was = x.from, reason = x.reason] {
    // Run later, a static child may have been deleted meanwhile (dynamic ones cannot be).
    if (!dynamic_ && !find_key(key)) return;
    on_child_exit(c, incarnation, was, reason);
  });
}

void supervisor_process::on_child_exit(child_iter c, std::uint64_t incarnation, const pid& was,
                                       const exit_reason& reason) {
  // Restarted, terminated or being retried since: this exit is no longer news.
  if (c->incarnation != incarnation || c->proc || c->restarting) return;
  const restart_type type = c->spec.restart;
  if (type == restart_type::temporary ||
      (type == restart_type::transient && (reason.is_normal() || reason.is_shutdown()))) {
    if (type == restart_type::temporary || dynamic_) erase_child(c);
    return;
  }
  restart(c, describe_child(c->spec, was) + " exited with reason '" + reason.str() + "'");
}

std::string supervisor_process::describe_self() const {
  // Its id under its parent, else its registered name (the root's): what an operator sees in
  // `otterctl tree`.
  std::string label = label_.empty() ? rt().name_of(self()) : label_;
  return std::string(behaviour()) + (label.empty() ? "" : " '" + label + "'") + " " +
         otter::to_string(self());
}

bool supervisor_process::add_restart() {
  const auto now = detail::now(rt());
  restarts_.push_back(now);
  while (!restarts_.empty() && now - restarts_.front() > max_seconds_) restarts_.pop_front();
  return restarts_.size() <= static_cast<std::size_t>(max_restarts_);
}

void supervisor_process::restart(child_iter c, const std::string& cause) {
  // OTP's supervisor reports: a restart at info (with the intensity window's count), giving up
  // at error. The child's own crash report (process.cpp) says what it was doing.
  if (!add_restart()) {
    otter::detail::log().error(
        "{}: {}; more than {} restarts in {} s (reached max restart intensity): shutting down",
        describe_self(), cause, max_restarts_, max_seconds_.count());
    shut_down(exit_reason::shutdown(), std::nullopt);
    return;
  }
  otter::log_fields fields{{"supervisor", otter::to_string(self())},
                           {"child", describe_child(c->spec, {})},
                           {"restarts", std::to_string(restarts_.size())}};
  otter::detail::log().info("{}: {}; restarting it (restart {} of at most {} in {} s)",
                            describe_self(), cause, restarts_.size(), max_restarts_,
                            max_seconds_.count());
  count_restart(rt());
  if (dynamic_ || strategy_ == restart_strategy::one_for_one) {
    if (auto r = start_process(c); !r) {
      if (!c->restarting) {
        otter::detail::log().warn("{} {}: restart of {} failed: {}", behaviour(),
                                  otter::to_string(self()), describe_child(c->spec, {}),
                                  r.err().message);
      }
      schedule_retry(c);
    }
    return;
  }
  restart_group(c);
}

void supervisor_process::restart_group(child_iter failed) {
  // one_for_all: every other running child; rest_for_one: those started after `failed`.
  const bool all = strategy_ == restart_strategy::one_for_all;
  const auto first = all ? children_.begin() : failed;
  std::vector<child_iter> order;
  for (auto it = children_.end(); it != first;) {
    --it;
    if (it->proc) order.push_back(it);
  }
  const std::uint64_t failed_key = failed->key;
  std::vector<child_iter> terminated = order;
  terminate_then(std::move(order), supervisor_job([this, all, failed_key, terminated] {
                   // Temporary children terminated by the restart are not restarted (OTP).
                   for (child_iter t : terminated) {
                     if (t->spec.restart == restart_type::temporary) erase_child(t);
                   }
                   if (all) {
                     start_from(children_.begin());
                   } else if (auto f = find_key(failed_key)) {
                     start_from(*f);
                   }
                 }));
}

void supervisor_process::start_from(child_iter first) {
  for (auto it = first; it != children_.end(); ++it) {
    if (it->proc) continue;
    if (auto r = start_process(it); !r) {
      if (!it->restarting) {
        otter::detail::log().warn("{} {}: restart of {} failed: {}", behaviour(),
                                  otter::to_string(self()), describe_child(it->spec, {}),
                                  r.err().message);
      }
      schedule_retry(it);  // the rest start with it, on the next attempt
      return;
    }
  }
}

void supervisor_process::schedule_retry(child_iter c) {
  if (!c->restarting) {
    c->restarting = true;
    restarting_.emplace(c->key, c);
  }
  otter::send(self(), supervisor_try_again{c->key});
}

void supervisor_process::handle_info(const supervisor_try_again& t) {
  submit([this, key = t.key] {
    auto it = restarting_.find(key);
    if (it == restarting_.end()) return;  // terminated, deleted or restarted meanwhile
    restart(it->second, "the start of " + describe_child(it->second->spec, {}) + " failed");
  });
}

// ---- terminations ----

void supervisor_process::terminate_then(std::vector<child_iter> order, supervisor_job then) {
  busy_ = true;
  term_.emplace();
  termination& t = *term_;
  t.serial = ++term_serial_;
  t.order = std::move(order);
  t.concurrent = dynamic_;
  t.then = std::move(then);
  for (child_iter c : t.order) c->stopping = true;
  if (!t.concurrent) {
    advance();
    return;
  }
  std::set<std::int64_t> timeouts;
  for (child_iter c : t.order) {
    if (!c->proc) {
      c->stopping = false;
      continue;
    }
    signal(*c);
    const shutdown_policy p = c->spec.effective_shutdown();
    if (!p.is_brutal_kill() && !p.is_infinity()) timeouts.insert(p.time().count());
  }
  for (std::int64_t ms : timeouts) {
    t.timers.push_back(otter::send_after(std::chrono::milliseconds(ms), self(),
                                         supervisor_shutdown_timeout{t.serial, ms}));
  }
  if (t.outstanding == 0) finish_termination();
}

void supervisor_process::signal(child& c) {
  c.signalled = true;
  ++term_->outstanding;
  if (c.spec.effective_shutdown().is_brutal_kill()) {
    c.killed = true;
    otter::exit(c.proc, exit_reason::kill());
  } else {
    otter::exit(c.proc, exit_reason::shutdown());
  }
}

void supervisor_process::advance() {
  termination& t = *term_;
  while (t.next < t.order.size()) {
    child& c = *t.order[t.next++];
    if (!c.proc) {
      c.stopping = false;  // exited while waiting for its turn
      continue;
    }
    signal(c);
    const shutdown_policy p = c.spec.effective_shutdown();
    if (!p.is_brutal_kill() && !p.is_infinity()) {
      t.timer = otter::send_after(
          p.time(), self(),
          supervisor_shutdown_timeout{t.serial, static_cast<std::int64_t>(t.next - 1)});
    }
    return;
  }
  finish_termination();
}

void supervisor_process::child_stopped(child_iter c) {
  const bool was_signalled = c->signalled;
  c->stopping = c->signalled = c->killed = false;
  if (!was_signalled) return;  // exited before its turn: skipped when reached
  termination& t = *term_;
  --t.outstanding;
  if (t.concurrent) {
    if (t.outstanding == 0) finish_termination();
    return;
  }
  if (t.timer != 0) {
    otter::cancel_timer(t.timer);
    t.timer = 0;
  }
  advance();
}

void supervisor_process::handle_info(const supervisor_shutdown_timeout& m) {
  if (!term_ || term_->serial != m.op) return;  // a termination that has finished
  termination& t = *term_;
  auto kill = [this](child& c) {
    if (c.signalled && !c.killed && c.proc) {
      otter::detail::log().warn("{}: {} did not stop within its shutdown time ({} ms); killing it",
                                describe_self(), describe_child(c.spec, c.proc),
                                c.spec.effective_shutdown().time().count());
      c.killed = true;
      otter::exit(c.proc, exit_reason::kill());
    }
  };
  if (!t.concurrent) {
    if (m.arg >= 0 && static_cast<std::size_t>(m.arg) < t.order.size()) kill(*t.order[m.arg]);
    t.timer = 0;
    return;
  }
  for (child_iter c : t.order) {
    const shutdown_policy p = c->spec.effective_shutdown();
    if (!p.is_brutal_kill() && !p.is_infinity() && p.time().count() == m.arg) kill(*c);
  }
}

void supervisor_process::finish_termination() {
  termination t = std::move(*term_);
  term_.reset();
  if (t.timer != 0) otter::cancel_timer(t.timer);
  for (std::uint64_t timer : t.timers) otter::cancel_timer(timer);
  busy_ = false;
  t.then();
  drain();
}

void supervisor_process::drain() {
  if (draining_) return;
  draining_ = true;
  while (!busy_ && !stopping_ && !pending_.empty()) {
    supervisor_job j = std::move(pending_.front());
    pending_.pop_front();
    j();
  }
  draining_ = false;
}

// ---- calls ----

noreply_t supervisor_process::handle_call(start_child_request& r, from& f) {
  submit([this, spec = std::move(r.spec), f = std::move(f)]() mutable {
    if (!spec.start) {
      f.reply_error(error{errc::badarg, describe_child(spec, {}) +
                                            " has no start function (start functions do not "
                                            "cross nodes)"});
      return;
    }
    if (dynamic_) {
      if (max_children_ != 0 && children_.size() >= max_children_) {
        f.reply_error(error{errc::max_children, "dynamic supervisor " + otter::to_string(self()) +
                                                    " already has " +
                                                    std::to_string(max_children_) + " children"});
        return;
      }
    } else if (auto existing = find_id(spec.id)) {
      const child& c = **existing;
      if (c.proc) {
        f.reply_error(error{
            errc::already_started,
            describe_child(c.spec, {}) + " is already started as " + otter::to_string(c.proc)});
      } else {
        f.reply_error(
            error{errc::already_present, describe_child(c.spec, {}) + " is already present"});
      }
      return;
    }
    child_iter c = add_child(std::move(spec));
    if (auto s = start_process(c); !s) {
      erase_child(c);
      f.reply_error(s.err());
      return;
    }
    const pid p = c->proc;
    // `ignore`: a dynamic supervisor (and OTP for temporary children) keeps nothing.
    if (!p && (dynamic_ || c->spec.restart == restart_type::temporary)) erase_child(c);
    f.reply(child_started{p});
  });
  return noreply;
}

noreply_t supervisor_process::handle_call(const terminate_child_request& r, from& f) {
  submit([this, id = r.id, f = std::move(f)]() mutable {
    auto found = dynamic_ ? std::nullopt : find_id(id);
    if (!found) {
      f.reply_error(error{errc::not_found, dynamic_ ? "a dynamic supervisor's children are named "
                                                      "by Pid, not by id ('" +
                                                          id + "')"
                                                    : "no child '" + id + "' under supervisor " +
                                                          otter::to_string(self())});
      return;
    }
    const child_iter c = *found;
    auto done = [this, c](from& waiter) {
      if (c->spec.restart == restart_type::temporary) erase_child(c);
      waiter.reply(ok_reply{});
    };
    if (!c->proc) {
      ++c->incarnation;  // a pending restart decision is void
      if (c->restarting) {
        c->restarting = false;
        restarting_.erase(c->key);
      }
      done(f);
      return;
    }
    terminate_then({c}, supervisor_job([done, f = std::move(f)]() mutable { done(f); }));
  });
  return noreply;
}

noreply_t supervisor_process::handle_call(const terminate_child_pid_request& r, from& f) {
  submit([this, p = r.child, f = std::move(f)]() mutable {
    auto found = by_pid_.find(p);
    if (found == by_pid_.end()) {
      f.reply_error(error{errc::not_found, "no child " + otter::to_string(p) +
                                               " under supervisor " + otter::to_string(self())});
      return;
    }
    const child_iter c = found->second;
    terminate_then({c}, supervisor_job([this, c, f = std::move(f)]() mutable {
                     // Dynamic children are forgotten once terminated; static ones keep their spec.
                     if (dynamic_ || c->spec.restart == restart_type::temporary) erase_child(c);
                     f.reply(ok_reply{});
                   }));
  });
  return noreply;
}

// The static child `id`, not running and not being restarted (what restart_child and
// delete_child need), or nullopt after answering `f` with why not.
std::optional<supervisor_process::child_iter> supervisor_process::stopped_child(
    const std::string& id, from& f) {
  auto found = dynamic_ ? std::nullopt : find_id(id);
  if (!found) {
    f.reply_error(error{errc::not_found,
                        "no child '" + id + "' under supervisor " + otter::to_string(self())});
    return std::nullopt;
  }
  const child_iter c = *found;
  if (c->proc) {
    f.reply_error(error{errc::running, describe_child(c->spec, c->proc) + " is running"});
    return std::nullopt;
  }
  if (c->restarting) {
    f.reply_error(error{errc::restarting, describe_child(c->spec, {}) + " is restarting"});
    return std::nullopt;
  }
  return c;
}

noreply_t supervisor_process::handle_call(const restart_child_request& r, from& f) {
  submit([this, id = r.id, f = std::move(f)]() mutable {
    auto found = stopped_child(id, f);
    if (!found) return;
    const child_iter c = *found;
    if (auto s = start_process(c); !s) {
      f.reply_error(s.err());
      return;
    }
    f.reply(child_started{c->proc});
  });
  return noreply;
}

noreply_t supervisor_process::handle_call(const delete_child_request& r, from& f) {
  submit([this, id = r.id, f = std::move(f)]() mutable {
    auto found = stopped_child(id, f);
    if (!found) return;
    const child_iter c = *found;
    erase_child(c);
    f.reply(ok_reply{});
  });
  return noreply;
}

noreply_t supervisor_process::handle_call(const which_children_request&, from& f) {
  submit([this, f = std::move(f)]() mutable {
    which_children_reply out;
    out.children.reserve(children_.size());
    for (const child& c : children_) out.children.push_back(info_of(c));
    f.reply(std::move(out));
  });
  return noreply;
}

noreply_t supervisor_process::handle_call(const count_children_request&, from& f) {
  submit([this, f = std::move(f)]() mutable {
    child_counts n;
    for (const child& c : children_) {
      ++n.specs;
      if (c.proc) ++n.active;
      if (c.spec.type == child_type::supervisor) {
        ++n.supervisors;
      } else {
        ++n.workers;
      }
    }
    f.reply(n);
  });
  return noreply;
}

noreply_t supervisor_process::handle_call(const stop_supervisor_request& r, from& f) {
  submit([this, reason = r.reason, f = std::move(f)]() mutable {
    shut_down(std::move(reason), std::move(f));
  });
  return noreply;
}

}  // namespace otter::detail
