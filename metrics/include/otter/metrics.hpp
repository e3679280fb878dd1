// A node's metrics as Prometheus text: otter::metrics_text(node) returns them in the text
// exposition format (version 0.0.4), for the application to serve however it serves HTTP
// (otter-node serves it at /metrics with --metrics tcp://HOST:PORT).
//
//   http_server.get("/metrics", [&] { return reply(otter::metrics_content_type,
//                                                  otter::metrics_text(node)); });
//
// Every figure is read from counters the node keeps anyway (relaxed atomics, summed over the
// worker threads): rendering costs a pass over the node's peers and no message; nothing on
// the message path waits for it. Counters (`_total`) count since the node started; a figure
// is consistent on its own, not with the others (each is read separately). Any thread, any
// time, also after the node has shut down. The families, all prefixed `otter_`:
//
//   node_info{node,creation}             gauge 1, labels saying which node this is
//   uptime_seconds                        gauge
//   processes                             gauge: live processes
//   processes_spawned_total, processes_exited_total
//   messages_handled_total                messages handled by this node's processes
//   messages_dropped_total                sent to dead or unknown processes
//   mailbox_drops_total                   refused at a process's mailbox limit
//   calls_handled_total                   calls handled by this node's processes
//   call_duration_seconds                 histogram: a call's handling, dispatch to the
//                                         handler's return (runtime_metrics)
//   supervisor_restarts_total             children restarted by this node's supervisors
//   messages_in_total, messages_out_total envelopes from and to other nodes
//   bytes_in_total, bytes_out_total       frames from and to other nodes (tools included)
//   peer_bytes_in_total{peer}, peer_bytes_out_total{peer}   the same per visible member
//   peers_up                              gauge: visible members connected
//   hidden_peers_up                       gauge: hidden peers (tools such as otterctl)
//   handshakes_rejected_total             refused handshakes and protocol violations
//   failure_detector_suspicions_total     net_metrics::suspicions
//   failure_detector_health               gauge: net_metrics::health (local health, 0-8)
//   registry_names                        gauge: global names in this node's replica
//   registry_conflicts_total              name conflicts resolved here
#pragma once

#include <string>

#include "otter/node.hpp"

namespace otter {

// The HTTP Content-Type of metrics_text's format.
inline constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

std::string metrics_text(const node& n);

}  // namespace otter
