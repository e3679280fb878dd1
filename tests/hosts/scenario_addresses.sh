#!/usr/bin/env bash
# Scenario: addresses and discovery as in a container platform. Hosts 1-3 listen on the
# wildcard tcp://0.0.0.0:7000 and advertise their own address: they form a cluster, and every
# member lists the advertised addresses (never 0.0.0.0). Host 4's only seed is
# dns:otter-seeds:7000, a name with five addresses in the hosts file (the three members, its
# own, which it skips, and one nobody answers on, like a headless service listing a pod not
# ready): it joins, and logs no refusal (it did not knock at itself). Then every
# member but host 4 is killed and started again: host 4, alone, finds them again through the
# name and the cluster is whole. Last, a second node named h2 and a node with another secret
# each exit 1 with a line saying why, never READY. Last, a resolver that does not answer holds
# neither a node's stop nor its start (2 s at most) when its dns: seed's lookup waits on it.
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

# A clean stop does not wait on DNS. h6 (in host 4) joins through dns:otter-slow:7000, in the
# hosts file at first; then the name leaves the file and the node's periodic lookup goes to
# the resolver, a UDP socket in host 4 that logs each query and never answers (each lookup
# would wait 3 x 10 s). Once it has a query, SIGTERM must stop h6 within its drain bound.
hosts_entry "$(host_ip 1)" otter-slow
printf 'nameserver %s\noptions timeout:10 attempts:3\n' "$(host_ip 4)" >"/etc/netns/$H-4/resolv.conf"
: >"$WORK/dns-queries"
on 4 /usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$(host_ip 4)', 53))
while True:
    s.recvfrom(4096)
    with open(sys.argv[1], 'a') as f: f.write('query\n')
" "$WORK/dns-queries" &
# in_host_4 NAME PORT SEED: starts otter-node NAME in host 4; its pid in $pid, stdout on $out.
in_host_4() {
  exec {out}< <(exec ip netns exec "$H-4" "$OTTER_NODE_BIN" --name "$1" --secret-file "$SECRET" \
    --listen "tcp://0.0.0.0:$2" --advertise "tcp://$(host_ip 4):$2" --seed "$3" 2>>"$WORK/$1.log")
  pid=$!
}
# stops_at_once NAME PID FIGURE: SIGTERM stops it with exit 0 well within the drain bound (a 2 s
# drain and the goodbye; the DNS lookup it left behind would take 30 s).
stops_at_once() {
  local t0 stop_ms code=0
  t0=$(now_ms)
  kill -TERM "$2"
  timeout 60 tail --pid="$2" -s 0.05 -f /dev/null || fail "$1 did not stop within 60 s"
  stop_ms=$(($(now_ms) - t0))
  wait "$2" 2>/dev/null || code=$?
  report "$3" "$stop_ms" ms
  [[ $code == 0 ]] || fail "$1 exited $code on SIGTERM, not 0"
  ((stop_ms < 8000)) || fail "$1 took $stop_ms ms to stop: it waited for its DNS lookup"
}
in_host_4 h6 7002 dns:otter-slow:7000
read -r -t 40 -u "$out" line || fail "h6 printed no READY line: $(tail -n 5 "$WORK/h6.log")"
[[ $line == READY* ]] || fail "h6: unexpected: $line"
hosts4=/etc/netns/$H-4/hosts
grep -v ' otter-slow$' "$hosts4" >"$WORK/hosts4"
cat "$WORK/hosts4" >"$hosts4"  # in place: the file ip netns exec bind-mounted
wait_until 30 test -s "$WORK/dns-queries" || fail "h6 never asked the resolver for otter-slow"
stops_at_once h6 "$pid" hosts_stop_while_resolving_ms
# Nor does a start: h7's only seed is a name the resolver never answers for (each lookup would
# take 30 s). It waits for the lookup at most 2 s, starts alone (READY), would join when the
# name resolves, and SIGTERM stops it at once: exit 0.
queries=$(wc -l <"$WORK/dns-queries")
t0=$(now_ms)
in_host_4 h7 7003 dns:otter-nowhere:7000
read -r -t 20 -u "$out" line || fail "h7 printed no READY line in 20 s: it waited for DNS"
[[ $line == READY* ]] || fail "h7: unexpected: $line"
report hosts_ready_while_resolving_ms $(($(now_ms) - t0)) ms
more_queries() { (($(wc -l <"$WORK/dns-queries") > queries)); }
wait_until 30 more_queries || fail "h7 never asked the resolver for otter-nowhere"
stops_at_once h7 "$pid" hosts_stop_while_starting_resolving_ms
echo "PASS"
