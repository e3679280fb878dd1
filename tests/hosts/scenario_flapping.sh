#!/usr/bin/env bash
# Scenario 4: host 1's link goes down and up 10 times over 20 s. The cluster ends fully
# connected, with the same names everywhere (no duplicate or stale ones) and no leaked
# processes.
source "$(dirname "$0")/harness.sh"
hosts_skip_unless_able
hosts_up 3
for i in 1 2 3; do node_start "$i" || fail "host $i did not start"; done
for i in 1 2 3; do wait_until 20 up_is $i 3 || fail "no mesh"; done
wait_until 20 kv_held 1 || fail "nobody holds kv"
procs() { ctl "$1" --json ps --node "h$1" | json 'len(d)'; }
declare -A before
for i in 1 2 3; do before[$i]=$(procs "$i"); done
names_before=$(names_of 1)
for round in $(seq 10); do
  link_cut 1
  sleep 1.6  # the flapping itself: a link down for about the failure-detection bound
  link_heal 1
  sleep 0.4
done
heal_ms=$(now_ms)
for i in 1 2 3; do wait_until 30 up_is $i 3 || fail "host $i: no full mesh"; done
wait_until 30 same_names || fail "the hosts do not agree on the names"
report hosts_flapping_converged_ms $(($(now_ms) - heal_ms)) ms
names_after=$(names_of 1)
count=$(ctl 1 --json names | json 'len(d)')
[[ $count == 10 ]] || fail "expected 10 names (echo, counter, kv@ per host and kv), got $count: $names_after"
for n in $(ctl 1 --json names | json "' '.join(e['pid'] for e in d)"); do
  ctl 2 info "$n" >/dev/null || fail "name held by $n, which does not answer (stale)"
done
for i in 1 2 3; do
  after=$(procs "$i")
  [[ $after == "${before[$i]}" ]] || fail "host $i had ${before[$i]} processes, now $after"
done
report hosts_flapping_names $count names
echo "PASS"
