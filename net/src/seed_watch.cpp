#include "seed_watch.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

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

result<std::unique_ptr<seed_watch>> seed_watch::start(std::vector<std::string> seeds,
                                                      std::string file, apply_fn apply) {
  for (const auto& s : seeds) {
    if (auto bad = check_seed(s); bad.code != errc{}) return bad;
  }
  if (!file.empty()) {
    if (auto first = parse_file(file); !first) return first.err();
  }
  std::unique_ptr<seed_watch> w(
      new seed_watch(std::move(seeds), std::move(file), std::move(apply)));
  // The first set before returning: whoever starts the node sees its seeds at once.
  w->reread_file();
  w->applied_ = w->endpoints(true);
  w->apply_(w->applied_);
  w->thread_ = std::thread([p = w.get()] { p->run(); });
  return w;
}

seed_watch::seed_watch(std::vector<std::string> seeds, std::string file, apply_fn apply)
    : given_(std::move(seeds)), file_(std::move(file)), apply_(std::move(apply)) {}

seed_watch::~seed_watch() {
  {
    std::lock_guard<std::mutex> l(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool seed_watch::reread_file() {
  if (file_.empty()) return false;
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) {
    const std::string problem = std::string("cannot read seeds file ") + file_ + ": " +
                                std::strerror(errno) + "; keeping its last seeds";
    if (problem != file_problem_) detail::log().warn("{}", problem);
    file_problem_ = problem;
    file_size_ = -1;  // read again when it comes back
    return false;
  }
  if (st.st_mtim.tv_sec == file_mtime_.tv_sec && st.st_mtim.tv_nsec == file_mtime_.tv_nsec &&
      st.st_size == file_size_) {
    return false;
  }
  file_mtime_ = st.st_mtim;
  file_size_ = st.st_size;
  auto seeds = parse_file(file_);
  if (!seeds) {
    if (seeds.err().message != file_problem_) {
      detail::log().warn("{}; keeping its last seeds", seeds.err().message);
    }
    file_problem_ = seeds.err().message;
    return false;
  }
  file_problem_.clear();
  from_file_ = std::move(*seeds);
  return true;
}

std::vector<std::string> seed_watch::endpoints(bool resolve) {
  std::vector<std::string> all = given_;
  all.insert(all.end(), from_file_.begin(), from_file_.end());
  std::vector<std::string> out;
  for (const auto& s : all) {
    const auto d = parse_dns_seed(s);
    if (!d) {
      out.push_back(s);
      continue;
    }
    if (resolve || resolved_.count(s) == 0) {
      auto r = resolve_all(*d);
      std::string& told = resolve_problem_[s];
      if (r) {
        if (!told.empty()) detail::log().info("seed {} resolves again", s);
        told.clear();
        resolved_[s] = std::move(*r);
      } else {
        if (r.err().message != told) {
          detail::log().warn("seed {}: {}; trying again every {} ms", s, r.err().message,
                             net_defaults::dns_reseed_interval.count());
        }
        told = r.err().message;
        resolved_.try_emplace(s);  // keeps the addresses it had
      }
    }
    const auto& addrs = resolved_[s];
    out.insert(out.end(), addrs.begin(), addrs.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void seed_watch::run() {
  using clock = std::chrono::steady_clock;
  auto next_resolve = clock::now() + net_defaults::dns_reseed_interval;
  const auto period =
      file_.empty() ? net_defaults::dns_reseed_interval
                    : std::min(net_defaults::seeds_file_poll, net_defaults::dns_reseed_interval);
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mutex_);
      if (changed_.wait_for(l, period, [&] { return stop_; })) return;
    }
    const bool file_changed = reread_file();
    const bool resolve = clock::now() >= next_resolve;
    if (resolve) next_resolve = clock::now() + net_defaults::dns_reseed_interval;
    if (!file_changed && !resolve) continue;
    auto now_seeds = endpoints(resolve);
    if (now_seeds == applied_) continue;
    std::string list;
    for (const auto& e : now_seeds) list += (list.empty() ? "" : " ") + e;
    detail::log().info("seeds are now: {}", list.empty() ? "none" : list);
    applied_ = now_seeds;
    apply_(std::move(now_seeds));
  }
}

}  // namespace otter::net_detail
