#include "seed_watch.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "endpoint.hpp"
#include "otter/log.hpp"
#include "otter/node.hpp"

namespace otter::net_detail {

result<std::vector<std::string>> seed_watch::parse_file(const std::string& path) {
  errno = 0;
  std::ifstream in(path);
  if (!in) {
    return error{errc::badarg, "cannot read seeds file " + path +
                                   (errno != 0 ? std::string(": ") + std::strerror(errno) : "")};
  }
  std::vector<std::string> seeds;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    if (auto bad = check_seed(line); bad.code != errc{}) {
      return error{errc::badarg, path + ":" + std::to_string(n) + ": " + bad.message};
    }
    seeds.push_back(line);
  }
  return seeds;
}

struct seed_watch::state {
  state(std::vector<std::string> seeds, std::string file, apply_fn apply)
      : given(std::move(seeds)), file(std::move(file)), apply(std::move(apply)) {}

  void run();
  bool round(bool again);  // a look at the file and (when `again`) DNS; false once stopped
  bool reread_file();      // true when the file changed (and was read)
  // The seed endpoints now (dns: seeds resolved again when `resolve`, left out until resolved
  // when not `lookups`); nothing when stopped while resolving.
  std::optional<std::vector<std::string>> endpoints(bool resolve, bool lookups = true);
  bool stopped() {
    std::lock_guard<std::mutex> l(mutex);
    return stop;
  }

  const std::vector<std::string> given;
  const std::string file;
  const apply_fn apply;
  // The watcher thread's own.
  std::vector<std::string> from_file;
  std::timespec file_mtime{};
  long long file_size = -1;
  std::string file_problem;                                  // the last one logged
  std::map<std::string, std::vector<std::string>> resolved;  // by dns: seed
  std::map<std::string, std::string> resolve_problem;        // the last one logged, by seed
  std::vector<std::string> applied;

  std::mutex mutex;  // protects stop, resolving, first_done
  std::condition_variable changed;
  std::condition_variable first;  // the first round (the first lookups) is done
  bool first_done = false;
  bool stop = false;
  bool resolving = false;  // in getaddrinfo, which may block for the resolver's timeout
};

result<std::unique_ptr<seed_watch>> seed_watch::start(std::vector<std::string> seeds,
                                                      std::string file, apply_fn apply) {
  for (const auto& s : seeds) {
    if (auto bad = check_seed(s); bad.code != errc{}) return bad;
  }
  if (!file.empty()) {
    if (auto first = parse_file(file); !first) return first.err();
  }
  auto st = std::make_shared<state>(std::move(seeds), std::move(file), std::move(apply));
  // The first set before returning: whoever starts the node sees its seeds at once. dns:
  // seeds are looked up on the thread, waited for here for at most dns_first_lookup_wait: a
  // resolver that does not answer delays a start (and a signal during it) no longer than that.
  st->reread_file();
  st->applied = *st->endpoints(false, false);
  st->apply(st->applied);
  std::unique_ptr<seed_watch> w(new seed_watch(st));
  w->thread_ = std::thread([st] { st->run(); });
  std::unique_lock<std::mutex> l(st->mutex);
  st->first.wait_for(l, net_defaults::dns_first_lookup_wait, [&] { return st->first_done; });
  return w;
}

seed_watch::seed_watch(std::shared_ptr<state> s) : s_(std::move(s)) {}

