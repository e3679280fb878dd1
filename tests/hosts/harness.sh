#!/usr/bin/env bash
# Several "hosts" on one machine: each a Linux network namespace with its own address on a
# private subnet (10.213.0.0/24) that exists only inside these namespaces, joined by veth pairs
# to a bridge that lives in a namespace of its own. No traffic leaves the machine; the host's
# own network is not touched. Needs root (CI runs as root) and iproute2.
#
# As a library (scenarios `source` it):
#   hosts_up N                 create hosts 1..N (namespaces $H-1..$H-N, 10.213.0.1..N)
#   host_ip I                  the address of host I
#   on I CMD...                run CMD in host I's namespace
#   node_start I [ARGS...]     otter-node --demo on host I (name hI, port 7000; seed: host 1)
#                              and wait for its READY line; a scenario may redefine
#                              listen_args I / seed_args I (the flags that say where)
#   node_kill I / node_term I  SIGKILL / SIGTERM (and wait for it)
#   ctl I ARGS...              otterctl run on host I against host I's node
#   link_cut I / link_heal I   take host I's link down / up: {I} | the rest
#   block I J / unblock I J    blackhole routes between hosts I and J (both ways)
#   nodes_up I / names_of I / kv_node I   the cluster as host I sees it (through otterctl)
#   client I NAME SEED ARGS... load_client on host I, joining through host SEED
#   report NAME VALUE UNIT     print a figure as `name value unit` (and keep it in $REPORT)
#   hosts_entry ADDR NAME      ADDR NAME in every host's /etc/hosts (ip netns exec bind-mounts
#                              /etc/netns/NS/hosts over /etc/hosts)
#   hosts_down                 kill every process and remove the namespaces and their
#                              /etc/netns files (on EXIT too)
# By hand:  tests/hosts/harness.sh demo 3   (a cluster of 3 hosts; Enter tears it down)
#
# Binaries: $OTTER_NODE_BIN, $OTTERCTL_BIN, $LOAD_CLIENT_BIN (defaults: build/normal/...).
set -euo pipefail

H=${OTTER_HOSTS_PREFIX:-otterh$$}
BR=$H-br
SUBNET=10.213.0
root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OTTER_NODE_BIN=${OTTER_NODE_BIN:-$root_dir/build/normal/tools/otter-node/otter-node}
OTTERCTL_BIN=${OTTERCTL_BIN:-$root_dir/build/normal/tools/otterctl/otterctl}
LOAD_CLIENT_BIN=${LOAD_CLIENT_BIN:-$root_dir/build/normal/tests/load_client}
WORK=$(mktemp -d /tmp/otter-hosts-XXXXXX)
SECRET=$WORK/secret
REPORT=$WORK/report
HOSTS=0
declare -A NODE_PID NODE_OUT

hosts_skip_unless_able() {
  if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
    echo "SKIP: multi-host tests need root and iproute2"
    exit 77
  fi
  if ! ip netns add "$H-probe" 2>/dev/null; then
    echo "SKIP: cannot create network namespaces here"
    exit 77
  fi
  ip netns del "$H-probe"
}

hosts_up() {
  local n=$1 i
  HOSTS=$n
  ip netns add "$BR"
  ip -n "$BR" link add br0 type bridge
  ip -n "$BR" link set br0 up
  ip -n "$BR" link set lo up
  for ((i = 1; i <= n; i++)); do
    ip netns add "$H-$i"
    ip link add "h$$-$i" type veth peer name "b$$-$i"
    ip link set "h$$-$i" netns "$H-$i"
    ip link set "b$$-$i" netns "$BR"
    ip -n "$H-$i" link set "h$$-$i" name eth0
    ip -n "$H-$i" addr add "$SUBNET.$i/24" dev eth0
    ip -n "$H-$i" link set eth0 up
    ip -n "$H-$i" link set lo up
    ip -n "$BR" link set "b$$-$i" master br0
    ip -n "$BR" link set "b$$-$i" up
  done
}

