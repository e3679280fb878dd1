#!/usr/bin/env bash
# Scenario: addresses and discovery as in a container platform. Hosts 1-3 listen on the
# wildcard tcp://0.0.0.0:7000 and advertise their own address: they form a cluster, and every
# member lists the advertised addresses (never 0.0.0.0). Host 4's only seed is
# dns:otter-seeds:7000, a name with five addresses in the hosts file (the three members, its
# own, which it skips, and one nobody answers on, like a headless service listing a pod not
# ready): it joins, and logs no refusal (it did not knock at itself). Then every
# member but host 4 is killed and started again: host 4, alone, finds them again through the
# name and the cluster is whole. Last, a second node named h2 and a node with another secret
# each exit 1 with a line saying why, never READY.
source "$(dirname "$0")/harness.sh"
hosts_skip_unless_able
hosts_up 4
listen_args() { echo "--listen tcp://0.0.0.0:7000 --advertise tcp://$(host_ip "$1"):7000"; }
seed_args() {
  if (($1 == 4)); then
    echo "--seed dns:otter-seeds:7000"
  elif (($1 != 1)); then
    echo "--seed tcp://$(host_ip 1):7000"
  fi
}
for i in 1 2 3 4 99; do hosts_entry "$(host_ip "$i")" otter-seeds; done

t0=$(now_ms)
for i in 1 2 3; do node_start "$i" || fail "host $i did not start"; done
for i in 1 2 3; do wait_until 20 up_is $i 3 || fail "host $i does not see 3 nodes"; done
report hosts_wildcard_converged_ms $(($(now_ms) - t0)) ms
endpoints=$(ctl 2 --json nodes | json "' '.join(sorted(n['endpoint'] for n in d))")
want="tcp://$(host_ip 1):7000 tcp://$(host_ip 2):7000 tcp://$(host_ip 3):7000"
[[ $endpoints == "$want" ]] || fail "members listed at '$endpoints', not '$want'"

resolved=$(on 4 getent ahostsv4 otter-seeds | awk '$2 == "STREAM" { print $1 }' | sort | xargs)
[[ $resolved == "$(host_ip 1) $(host_ip 2) $(host_ip 3) $(host_ip 4) $(host_ip 99)" ]] ||
  fail "otter-seeds resolves to '$resolved' in host 4"
t0=$(now_ms)
node_start 4 || fail "host 4 (seed dns:otter-seeds:7000) did not start"
for i in 1 4; do wait_until 20 up_is $i 4 || fail "host $i does not see 4 nodes"; done
report hosts_dns_seed_joined_ms $(($(now_ms) - t0)) ms
! grep -i "refused" "$WORK/h4.log" || fail "host 4 was refused (did it knock at itself?)"
reply=$(ctl 4 call echo@h2 '"via dns"') || fail "call from host 4 to h2 failed"
[[ $reply == '"via dns"' ]] || fail "unexpected reply: $reply"

# Host 4 loses every member; they come back knowing nothing of it.
for i in 1 2 3; do node_kill "$i"; done
wait_until 20 up_is 4 1 || fail "host 4 still sees the killed members"
t0=$(now_ms)
for i in 1 2 3; do node_start "$i" || fail "host $i did not restart"; done
for i in 1 4; do wait_until 30 up_is $i 4 || fail "host $i does not see 4 nodes after the restart"; done
report hosts_rejoined_after_losing_all_ms $(($(now_ms) - t0)) ms

# Misconfigured nodes fail loudly (exit 1, a line that says why, never READY): host 4 starts a
# second node under h2's name, then one whose secret is not the cluster's.
misconfigured() {  # misconfigured NAME SECRET_FILE LOG: its exit code; stdout in $WORK/$NAME.out
  local code=0
  on 4 timeout 60 "$OTTER_NODE_BIN" --name "$1" --secret-file "$2" --listen tcp://0.0.0.0:7001 \
    --advertise "tcp://$(host_ip 4):7001" --seed "tcp://$(host_ip 1):7000" \
    >"$WORK/$1.out" 2>"$3" || code=$?
  echo "$code"
}
t0=$(now_ms)
code=$(misconfigured h2 "$SECRET" "$WORK/dup.err")
report hosts_duplicate_name_exit_ms $(($(now_ms) - t0)) ms
[[ $code == 1 ]] || fail "a second node named h2 exited $code, not 1: $(cat "$WORK/dup.err")"
! grep -q READY "$WORK/h2.out" || fail "a second node named h2 printed READY"
grep -q "already in use" "$WORK/dup.err" || fail "no 'already in use' line: $(cat "$WORK/dup.err")"
t0=$(now_ms)
code=$(misconfigured h5 "$WORK/another-secret" "$WORK/wrong.err")  # created: another secret
report hosts_wrong_secret_exit_ms $(($(now_ms) - t0)) ms
[[ $code == 1 ]] || fail "a node with another secret exited $code, not 1: $(cat "$WORK/wrong.err")"
! grep -q READY "$WORK/h5.out" || fail "a node with another secret printed READY"
grep -q "wrong secret" "$WORK/wrong.err" || fail "no 'wrong secret' line: $(cat "$WORK/wrong.err")"
wait_until 10 up_is 1 4 || fail "the cluster is not whole after the misconfigured nodes"
echo "PASS"
