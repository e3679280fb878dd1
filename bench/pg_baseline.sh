#!/usr/bin/env bash
# otter's pg figures beside Erlang's, in one run: otter-bench pg and bench/erlang/pg_bench.erl
# (3 nodes each, on this machine only: 127.0.0.1 and epmd bound to it), interleaved REPS times.
# Usage: bench/pg_baseline.sh [OTTER_BENCH_BINARY]   (REPS=3 by default; needs erlang-base)
# Prints every sample as `name value unit` and the ratios of the medians at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/erlang/interleave.sh
interleave pg_baseline "${1:-build/release/bench/otter-bench}" pg pg_bench
echo "# medians of $reps: broadcast otter/erlang, join visible in round trips"
awk -v o="$(median otter_pg_broadcast_per_s)" -v e="$(median erl_pg_broadcast_per_s)" \
  'BEGIN {printf "ratio_pg_broadcast_otter_over_erlang %.2f x\n", o / e}'
awk -v j="$(median otter_pg_join_visible_us)" -v t="$(median otter_pg_rtt_us)" \
  'BEGIN {printf "otter_pg_join_visible_rtts %.2f rtt\n", j / t}'
awk -v j="$(median erl_pg_join_visible_us)" -v t="$(median erl_pg_rtt_us)" \
  'BEGIN {printf "erl_pg_join_visible_rtts %.2f rtt\n", j / t}'
