#!/usr/bin/env bash
# The demo: a three-node cluster of `otter-node --demo` on this machine, looked at and used with
# otterctl. Keys go into the global `kv` through a node that does not hold it; then the node
# holding `kv` is killed with SIGKILL, the others notice (failure detection, about 1.7 s) and a
# standby takes `kv` over, empty: the demo kv store does not replicate its data.
# Installs missing Debian packages first. Every step is bounded in time; children are always
# cleaned up; any step that fails (an otterctl command included) fails the demo.
# OTTER_DEMO_BUILD_DIR: an existing build directory to use, as configured (default: build/demo,
# configured as a Release build).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
build=${OTTER_DEMO_BUILD_DIR:-build/demo}
if [[ -z ${OTTER_DEMO_BUILD_DIR:-} ]]; then
  timeout 120 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DOTTER_BUILD_BENCH=OFF >/dev/null
elif [[ ! -f $build/CMakeCache.txt ]]; then  # someone's build directory: keep its settings
  timeout 120 cmake -S . -B "$build" >/dev/null
fi
timeout 3600 cmake --build "$build" -j "$(nproc)" --target otter-node otterctl >/dev/null
node_bin=$build/tools/otter-node/otter-node
ctl_bin=$build/tools/otterctl/otterctl

dir=$(mktemp -d)
declare -A pid_of
cleanup() {
  for p in "${pid_of[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
secret=$dir/secret  # created (mode 0600, random) by the first node, shared by the others
base=$((20000 + RANDOM % 30000))
port_of() { case $1 in node-a) echo "$base" ;; node-b) echo $((base + 1)) ;; *) echo $((base + 2)) ;; esac; }

fail() {
  echo "demo: $*" >&2
  for f in "$dir"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
  exit 1
}
# start NAME [SEED_NAME]: runs otter-node, then reads its READY line (no polling: a read with a
# deadline on its stdout).
start() {
  local name=$1 args
  args=(--name "$name" --listen "tcp://127.0.0.1:$(port_of "$name")" --secret-file "$secret" --demo)
  [[ $# -gt 1 ]] && args+=(--seed "tcp://127.0.0.1:$(port_of "$2")")
  local fd
  exec {fd}< <(exec "$node_bin" "${args[@]}" 2>"$dir/$name.log")
  pid_of[$name]=$!
  out_of[$name]=$fd
}
declare -A out_of
wait_ready() {  # wait_ready NAME
  local line
  read -r -t 30 -u "${out_of[$1]}" line || fail "$1 printed no READY line within 30 s"
  echo "  $line"
}
# wait_log NAME TEXT SECONDS: the cluster noticing something, seen in a node's log (bounded).
wait_log() {
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$dir/$1.log"; do
    ((SECONDS < deadline)) || fail "timed out waiting for '$2' in $1's log"
    sleep 0.1
  done
}
ctl() {  # ctl NODE_NAME otterctl-arguments...
  local node=$1
  shift
  echo "\$ otterctl --node tcp://127.0.0.1:$(port_of "$node") ${*@Q}"
  timeout 20 "$ctl_bin" --node "tcp://127.0.0.1:$(port_of "$node")" --secret-file "$secret" "$@" |
    sed 's/^/  /' || fail "otterctl $* failed"
}

echo "== starting node-a, node-b, node-c with --demo on 127.0.0.1:$base..$((base + 2)) (b and c join through a)"
start node-a
wait_ready node-a
start node-b node-a
start node-c node-a
wait_ready node-b
wait_ready node-c
# READY means joined through the seed; b and c meet each other a moment later (the seed tells
# each of the other): the demo calls node-c's servers through node-b.
wait_log node-b "member node node-c is up" 10
wait_log node-c "member node node-b is up" 10
holder=$(grep -l "holds the global name 'kv'" "$dir"/*.log | head -n 1 | xargs -r basename | sed 's/\.log$//')
[[ -n $holder ]] || fail "no node holds kv"
other=node-b
[[ $holder == node-b ]] && other=node-c
echo "  $holder holds the global name kv; the kv servers of the others are standbys"

echo
echo "== putting keys into kv through $other (which does not hold it), and looking at the cluster"
ctl "$other" call kv '["put","a","apple"]'
ctl "$other" call kv '["put","b",{"n":2}]'
ctl "$other" call kv '["get","a"]'
ctl "$other" call kv '["keys"]'
ctl "$other" call counter@node-c '["incr",5]'
ctl "$other" state counter@node-c
ctl "$other" groups
ctl "$other" nodes
ctl "$other" names
ctl "$other" tree

echo
echo "== kill -9 $holder (it holds kv)"
kill -9 "${pid_of[$holder]}"
wait "${pid_of[$holder]}" 2>/dev/null || true
unset "pid_of[$holder]"
wait_log "$other" "node $holder is down" 10
grep -h "node $holder is down (" "$dir/$other.log" | sed 's/^/  /'
new_holder=
deadline=$((SECONDS + 10))
until [[ -n $new_holder ]]; do
  for n in node-a node-b node-c; do
    [[ $n != "$holder" ]] && grep -q "kv@$n: holds the global name 'kv'" "$dir/$n.log" && new_holder=$n
  done
  [[ -n $new_holder ]] && break
  ((SECONDS < deadline)) || fail "no standby took kv over within 10 s"
  sleep 0.1
done
echo "  $new_holder's kv server took the global name kv over"
ctl "$other" nodes
ctl "$other" names
echo "  (kv answers from its new holder; 'a' is gone: the demo kv store does not replicate)"
ctl "$other" call kv '["get","a"]'

echo
echo "== stopping the others with SIGTERM (clean: tree stopped, names released, exit code 0)"
for n in "${!pid_of[@]}"; do kill -TERM "${pid_of[$n]}"; done
for n in "${!pid_of[@]}"; do
  code=0
  timeout 30 tail --pid="${pid_of[$n]}" -f /dev/null || fail "$n did not stop within 30 s"
  wait "${pid_of[$n]}" 2>/dev/null || code=$?
  echo "  $n exited with code $code"
  [[ $code -eq 0 ]] || fail "$n exited with code $code"
  unset "pid_of[$n]"
done
echo "== demo finished"
