#!/usr/bin/env bash
# The demo: a three-node cluster on this machine. Each node runs a `greeter` server and greets
# the others' greeters by name; then one node is killed with SIGKILL and the others notice.
# Installs missing Debian packages first. Ends by itself (about 15 s).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DOTTER_BUILD_BENCH=OFF >/dev/null
cmake --build build/demo -j "$(nproc)" --target hello_cluster >/dev/null
bin=build/demo/examples/hello_cluster

dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
export OTTER_SECRET_FILE=$dir/secret   # created (mode 0600, random) by the first node

base=$((20000 + RANDOM % 30000))
start() {  # start NAME PORT [SEED_PORT]
  "$bin" "$@" > "$dir/$1.log" 2> "$dir/$1.err" &
  pids+=($!)
}
wait_for() {  # wait_for FILE TEXT SECONDS
  for _ in $(seq $((${3} * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: timed out waiting for '$2' in $1" >&2
  cat "$dir"/*.err >&2
  return 1
}

echo "== starting node-a, node-b and node-c on 127.0.0.1:$base..$((base + 2)) (b and c join through a)"
start node-a "$base"
wait_for "$dir/node-a.log" "listening" 10
start node-b $((base + 1)) "$base"
start node-c $((base + 2)) "$base"
for n in a b c; do wait_for "$dir/node-$n.log" "this is" 20; done
sleep 0.5
for n in a b c; do echo "-- node-$n:"; cat "$dir/node-$n.log"; done

echo
echo "== kill -9 node-c"
{ kill -9 "${pids[2]}"; wait "${pids[2]}"; } 2>/dev/null || true
for n in a b; do wait_for "$dir/node-$n.log" "nodedown node-c" 10; done
for n in a b; do echo "-- node-$n:"; grep "nodedown" "$dir/node-$n.log"; done

echo
echo "== stopping node-a and node-b (SIGTERM: clean shutdown, node-b sees node-a leave at once)"
kill -TERM "${pids[0]}"
wait_for "$dir/node-b.log" "nodedown node-a" 10
grep "nodedown node-a" "$dir/node-b.log"
kill -TERM "${pids[1]}"
wait "${pids[0]}" "${pids[1]}" 2>/dev/null || true
echo "== demo finished"
