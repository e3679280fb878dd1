#!/usr/bin/env bash
# Scenario 2: SIGKILL the node holding `kv` while a client on another host calls it in a loop.
# The client sees errors for at most the detection bound plus the takeover (a standby takes the
# name; the operator restarts the node, which rejoins); every successful call is accounted for.
source "$(dirname "$0")/harness.sh"
hosts_skip_unless_able
hosts_up 4  # host 4 runs the client only
for i in 1 2 3; do node_start "$i" || fail "host $i did not start"; done
wait_until 20 up_is 1 3 || fail "no mesh"
wait_until 20 kv_held 1 || fail "nobody holds kv"
holder=$(kv_node 1)
h=${holder#h}
seed=1
((h == 1)) && seed=2
client 4 client-1 "$seed" --target kv --kv --duration-ms 9000 --timeout-ms 1000 \
  --prefix hosts_kill_ >"$WORK/client.out" 2>>"$WORK/client.log" &
client_pid=$!
wait_until 20 kv_keys_over $seed 10 ||
  fail "the client's calls do not arrive"
kill_ms=$(now_ms)
node_kill "$h"
other=$seed
wait_until 20 kv_moved "$other" "$holder" ||
  fail "no standby took kv over"
report hosts_kill_takeover_ms $(($(now_ms) - kill_ms)) ms
SEED_HOST=$other node_start "$h" || fail "the killed node did not restart"
report hosts_kill_restart_ms $(($(now_ms) - kill_ms)) ms
wait "$client_pid" || fail "the client failed"
cat "$WORK/client.out"
client_accounted hosts_kill_ "$WORK/client.out"
ok=$(value hosts_kill_calls_ok "$WORK/client.out")
window=$(value hosts_kill_error_window_ms "$WORK/client.out")
((ok > 0)) || fail "no call succeeded"
# Bound: failure detection (about 1.7 s) plus the takeover, with slack for a loaded machine.
((window <= 6000)) || fail "error window $window ms is longer than the 6000 ms bound"
wait_until 20 up_is $other 3 || fail "the restarted node did not rejoin"
echo "PASS"
