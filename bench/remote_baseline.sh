#!/usr/bin/env bash
# otter's remote call figures beside Erlang's and raw ZeroMQ's, in one run: `otter-bench net`
# (which measures raw ZeroMQ itself) and bench/erlang/remote_bench.erl (2 nodes each, on this
# machine only: 127.0.0.1 and epmd bound to it), interleaved REPS times.
# Usage: bench/remote_baseline.sh [OTTER_BENCH_BINARY]   (REPS=3 by default; needs erlang-base)
# Prints every sample as `name value unit`, then the medians and the ratios issue 17 asks for.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/erlang/interleave.sh
interleave remote_baseline "${1:-build/release/bench/otter-bench}" net remote_bench
echo "# medians of $reps"
for name in $(awk '{print $1}' "$work/samples" | sort -u); do
  echo "$name $(median "$name") $(grep -m1 "^$name " "$work/samples" | awk '{print $3}')"
done
ratio() {  # ratio NAME A B: median(A) / median(B)
  awk -v a="$(median "$2")" -v b="$(median "$3")" -v n="$1" 'BEGIN {printf "%s %.2f x\n", n, a / b}'
}
echo "# ratios (targets: call <= 1.0x Erlang and <= 1.15x raw; cast >= 0.8x raw push; concurrent >= 1x Erlang)"
ratio ratio_call_otter_over_erlang otter_remote_call_us erl_remote_call_us
ratio ratio_call_otter_over_raw otter_remote_call_us raw_zmq_rtt_us
ratio ratio_cast_otter_over_raw_push otter_remote_cast_per_s raw_zmq_push_per_s
ratio ratio_concurrent_otter_over_erlang otter_remote_call_concurrent_per_s erl_remote_call_concurrent_per_s
ratio ratio_call_64k_otter_over_erlang otter_remote_call_64k_us erl_remote_call_64k_us
ratio ratio_call_64k_otter_over_raw otter_remote_call_64k_us raw_zmq_rtt_64k_us
ratio ratio_call_p999_otter_over_erlang otter_remote_call_p999_us erl_remote_call_p999_us
