#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <otter/detail/mailbox.hpp>

#include "test_servers.hpp"

using otter::detail::consumed_count;
using otter::detail::envelope;
using otter::detail::inbox;
using otter::detail::sig;

namespace {
std::vector<std::int64_t> drain(inbox& box) {
  std::vector<std::int64_t> out;
  envelope* e = box.take_all();
  while (e) {
    envelope* next = e->next;
    out.push_back(static_cast<std::int64_t>(e->ref));
    delete e;
    e = next;
  }
  return out;
}
envelope* make(std::uint64_t ref) {
  auto* e = new envelope(sig::info);
  e->ref = ref;
  return e;
}
}  // namespace

TEST_CASE("the inbox hands out messages oldest first") {
  inbox box;
  consumed_count consumed;
  for (std::uint64_t i = 0; i < 5; ++i) CHECK(box.push(make(i)) == inbox::push_result::queued);
  CHECK(box.length(consumed) == 5);
  CHECK(drain(box) == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  CHECK(box.length(consumed) == 5);  // taken, not yet handled
  consumed.add(5);
  CHECK(box.length(consumed) == 0);
}

TEST_CASE("a sender finds the inbox at its limit exactly, though it reads the count late") {
  // at_limit answers from the last consumer count a sender read while far from the limit, and
  // reads the count again near it: never a message refused below the limit, nor let in at it.
  inbox box;
  consumed_count consumed;
  for (std::uint64_t i = 0; i < 3; ++i) box.push(make(i));
  CHECK_FALSE(box.at_limit(4, consumed));
  box.push(make(3));
  CHECK(box.at_limit(4, consumed));
  consumed.add(2);                         // two handled since the count was read
  CHECK_FALSE(box.at_limit(4, consumed));  // read again: 2 queued
  CHECK(box.length(consumed) == 2);
  box.push(make(4));
  CHECK_FALSE(box.at_limit(4, consumed));  // 3
  box.push(make(5));
  CHECK(box.at_limit(4, consumed));  // 4
  consumed.add(4);
  CHECK_FALSE(box.at_limit(1, consumed));  // empty: under any limit
  CHECK(box.length(consumed) == 0);
  CHECK(drain(box).size() == 6);
}

TEST_CASE("exactly the push that finds the inbox blocked wakes the consumer") {
  inbox box;
  CHECK(box.try_block());
  CHECK(box.push(make(1)) == inbox::push_result::queued_wake);
  CHECK(box.push(make(2)) == inbox::push_result::queued);
  CHECK_FALSE(box.try_block());  // not empty
  CHECK(drain(box) == std::vector<std::int64_t>{1, 2});
  CHECK(box.try_block());
}

TEST_CASE("a closed inbox refuses pushes and returns what was queued") {
  inbox box;
  box.push(make(1));
  envelope* rest = box.close();
  REQUIRE(rest != nullptr);
  CHECK(rest->ref == 1);
  delete rest;
  envelope* e = make(2);
  CHECK(box.push(e) == inbox::push_result::closed);
  delete e;
  CHECK(box.closed());
}

TEST_CASE("concurrent producers keep their own order and lose nothing") {
  inbox box;
  constexpr int producers = 4;
  constexpr int per_producer = 20000;
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&box, p] {
      for (int i = 0; i < per_producer; ++i) box.push(make(std::uint64_t(p) << 32 | unsigned(i)));
    });
  }
  std::vector<std::int64_t> next(producers, 0);
  int received = 0;
  while (received < producers * per_producer) {
    for (auto v : drain(box)) {
      const int p = static_cast<int>(v >> 32);
      const int i = static_cast<int>(v & 0xffffffff);
      REQUIRE(i == next[p]);
      ++next[p];
      ++received;
    }
  }
  for (auto& t : threads) t.join();
  CHECK(received == producers * per_producer);
}
