// Every tunable default of the runtime, with its unit and why it has this value.
#pragma once

#include <chrono>
#include <cstdint>

namespace otter::defaults {

// gen_server's default call timeout, as in OTP (5 s).
inline constexpr std::chrono::milliseconds call_timeout{5000};

// Messages a process handles in one activation before it goes to the back of the run queue:
// small enough that a flooded process cannot starve others, large enough to batch.
inline constexpr int activation_budget = 64;

// A running process takes its shared inbox at least every this many messages, besides when
// it has handled what it took before and while it awaits a reply: often enough that an exit
// signal waits behind few messages, rarely enough that the receiver leaves the cache line its
// senders write alone (docs/ARCHITECTURE.md).
inline constexpr int inbox_take_every = 16;

// A process that has handled its messages, on a worker with nothing else to run, looks at its
// inbox linger_polls times, linger_poll_pauses pause instructions apart (~1.3 us on this
// machine's Xeon), before it goes idle: a stream of messages from another core then costs no
// block and wake-up per lull, and the sender keeps the inbox's cache line between the looks.
inline constexpr int linger_polls = 2;
inline constexpr int linger_poll_pauses = 64;
// On such a worker, a process whose last take of its inbox brought more than one message but
// fewer than this (a stream, the receiver faster than its sender) waits linger_poll_pauses
// before the next take.
inline constexpr std::uint32_t linger_batch = 32;

// Consecutive runs from a worker's "next" slot before it looks at its queue again: the slot
// keeps a call's ping-pong on one core, this bound keeps the queue from starving.
inline constexpr int next_slot_streak = 16;

// Every this many scheduling decisions a worker serves the shared queue (work from timers,
// the network and outside threads) before its own, so local work cannot starve it (Go: 61).
inline constexpr unsigned inject_check_interval = 31;

// Sends by one activation after which a newly scheduled process is offered to an idle worker
// (wakes one): a handler that sends a lot runs in parallel with its receivers; a call's single
// request does not pay for a thread wake-up (~18 us on this VM).
inline constexpr int spread_after_sends = 8;

// While a worker runs handlers and no worker serves the network, a parked worker looks every
// this long whether the network has been served since; if not, it serves it. A handler that
// runs for seconds, or a process working through a backlog from another node, cannot leave
// the node's heartbeats unanswered (its peers would declare it down), unless the node has one
// worker or all its workers run such handlers (node_options::workers). Only while a worker is
// busy: an idle node keeps its parked workers parked.
inline constexpr std::chrono::milliseconds io_watch_period{5};

// Rounds an idle worker polls the run queues before it parks (~20-40 us): cheaper than a
// futex wake-up when work arrives soon after.
inline constexpr int idle_spin_rounds = 512;
// The same on a node with a network: its cores also run ZeroMQ's I/O thread.
inline constexpr int idle_spin_rounds_networked = 16;

// A handler sending to other nodes has its queue flushed every this many sends (one frame of
// many envelopes instead of a thread wake-up per message).
inline constexpr int network_flush_every = 256;

// Longest a worker serving the network blocks in its poll before looking around again (work
// and sends wake it at once; the network's own timers bound it further: its next tick). Not
// shorter: every wake-up of an idle node costs CPU, times every node of a large cluster.
inline constexpr std::chrono::milliseconds io_wait_max{1000};

// Messages (not signals) a process's mailbox holds at most on a node with a network
// (node_options::mailbox_limit); beyond it the newest are dropped, counted and logged (a call
// fails at once with mailbox_full). Other nodes can send faster than a process handles: a
// flood of casts must cost a bounded amount of memory (a queued message is a few hundred
// bytes: 100,000 of them, tens of MB), and a process that falls 100,000 messages behind is
// not catching up. A runtime without a network keeps Erlang's default, unlimited.
inline constexpr std::uint32_t mailbox_limit = 100000;
// start_options::mailbox_limit for a process whose mailbox has no limit on any runtime.
inline constexpr std::uint32_t unlimited_mailbox = 0xFFFFFFFF;

// At most one log line per period per process (or peer) about the messages it made us drop,
// with the count since the last: a flood must not become a flood of log lines.
inline constexpr std::chrono::milliseconds drop_log_period{1000};

// Name of a node that has not been given one.
inline constexpr const char* node_name = "nonode";

}  // namespace otter::defaults
