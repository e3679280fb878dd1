// Internal: the I/O owner rule in the type system. A node's sockets, its peer table and its
// connections have one user at a time: the thread inside the transport's service() or wait()
// (the worker holding the runtime's I/O token), or the simulator's thread. Only the transport
// makes an io_token, in those functions, and everything that touches that state takes one, so
// calling it from anywhere else does not compile.
#pragma once

namespace otter {
class transport;
}

namespace otter::net_detail {

class io_token {
 public:
  io_token(const io_token&) = delete;
  io_token& operator=(const io_token&) = delete;

 private:
  friend class otter::transport;
  io_token() = default;
};

}  // namespace otter::net_detail
