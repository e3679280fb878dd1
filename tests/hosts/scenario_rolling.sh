#!/usr/bin/env bash
# Scenario 5: every node restarted (SIGTERM, start again), one at a time, while a client calls
# `kv` by name: each restart costs a bounded error window, and the cluster converges.
source "$(dirname "$0")/harness.sh"
hosts_skip_unless_able
hosts_up 4
for i in 1 2 3; do node_start "$i" || fail "host $i did not start"; done
wait_until 20 up_is 1 3 || fail "no mesh"
wait_until 20 kv_held 1 || fail "nobody holds kv"
client 4 client-r 1 --target kv --kv --duration-ms 600000 --stop-file "$WORK/stop" --timeout-ms 1000 \
  --prefix hosts_rolling_ >"$WORK/client.out" 2>>"$WORK/client.log" &
client_pid=$!
wait_until 20 kv_keys_over 2 10 || fail "no calls arrive"
t0=$(now_ms)
for i in 1 2 3; do
  node_term "$i" || fail "host $i did not stop cleanly"
  seed=$((i == 1 ? 2 : 1))
  SEED_HOST=$seed node_start "$i" || fail "host $i did not restart"
  wait_until 30 up_is $seed 3 || fail "host $i did not rejoin"
  wait_until 20 kv_held "$seed" || fail "kv has no holder after restarting host $i"
done
report hosts_rolling_total_ms $(($(now_ms) - t0)) ms
wait_until 30 same_names || fail "the hosts do not agree on the names"
report hosts_rolling_converged_ms $(($(now_ms) - t0)) ms
touch "$WORK/stop"
wait "$client_pid" || fail "the client failed"
cat "$WORK/client.out"
client_accounted hosts_rolling_ "$WORK/client.out"
window=$(value hosts_rolling_max_failure_window_ms "$WORK/client.out")
# A clean stop releases kv at once: a standby takes it within a few round trips.
((window <= 6000)) || fail "a restart cost $window ms of errors (bound 6000 ms)"
echo "PASS"
