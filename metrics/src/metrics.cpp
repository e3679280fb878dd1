#include "otter/metrics.hpp"

#include <cstdint>
#include <string_view>

#include <fmt/format.h>

#include "otter/global.hpp"

namespace otter {

namespace {

// A label value: backslash, double quote and newline escaped (the format's only escapes).
std::string label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP otter_{} {}\n# TYPE otter_{} {}\n", name, help,
                   name, type);
  }
  template <class T>
  void sample(std::string_view name, T value, std::string_view labels = {}) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(out_), "otter_{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(out_), "otter_{}{{{}}} {}\n", name, labels, value);
    }
  }
  template <class T>
  void one(std::string_view name, std::string_view type, std::string_view help, T value) {
    family(name, type, help);
    sample(name, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string metrics_text(const node& n) {
  const runtime& rt = n.rt();
  const runtime_stats rs = rt.stats();
  const runtime_metrics rm = rt.metrics();
  const net_stats ns = n.stats();
  const net_metrics nm = n.metrics();
  const auto peers = n.peers();
  std::size_t visible = 0;
  for (const auto& p : peers) visible += p.hidden ? 0 : 1;

  exposition e;
  e.family("node_info", "gauge", "This node: its name and incarnation (creation).");
  e.sample("node_info", 1,
           fmt::format("node=\"{}\",creation=\"{}\"", label(n.name()), n.creation()));
  e.one("uptime_seconds", "gauge", "Time since the node's runtime started.",
        static_cast<double>(rs.uptime_ms) / 1000.0);
  e.one("processes", "gauge", "Live processes.", rs.processes);
  e.one("processes_spawned_total", "counter", "Processes started.", rs.spawned);
  e.one("processes_exited_total", "counter", "Processes that exited.", rs.exited);
  e.one("messages_handled_total", "counter", "Messages handled by processes (calls included).",
        rs.messages_handled);
  e.one("messages_dropped_total", "counter", "Messages sent to dead or unknown processes.",
        rs.messages_dropped);
  e.one("mailbox_drops_total", "counter", "Messages refused at a process's mailbox limit.",
        rm.mailbox_overflows);
  e.one("calls_handled_total", "counter", "Calls handled by processes.", rs.calls_handled);

  e.family("call_duration_seconds", "histogram",
           "Time a process took to handle a call, from dispatch to the handler's return.");
  const auto& h = rm.call_times;
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < h.counts.size(); ++b) {
    cumulative += h.counts[b];
    const std::string le = b < call_time_histogram::bounds_us.size()
                               ? fmt::format("{}", call_time_histogram::bounds_us[b] / 1e6)
                               : std::string("+Inf");
    e.sample("call_duration_seconds_bucket", cumulative, fmt::format("le=\"{}\"", le));
  }
  e.sample("call_duration_seconds_sum", static_cast<double>(h.sum_ns) / 1e9);
  e.sample("call_duration_seconds_count", cumulative);

  e.one("supervisor_restarts_total", "counter", "Children restarted by supervisors.", rs.restarts);
  e.one("messages_in_total", "counter", "Envelopes received from other nodes.", ns.envelopes_in);
  e.one("messages_out_total", "counter", "Envelopes sent to other nodes.", ns.envelopes_out);
  e.one("bytes_in_total", "counter", "Bytes of frames received from other nodes.", ns.bytes_in);
  e.one("bytes_out_total", "counter", "Bytes of frames sent to other nodes.", ns.bytes_out);
  e.family("peer_bytes_in_total", "counter", "Bytes of frames received from a visible member.");
  for (const auto& p : nm.peers) {
    e.sample("peer_bytes_in_total", p.bytes_in, fmt::format("peer=\"{}\"", label(p.node)));
  }
  e.family("peer_bytes_out_total", "counter", "Bytes of frames sent to a visible member.");
  for (const auto& p : nm.peers) {
    e.sample("peer_bytes_out_total", p.bytes_out, fmt::format("peer=\"{}\"", label(p.node)));
  }
  e.one("peers_up", "gauge", "Visible members connected.", visible);
  e.one("hidden_peers_up", "gauge", "Hidden peers (tools) connected.", peers.size() - visible);
  e.one("handshakes_rejected_total", "counter", "Refused handshakes and protocol violations.",
        ns.rejected);
  e.one("shed_total", "counter",
        "Messages dropped for peers that do not take what is sent to them (back-pressure).",
        ns.shed);
  e.one("failure_detector_suspicions_total", "counter",
        "Members found silent for the failure timeout, or probed after a report or a loss.",
        nm.suspicions);
  e.one("failure_detector_health", "gauge",
        "Local health: 0 healthy; the failure timeout is multiplied by 1 + this.", nm.health);
  registry_stats reg;
  if (auto g = global_registry::of(rt)) reg = g->stats();
  e.one("registry_names", "gauge", "Global names in this node's replica.", reg.names);
  e.one("registry_conflicts_total", "counter", "Global name conflicts resolved here.",
        reg.conflicts);
  return e.take();
}

}  // namespace otter
