#!/usr/bin/env bash
# Scenario 1: three hosts, one node each, joined through one seed. `otterctl nodes` from every
# host shows all three; a server registered on host 1 is called by name from host 3.
source "$(dirname "$0")/harness.sh"
hosts_skip_unless_able
hosts_up 3
t0=$(now_ms)
for i in 1 2 3; do node_start "$i" || fail "host $i did not start"; done
for i in 1 2 3; do
  wait_until 20 up_is $i 3 || fail "host $i does not see 3 nodes"
done
report hosts_mesh_converged_ms $(($(now_ms) - t0)) ms
ctl 2 nodes
reply=$(ctl 3 call echo@h1 '"hello from host 3"') || fail "call by name from host 3 failed"
[[ $reply == '"hello from host 3"' ]] || fail "unexpected reply: $reply"
report hosts_mesh_call_by_name_ok 1 calls
echo "PASS"
