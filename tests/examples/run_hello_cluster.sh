#!/usr/bin/env bash
# Runs examples/hello_cluster as its comment says: node a, then node b joining through a; b
# greets greeter@a by name, a greets greeter@b back from its handler. Then SIGTERM to a and
# SIGINT to b (a service manager's stop and a Ctrl-C): each must stop cleanly with exit code 0 (the supervision tree, the registry and the network
# shut down while the program's own scoped_process is still alive).
# Usage: run_hello_cluster.sh PATH/TO/hello_cluster [PATH/TO/another/hello_cluster for b]
# (two builds, e.g. g++ and clang, must understand each other on the wire)
set -euo pipefail
bin=$1
bin_b=${2:-$1}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
export OTTER_SECRET_FILE=$dir/secret  # created by the first node
# Two free ports in a row, outside the kernel's ephemeral range (a random pick collided with a
# port in use once in CI: "Address already in use").
in_use() { ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q .; }
for _ in $(seq 1 50); do
  port=$((20000 + RANDOM % 12000))
  in_use "$port" || in_use "$((port + 1))" || break
done

fail() {
  echo "hello_cluster: $*" >&2
  for f in "$dir"/*.out "$dir"/*.err; do [[ -f $f ]] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  exit 1
}
# wait_for FILE TEXT: a line of the program's output, within 30 s.
wait_for() {
  local deadline=$((SECONDS + 30))
  until grep -qF "$2" "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "no '$2' in $(basename "$1") within 30 s"
    sleep 0.05
  done
}

"$bin" a --listen "tcp://127.0.0.1:$port" >"$dir/a.out" 2>"$dir/a.err" &
pids+=($!)
wait_for "$dir/a.out" "a: up at"
"$bin_b" b --listen "tcp://127.0.0.1:$((port + 1))" --seed "tcp://127.0.0.1:$port" \
  >"$dir/b.out" 2>"$dir/b.err" &
pids+=($!)
wait_for "$dir/b.out" 'b: greeter@a answered "hello b, this is a"'
wait_for "$dir/a.out" "a: greeted by b"
wait_for "$dir/a.out" 'a: greeter@b answered "hello a, this is b"'

signals=(TERM INT)
for i in 0 1; do kill "-${signals[$i]}" "${pids[$i]}"; done
for i in 0 1; do
  code=0
  wait "${pids[$i]}" || code=$?
  name=$([[ $i -eq 0 ]] && echo a || echo b)
  [[ $code -eq 0 ]] || fail "node $name exited with code $code after SIG${signals[$i]}"
done
pids=()
echo "hello_cluster: both nodes greeted each other by name and exited 0 (a on SIGTERM, b on SIGINT)"
