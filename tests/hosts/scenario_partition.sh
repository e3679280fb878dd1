#!/usr/bin/env bash
# Scenario 3: partition {1} | {2, 3}. Both sides keep serving; each side has its own `kv`
# holder during the split; after the heal exactly one registration survives on every host (the
# lower node name's: h1) and the loser is told (its log says it lost the name).
source "$(dirname "$0")/harness.sh"
hosts_skip_unless_able
hosts_up 3
for i in 1 2 3; do node_start "$i" || fail "host $i did not start"; done
wait_until 20 up_is 1 3 || fail "no mesh"
wait_until 20 kv_held 1 || fail "nobody holds kv"
cut_ms=$(now_ms)
link_cut 1
wait_until 20 up_is 1 1 || fail "host 1 still sees the others"
wait_until 20 up_is 2 2 || fail "hosts 2 and 3 still see host 1"
report hosts_partition_detected_ms $(($(now_ms) - cut_ms)) ms
# Both sides serve, and both have a kv holder of their own.
[[ $(ctl 1 call echo@h1 '"a"') == '"a"' ]] || fail "side {1} does not serve"
[[ $(ctl 2 call echo@h3 '"b"') == '"b"' ]] || fail "side {2,3} does not serve"
wait_until 20 kv_on 1 h1 || fail "side {1} has no kv"
wait_until 20 kv_held 2 || fail "side {2,3} has no kv"
side_b=$(kv_node 2)
[[ $side_b != h1 ]] || fail "side {2,3} still lists h1 for kv"
ctl 1 call kv '["put","side","one"]' >/dev/null || fail "kv on side {1} does not answer"
ctl 2 call kv '["put","side","two"]' >/dev/null || fail "kv on side {2,3} does not answer"
echo "during the split: kv on h1 (side {1}) and on $side_b (side {2,3})"
heal_ms=$(now_ms)
link_heal 1
for i in 1 2 3; do wait_until 30 up_is $i 3 || fail "host $i: no full mesh"; done
converged() { [[ $(names_of 1) == "$(names_of 2)" && $(names_of 2) == "$(names_of 3)" && $(kv_node 1) == h1 ]]; }
wait_until 30 converged || fail "the hosts do not agree on the names after the heal"
report hosts_partition_converged_ms $(($(now_ms) - heal_ms)) ms
for i in 1 2 3; do
  count=$(ctl "$i" --json names | json "sum(1 for e in d if e['name'] == 'kv')")
  [[ $count == 1 ]] || fail "host $i lists kv $count times"
done
wait_until 10 grep -q "lost 'kv'" "$WORK/$side_b.log" || fail "the loser on $side_b was not told"
grep -h "lost 'kv'" "$WORK/$side_b.log"
[[ $(ctl 3 call kv '["get","side"]') == '"one"' ]] || fail "kv is not side {1}'s after the heal"
echo "PASS"
