// What the raw ZeroMQ baselines of several groups share (defined in net_bench.cpp): the CURVE
// client keys that `otter-bench zmq-echo --curve` accepts, and the msgpack request it echoes.
#pragma once

#include <cstdint>
#include <string>

#include <zmq.hpp>

namespace otter_bench::net_group {

// Makes `s` a CURVE client of the echo peer's fixed server key.
void curve_client(zmq::socket_t& s);
// A request (sequence number `seq`, a body of `body` bytes), msgpack-encoded.
std::string packed(std::int64_t seq, std::int64_t body = 80);

}  // namespace otter_bench::net_group
