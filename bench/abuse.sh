#!/usr/bin/env bash
# How a node answers an operator while a client abuses it (issue 16's acceptance): a demo node
# (`otter-node --demo`), tests/tools/abuse_client.py MODE against it for SECS seconds (noread: a
# client calling `echo` as fast as it can and never reading a reply; casts: casts to `counter`
# as fast as it can; big: a 65 MiB call to `echo` twice a second, over the 64 MiB frame limit),
# and `otterctl ping` every 0.25 s meanwhile. Prints `name value unit`:
#   otter_abuse_MODE_ping_max_ms   the slowest round trip otterctl reports (its own start
#                                  excluded), otter_abuse_MODE_ping_p50_ms the median
#   otter_abuse_MODE_ping_failed   pings that got no answer
#   otter_abuse_MODE_rss_max_mib   the node's largest resident size seen
# Usage: bench/abuse.sh [BUILD_DIR] (default build/release; MODES="noread casts big", SECS=10);
# needs /usr/bin/python3 with python3-zmq and python3-msgpack. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
node=$build/tools/otter-node/otter-node
ctl=$build/tools/otterctl/otterctl
for b in "$node" "$ctl"; do
  [[ -x $b ]] || { echo "abuse.sh: $b is not built" >&2; exit 2; }
done
secs=${SECS:-10}
work=$(mktemp -d /tmp/otter-abuse.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for mode in ${MODES:-noread casts big}; do
  "$node" --name abuse-node --listen tcp://127.0.0.1:0 --secret-file "$work/secret" --demo \
    --log-level warn >"$work/out" 2>"$work/err" &
  np=$!
  pids+=("$np")
  for _ in $(seq 100); do grep -q READY "$work/out" && break; sleep 0.1; done
  ep=$(awk '/^READY/ {print $3}' "$work/out")
  [[ -n $ep ]] || { echo "abuse.sh: the node did not start: $(cat "$work/err")" >&2; exit 1; }
  case $mode in
    noread | big) target=echo@abuse-node ;;
    casts) target=counter@abuse-node ;;
    *) echo "abuse.sh: unknown mode $mode" >&2; exit 2 ;;
  esac
  /usr/bin/python3 tests/tools/abuse_client.py "$mode" "$ep" "$work/secret" "$target" "$secs" \
    >"$work/abuse.out" 2>&1 &
  ap=$!
  pids+=("$ap")
  for _ in $(seq 100); do grep -q WELCOMED "$work/abuse.out" && break; sleep 0.1; done
  : >"$work/pings"
  max_rss=0 failed=0
  end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    if r=$(timeout 10 "$ctl" --secret-file "$work/secret" --node "$ep" --json ping abuse-node \
      2>/dev/null); then
      echo "$r" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rtt_ms"])' \
        >>"$work/pings"
    else
      failed=$((failed + 1))
    fi
    rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$np/status")
    ((rss > max_rss)) && max_rss=$rss
    sleep 0.25
  done
  kill "$ap" 2>/dev/null || true
  kill "$np"
  wait "$np" || true
  sort -g "$work/pings" | awk -v m="$mode" '{v[NR] = $1}
    END {printf "otter_abuse_%s_ping_max_ms %.2f ms\notter_abuse_%s_ping_p50_ms %.2f ms\n",
         m, v[NR], m, v[int((NR + 1) / 2)]}'
  echo "otter_abuse_${mode}_ping_failed $failed pings"
  echo "otter_abuse_${mode}_rss_max_mib $max_rss MiB"
done
