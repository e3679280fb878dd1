#!/usr/bin/env bash
# Scenario 6: 4 clients on 2 hosts make 100,000 calls each to a server on a third host while
# that server's node is killed and restarted: no crash, no call hangs past its timeout, and
# every failed call overlapped the outage.
source "$(dirname "$0")/harness.sh"
hosts_skip_unless_able
hosts_up 5  # hosts 1-3: nodes; 4 and 5: two clients each
CALLS=${OTTER_HOSTS_LOAD_CALLS:-100000}
for i in 1 2 3; do node_start "$i" || fail "host $i did not start"; done
wait_until 20 up_is 1 3 || fail "no mesh"
pids=()
for c in 1 2 3 4; do
  host=$((c <= 2 ? 4 : 5))
  client "$host" "client-$c" 1 --target echo@h3 --calls "$CALLS" --timeout-ms 1000 \
    --prefix "c$c." >"$WORK/client-$c.out" 2>>"$WORK/client-$c.log" &
  pids+=($!)
done
echo_busy() { [[ $(ctl 1 --json ps --node h3 | json "sum(p['handled'] for p in d if p['name'] == '' and p['behaviour'] == 'gen_server')") -gt 2000 ]]; }
wait_until 30 echo_busy ||
  fail "the clients' calls do not arrive"
kill_ms=$(now_ms)
node_kill 3
wait_until 20 up_is 1 2 || fail "the others did not notice"
SEED_HOST=1 node_start 3 || fail "host 3 did not restart"
ready_ms=$(now_ms)
report hosts_load_outage_ms $((ready_ms - kill_ms)) ms
for p in "${pids[@]}"; do wait "$p" || fail "a client failed"; done
total_failed=0
for c in 1 2 3 4; do
  f=$WORK/client-$c.out
  cat "$f"
  made=$(value "c$c.calls_made" "$f")
  ok=$(value "c$c.calls_ok" "$f")
  failed=$(value "c$c.calls_failed" "$f")
  first=$(value "c$c.first_failure_epoch_ms" "$f")
  last=$(value "c$c.last_failure_epoch_ms" "$f")
  max_call=$(value "c$c.max_call_ms" "$f")
  ((made == CALLS && made == ok + failed)) || fail "client $c: $made calls made, $ok ok, $failed failed"
  # No hang: a call returns within its timeout (1000 ms) plus scheduling slack.
  python3 -c "import sys; sys.exit(0 if $max_call <= 1500 else 1)" || fail "client $c: a call took $max_call ms"
  if ((failed > 0)); then
    # Failures only while host 3 was down or its names were coming back (they are registered
    # once its READY line is printed; other members learn them within a round trip).
    ((first >= kill_ms - 100)) || fail "client $c failed before the kill ($first < $kill_ms)"
    ((last <= ready_ms + 2000)) || fail "client $c failed after host 3 was back ($last > $ready_ms)"
  fi
  total_failed=$((total_failed + failed))
done
report hosts_load_calls $((4 * CALLS)) calls
report hosts_load_calls_failed "$total_failed" calls
echo "PASS"