seed_watch::~seed_watch() {
  bool resolving = false;
  {
    std::lock_guard<std::mutex> l(s_->mutex);
    s_->stop = true;
    resolving = s_->resolving;
  }
  s_->changed.notify_all();
  if (!thread_.joinable()) return;
  // Waiting on DNS: it finds `stop` set when getaddrinfo returns, and ends without a word.
  // Otherwise it is waiting for its next round, or busy with a file or with `apply`: short.
  if (resolving) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

bool seed_watch::state::reread_file() {
  if (file.empty()) return false;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    const std::string problem = std::string("cannot read seeds file ") + file + ": " +
                                std::strerror(errno) + "; keeping its last seeds";
    if (problem != file_problem) detail::log().warn("{}", problem);
    file_problem = problem;
    file_size = -1;  // read again when it comes back
    return false;
  }
  if (st.st_mtim.tv_sec == file_mtime.tv_sec && st.st_mtim.tv_nsec == file_mtime.tv_nsec &&
      st.st_size == file_size) {
    return false;
  }
  file_mtime = st.st_mtim;
  file_size = st.st_size;
  auto seeds = parse_file(file);
  if (!seeds) {
    if (seeds.err().message != file_problem) {
      detail::log().warn("{}; keeping its last seeds", seeds.err().message);
    }
    file_problem = seeds.err().message;
    return false;
  }
  file_problem.clear();
  from_file = std::move(*seeds);
  return true;
}

std::optional<std::vector<std::string>> seed_watch::state::endpoints(bool resolve, bool lookups) {
  std::vector<std::string> all = given;
  all.insert(all.end(), from_file.begin(), from_file.end());
  std::vector<std::string> out;
  for (const auto& s : all) {
    const auto d = parse_dns_seed(s);
    if (!d) {
      out.push_back(s);
      continue;
    }
    if (lookups && (resolve || resolved.count(s) == 0)) {
      {
        std::lock_guard<std::mutex> l(mutex);
        if (stop) return std::nullopt;
        resolving = true;
      }
      auto r = resolve_all(*d);
      {
        std::lock_guard<std::mutex> l(mutex);
        resolving = false;
        if (stop) return std::nullopt;  // the owner may be gone: no log, no apply
      }
      std::string& told = resolve_problem[s];
      if (r) {
        if (!told.empty()) detail::log().info("seed {} resolves again", s);
        told.clear();
        resolved[s] = std::move(*r);
      } else {
        if (r.err().message != told) {
          detail::log().warn("seed {}: {}; trying again every {} ms", s, r.err().message,
                             net_defaults::dns_reseed_interval.count());
        }
        told = r.err().message;
        resolved.try_emplace(s);  // keeps the addresses it had
      }
    }
    if (auto it = resolved.find(s); it != resolved.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void seed_watch::state::run() {
  using clock = std::chrono::steady_clock;
  auto next_resolve = clock::now();  // the first lookups at once (start() made none)
  const auto period =
      file.empty() ? net_defaults::dns_reseed_interval
                   : std::min(net_defaults::seeds_file_poll, net_defaults::dns_reseed_interval);
  for (bool first_round = true;; first_round = false) {
    if (!first_round) {
      std::unique_lock<std::mutex> l(mutex);
      if (changed.wait_for(l, period, [&] { return stop; })) return;
    }
    const bool again = clock::now() >= next_resolve;
    if (again) next_resolve = clock::now() + net_defaults::dns_reseed_interval;
    const bool going_on = round(again);
    if (first_round) {
      {
        std::lock_guard<std::mutex> l(mutex);
        first_done = true;
      }
      first.notify_all();
    }
    if (!going_on) return;
  }
}

bool seed_watch::state::round(bool again) {
  const bool file_changed = reread_file();
  if (!file_changed && !again) return true;
  auto now_seeds = endpoints(again);
  if (!now_seeds) return false;  // stopped while resolving
  if (*now_seeds == applied) return true;
  std::string list;
  for (const auto& e : *now_seeds) list += (list.empty() ? "" : " ") + e;
  detail::log().info("seeds are now: {}", list.empty() ? "none" : list);
  applied = *now_seeds;
  // Not resolving: the owner's destructor joins rather than detaches, so `apply` is never
  // called after it returns.
  if (stopped()) return false;
  apply(std::move(*now_seeds));
  return true;
}

}  // namespace otter::net_detail
