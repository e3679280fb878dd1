// Internal: a node's seeds as they change while it runs. dns:NAME:PORT seeds are resolved
// again every net_defaults::dns_reseed_interval (all the time: a pod that restarts under the
// same service comes back at another address); a seeds file is read again when its mtime or
// size changes (looked at every net_defaults::seeds_file_poll). Each time the set of seed
// endpoints differs from the last one, `apply` gets the whole set (the transport's set_seeds).
// A thread of its own, as getaddrinfo blocks: the I/O owner never waits on DNS. A name that
// does not resolve (for now) keeps the addresses it had; a bad line in the file, read again,
// is logged and skipped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <otter/error.hpp>

namespace otter::net_detail {

class seed_watch {
 public:
  using apply_fn = std::function<void(std::vector<std::string>)>;
  // `seeds`: those given (tcp:// and dns:); `file`: "" for none. Reads the file once first: an
  // unreadable file, or a line that is not a seed, is an error.
  static result<std::unique_ptr<seed_watch>> start(std::vector<std::string> seeds, std::string file,
                                                   apply_fn apply);
  // Lines of a seeds file: one seed a line, '#' to the end of a line a comment. An error
  // names the first bad line.
  static result<std::vector<std::string>> parse_file(const std::string& path);
  // Stops the watcher at once, even while it waits on DNS (a resolver that does not answer
  // holds getaddrinfo for its timeout, ~10 s, which a clean stop must not wait out): the
  // thread is then left to finish its lookup alone, touching only the state it shares, and
  // never applies anything again. `apply` is not called once this returns.
  ~seed_watch();
  seed_watch(const seed_watch&) = delete;
  seed_watch& operator=(const seed_watch&) = delete;

 private:
  struct state;  // what the watcher thread uses: shared with it, as it may outlive this object
  explicit seed_watch(std::shared_ptr<state> s);

  std::shared_ptr<state> s_;
  std::thread thread_;
};

}  // namespace otter::net_detail