host_ip() { echo "$SUBNET.$1"; }
on() {
  local i=$1
  shift
  ip netns exec "$H-$i" "$@"
}

# The otter-node flags saying where host I listens and which seeds it has (words; a scenario
# may redefine them). By default: its own address, port 7000; seeded by host $SEED_HOST (1).
listen_args() { echo "--listen tcp://$(host_ip "$1"):7000"; }
seed_args() {
  local seed=${SEED_HOST:-1}
  if (($1 != seed)); then echo "--seed tcp://$(host_ip "$seed"):7000"; fi
}

# node_start I [extra otter-node args...]: host 1 seeds the others.
node_start() {
  local i=$1 fd line
  shift
  local args=(--name "h$i" --secret-file "$SECRET" --demo)
  # shellcheck disable=SC2207  # words without spaces, by construction
  args+=($(listen_args "$i") $(seed_args "$i"))
  exec {fd}< <(exec ip netns exec "$H-$i" "$OTTER_NODE_BIN" "${args[@]}" "$@" 2>>"$WORK/h$i.log")
  NODE_PID[$i]=$!
  NODE_OUT[$i]=$fd
  read -r -t 40 -u "$fd" line || { echo "host $i: otter-node printed no READY line" >&2; tail -n 30 "$WORK/h$i.log" >&2; return 1; }
  [[ $line == READY* ]] || { echo "host $i: unexpected: $line" >&2; return 1; }
}

node_kill() {
  local i=$1
  [[ -n ${NODE_PID[$i]:-} ]] || return 0
  kill -9 "${NODE_PID[$i]}" 2>/dev/null || true
  wait "${NODE_PID[$i]}" 2>/dev/null || true
  unset "NODE_PID[$i]"
}

node_term() {
  local i=$1 code=0
  [[ -n ${NODE_PID[$i]:-} ]] || return 0
  kill -TERM "${NODE_PID[$i]}"
  timeout 30 tail --pid="${NODE_PID[$i]}" -f /dev/null || { echo "host $i did not stop" >&2; return 1; }
  wait "${NODE_PID[$i]}" 2>/dev/null || code=$?
  unset "NODE_PID[$i]"
  return "$code"
}

ctl() {
  local i=$1
  shift
  on "$i" timeout 30 "$OTTERCTL_BIN" --node "tcp://$(host_ip "$i"):7000" --secret-file "$SECRET" \
    --connect-timeout 1500 "$@"
}

link_cut() { ip -n "$BR" link set "b$$-$1" down; }
link_heal() { ip -n "$BR" link set "b$$-$1" up; }
block() {
  on "$1" ip route add blackhole "$(host_ip "$2")/32"
  on "$2" ip route add blackhole "$(host_ip "$1")/32"
}
unblock() {
  on "$1" ip route del blackhole "$(host_ip "$2")/32" || true
  on "$2" ip route del blackhole "$(host_ip "$1")/32" || true
}

# json EXPR: evaluates a Python expression over the JSON document on stdin (as `d`).
json() {
  python3 -c "import json,sys; d=json.load(sys.stdin); r=($1); print(r)"
}

# The cluster as host I sees it: how many members are up; the global names as "name=pid" lines.
# (the otter-node hosts, named hN: the scenarios' clients are members too, but not counted)
nodes_up() { ctl "$1" --json nodes | json "sum(1 for n in d if n.get('status') == 'up' and n['name'][0] == 'h')"; }
names_of() { ctl "$1" --json names | json "'|'.join(sorted(e['name'] + '=' + e['pid'] for e in d))"; }
kv_node() { ctl "$1" --json names | json "([e['node'] for e in d if e['name'] == 'kv'] or ['-'])[0]"; }

