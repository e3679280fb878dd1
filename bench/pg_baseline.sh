#!/usr/bin/env bash
# otter's pg figures beside Erlang's, in one run: otter-bench pg and bench/erlang/pg_bench.erl
# (3 nodes each, on this machine only: 127.0.0.1 and epmd bound to it), interleaved REPS times.
# Usage: bench/pg_baseline.sh [OTTER_BENCH_BINARY]   (REPS=3 by default; needs erlang-base)
# Prints every sample as `name value unit` and the ratios of the medians at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${1:-build/release/bench/otter-bench}
reps=${REPS:-3}
[[ -x $bench ]] || { echo "pg_baseline: $bench is not built (cmake --build ... --target otter-bench)" >&2; exit 2; }
command -v erlc >/dev/null || { echo "pg_baseline: needs Erlang (apt-get install erlang-base)" >&2; exit 2; }
work=$(mktemp -d /tmp/otter-pg-baseline.XXXXXX)
trap 'rm -rf "$work"' EXIT
erlc -o "$work" bench/erlang/pg_bench.erl
export ERL_EPMD_ADDRESS=127.0.0.1
epmd -names >/dev/null 2>&1 || epmd -daemon -address 127.0.0.1
for ((r = 1; r <= reps; r++)); do
  timeout 300 "$bench" pg 2>/dev/null | tee -a "$work/samples"
  timeout 300 erl -noshell -sname "pgbench$$_$r@localhost" -setcookie otterbench \
    -kernel inet_dist_use_interface '{127,0,0,1}' -pa "$work" -s pg_bench main | tee -a "$work/samples"
done
median() { grep "^$1 " "$work/samples" | awk '{print $2}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "# medians of $reps: broadcast otter/erlang, join visible in round trips"
awk -v o="$(median otter_pg_broadcast_per_s)" -v e="$(median erl_pg_broadcast_per_s)" \
  'BEGIN {printf "ratio_pg_broadcast_otter_over_erlang %.2f x\n", o / e}'
awk -v j="$(median otter_pg_join_visible_us)" -v t="$(median otter_pg_rtt_us)" \
  'BEGIN {printf "otter_pg_join_visible_rtts %.2f rtt\n", j / t}'
awk -v j="$(median erl_pg_join_visible_us)" -v t="$(median erl_pg_rtt_us)" \
  'BEGIN {printf "erl_pg_join_visible_rtts %.2f rtt\n", j / t}'
