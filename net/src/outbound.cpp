#include "outbound.hpp"

#include <algorithm>
#include <utility>

#include "otter/node.hpp"

namespace otter::net_detail {

thread_local bool tl_serving = false;

outbound_queue::~outbound_queue() {
  discard();
}

bool outbound_queue::push(std::unique_ptr<out_item> item) {
  add_bytes(item->bytes.size());
  return q_.push(item.release()) == detail::inbox::push_result::queued_wake;
}

void outbound_queue::sub_bytes(std::size_t n) noexcept {
  // Never below zero, whatever the order of concurrent adds and subtractions.
  std::size_t cur = bytes_.load(std::memory_order_relaxed);
  while (!bytes_.compare_exchange_weak(cur, cur - std::min(cur, n), std::memory_order_relaxed)) {
  }
}

void outbound_queue::drain(const io_token&,
                           const std::function<void(std::unique_ptr<out_item>)>& take,
                           const std::function<void()>& after_round) {
  for (int rounds = 0; rounds < 4; ++rounds) {
    detail::envelope* list = q_.take_all();
    while (list != nullptr) {
      detail::envelope* next = list->next;
      list->next = nullptr;
      take(std::unique_ptr<out_item>(static_cast<out_item*>(list)));
      list = next;
    }
    after_round();
    if (q_.try_block()) break;  // empty: the next push wakes us
  }
}

void outbound_queue::discard() noexcept {
  while (detail::envelope* e = q_.take_all()) {
    while (e != nullptr) {
      detail::envelope* next = e->next;
      delete e;
      e = next;
    }
  }
}

bool send_buffer::append(const msgpack::sbuffer& bytes) {
  batch_.append(bytes.data(), bytes.size());
  return batch_.size() >= net_defaults::batch_bytes;
}

bool send_buffer::would_overflow(std::size_t bytes) const noexcept {
  return !batch_.empty() &&
         batch_.size() + bytes > static_cast<std::size_t>(net_defaults::max_message_bytes);
}

void send_buffer::hold(std::unique_ptr<out_item> item) {
  held_bytes_ += item->bytes.size();
  held_.push_back(std::move(item));
}

std::vector<std::unique_ptr<out_item>> send_buffer::take_held() noexcept {
  held_bytes_ = 0;
  return std::exchange(held_, {});
}

void send_buffer::flush(const sender& send) {
  if (batch_.empty()) return;
  if (backlog_.empty() && send(batch_) != send_status::would_block) {
    // Sent (the socket copied it) or unreachable (dropped with the peer): the buffer keeps
    // its memory for the next frame (a new one grew to 64 KiB again, copy by copy, per frame),
    // unless a large message made it larger than two batches.
    if (batch_.capacity() > 2 * net_defaults::batch_bytes) {
      std::string().swap(batch_);
    } else {
      batch_.clear();
    }
    return;
  }
  backlog_bytes_ += batch_.size();
  backlog_.push_back(std::exchange(batch_, std::string()));
}

bool send_buffer::retry(const sender& send) {
  while (!backlog_.empty() && send(backlog_.front()) != send_status::would_block) {
    backlog_bytes_ -= backlog_.front().size();
    backlog_.pop_front();
  }
  return backlog_.empty();
}

void send_buffer::clear(outbound_queue& queue) {
  std::string().swap(batch_);  // and its memory: the link is gone
  backlog_.clear();
  backlog_bytes_ = 0;
  for (const auto& item : held_) queue.sub_bytes(item->bytes.size());
  held_.clear();
  held_bytes_ = 0;
}

}  // namespace otter::net_detail