# Conditions for wait_until (it runs its command again on every try).
up_is() { [[ $(nodes_up "$1") == "$2" ]]; }                     # up_is HOST N
kv_held() { [[ $(kv_node "$1") != - ]]; }                         # kv_held HOST
kv_on() { [[ $(kv_node "$1") == "$2" ]]; }                        # kv_on HOST NODE
kv_moved() { local k; k=$(kv_node "$1"); [[ $k != - && $k != "$2" ]]; }  # kv_moved HOST OLD
kv_keys_over() { [[ $(ctl "$1" call kv '["keys"]' | json 'len(d)') -gt $2 ]]; }
same_names() { [[ $(names_of 1) == "$(names_of 2)" && $(names_of 2) == "$(names_of 3)" ]]; }

# load_client on host I (a member named NAME), more arguments after.
client() {
  local i=$1 name=$2 seed=$3
  shift 3
  on "$i" timeout 600 "$LOAD_CLIENT_BIN" --name "$name" --listen "tcp://$(host_ip "$i"):0" \
    --seed "tcp://$(host_ip "$seed"):7000" --secret-file "$SECRET" "$@"
}
# value NAME FILE: a figure from a `name value unit` report.
value() { awk -v n="$1" '$1 == n { print $2 }' "$2"; }
# client_accounted PREFIX FILE: every call of a load_client report is ok or failed, and no
# successful put is missing.
client_accounted() {
  local made ok failed missing
  made=$(value "${1}calls_made" "$2")
  ok=$(value "${1}calls_ok" "$2")
  failed=$(value "${1}calls_failed" "$2")
  missing=$(value "${1}puts_missing" "$2")
  ((made == ok + failed)) || fail "calls not accounted for: $made != $ok + $failed"
  ((${missing:-0} == 0)) || fail "$missing successful puts are missing from the holder"
}

hosts_entry() {
  local i dir
  for ((i = 1; i <= HOSTS; i++)); do
    dir=/etc/netns/$H-$i
    mkdir -p "$dir"
    [[ -f $dir/hosts ]] || printf '127.0.0.1 localhost\n::1 localhost\n' >"$dir/hosts"
    echo "$1 $2" >>"$dir/hosts"
  done
}

report() {
  echo "$1 $2 $3" | tee -a "$REPORT"
}

now_ms() { date +%s%3N; }

# wait_until SECONDS CMD...: runs CMD (every 100 ms) until it succeeds; fails after SECONDS.
# CMD is run anew each time: give a command or function, not a "$(...)" expanded once.
wait_until() {
  local limit=$1
  shift
  local deadline=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) < deadline)) || return 1
    sleep 0.1
  done
}

fail() {
  echo "FAIL: $*" >&2
  for f in "$WORK"/*.log; do
    [[ -f $f ]] || continue
    echo "--- $f" >&2
    tail -n 15 "$f" >&2
  done
  exit 1
}

hosts_down() {
  local i
  for i in "${!NODE_PID[@]}"; do kill -9 "${NODE_PID[$i]}" 2>/dev/null || true; done
  # Anything else still running in our namespaces (clients, otterctl).
  for ((i = 1; i <= HOSTS; i++)); do
    ip netns pids "$H-$i" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$H-$i" 2>/dev/null || true
    rm -rf "/etc/netns/$H-$i"
  done
  ip netns del "$BR" 2>/dev/null || true
  rm -rf "/etc/netns/$BR"
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap hosts_down EXIT

if [[ ${BASH_SOURCE[0]} == "$0" && ${1:-} == demo ]]; then
  hosts_skip_unless_able
  hosts_up "${2:-3}"
  for ((i = 1; i <= HOSTS; i++)); do node_start "$i"; done
  ctl 1 nodes
  echo "hosts: $(for ((i = 1; i <= HOSTS; i++)); do printf '%s=%s ' "$H-$i" "$(host_ip "$i")"; done)"
  echo "try: sudo ip netns exec $H-2 $OTTERCTL_BIN --node tcp://$(host_ip 2):7000 --secret-file $SECRET names"
  read -r -p "Enter tears the hosts down. " _
fi
