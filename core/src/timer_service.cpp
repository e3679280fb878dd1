#include "timer_service.hpp"

#include <utility>

#include "otter/runtime.hpp"

namespace otter::detail {

namespace {
constexpr std::uint32_t npos = ~std::uint32_t{0};
}

// ---- timer_heap ----

void timer_heap::place(std::size_t i, timer_node* n) noexcept {
  heap_[i] = n;
  n->heap_index.store(static_cast<std::uint32_t>(i), std::memory_order_relaxed);
}

void timer_heap::sift_up(std::size_t i) noexcept {
  timer_node* n = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline <= n->deadline) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, n);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  timer_node* n = heap_[i];
  const std::size_t size = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap_[child + 1]->deadline < heap_[child]->deadline) ++child;
    if (n->deadline <= heap_[child]->deadline) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, n);
}

void timer_heap::push(timer_node* n) {
  heap_.push_back(n);
  sift_up(heap_.size() - 1);
}

void timer_heap::remove(timer_node* n) noexcept {
  std::size_t i = n->heap_index.load(std::memory_order_relaxed);
  n->heap_index.store(npos, std::memory_order_relaxed);
  timer_node* last = heap_.back();
  heap_.pop_back();
  if (last == n) return;
  place(i, last);
  sift_down(i);
  sift_up(last->heap_index.load(std::memory_order_relaxed));
}

std::uint64_t timer_heap::start(timer_clock::time_point deadline, const pid& to, envelope_ptr e) {
  auto node = std::make_unique<timer_node>();
  node->deadline = deadline;
  node->target = to;
  node->message = std::move(e);
  const std::uint64_t id = next_id_++;
  node->id = id;
  timer_node* raw = node.get();
  owned_.emplace(id, std::move(node));
  push(raw);
  return id;
}

bool timer_heap::cancel(std::uint64_t id) {
  auto it = owned_.find(id);
  if (it == owned_.end()) return false;
  if (it->second->armed()) remove(it->second.get());
  owned_.erase(it);
  return true;
}

void timer_heap::arm(timer_node& n) {
  if (n.armed()) remove(&n);
  push(&n);
}

void timer_heap::disarm(timer_node& n) noexcept {
  if (n.armed()) remove(&n);
}

timer_clock::time_point timer_heap::next() const noexcept {
  return heap_.empty() ? timer_clock::time_point::max() : heap_.front()->deadline;
}

void timer_heap::take_due(timer_clock::time_point now,
                          std::vector<std::pair<pid, envelope_ptr>>& out) {
  while (!heap_.empty() && heap_.front()->deadline <= now) {
    timer_node* n = heap_.front();
    remove(n);
    if (n->id != 0) {
      auto it = owned_.find(n->id);
      out.emplace_back(n->target, std::move(n->message));
      owned_.erase(it);
    } else {
      auto e = std::make_unique<envelope>(sig::call_timeout);
      e->ref = n->ref;
      out.emplace_back(n->target, std::move(e));
    }
  }
}

void timer_heap::clear() noexcept {
  for (timer_node* n : heap_) n->heap_index.store(npos, std::memory_order_relaxed);
  heap_.clear();
  owned_.clear();
}

// ---- threaded_timers ----

threaded_timers::threaded_timers(runtime& rt) : rt_(rt), thread_([this] { run(); }) {}

threaded_timers::~threaded_timers() {
  stop();
}

void threaded_timers::stop() {
  {
    std::lock_guard<std::mutex> l(mutex_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> l(mutex_);
  heap_.clear();
}

void threaded_timers::wake_if_earlier(timer_clock::time_point deadline) {
  if (deadline < wake_at_) {
    wake_at_ = deadline;
    cv_.notify_one();
  }
}

std::uint64_t threaded_timers::start(timer_clock::time_point deadline, const pid& to,
                                     envelope_ptr e) {
  std::lock_guard<std::mutex> l(mutex_);
  if (stop_) return 0;
  const std::uint64_t id = heap_.start(deadline, to, std::move(e));
  wake_if_earlier(deadline);
  return id;
}

bool threaded_timers::cancel(std::uint64_t id) {
  std::lock_guard<std::mutex> l(mutex_);
  return heap_.cancel(id);
}

void threaded_timers::arm(timer_node& n) {
  std::lock_guard<std::mutex> l(mutex_);
  if (stop_) return;
  heap_.arm(n);
  wake_if_earlier(n.deadline);
}

void threaded_timers::disarm(timer_node& n) noexcept {
  std::lock_guard<std::mutex> l(mutex_);
  heap_.disarm(n);
}

void threaded_timers::run() {
  std::vector<std::pair<pid, envelope_ptr>> due;
  std::unique_lock<std::mutex> l(mutex_);
  while (!stop_) {
    heap_.take_due(timer_clock::now(), due);
    if (!due.empty()) {
      l.unlock();
      for (auto& [to, e] : due) detail::deliver(rt_, to, std::move(e));
      due.clear();
      l.lock();
      continue;
    }
    wake_at_ = heap_.next();
    if (wake_at_ == timer_clock::time_point::max()) {
      cv_.wait(l);
    } else {
      cv_.wait_until(l, wake_at_);
    }
  }
}

// ---- manual_timers ----

void manual_timers::stop() {
  stopped_ = true;
  heap_.clear();
}

std::uint64_t manual_timers::start(timer_clock::time_point deadline, const pid& to,
                                   envelope_ptr e) {
  if (stopped_) return 0;
  return heap_.start(deadline, to, std::move(e));
}

std::size_t manual_timers::fire_due(timer_clock::time_point now) {
  std::vector<std::pair<pid, envelope_ptr>> due;
  heap_.take_due(now, due);
  for (auto& [to, e] : due) detail::deliver(rt_, to, std::move(e));
  return due.size();
}

}  // namespace otter::detail
