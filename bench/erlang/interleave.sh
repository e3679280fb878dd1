# Sourced by bench/*_baseline.sh: runs `otter-bench GROUP` and bench/erlang/MODULE.erl (its
# Erlang nodes on this machine only: 127.0.0.1 and epmd bound to it) interleaved $REPS times,
# every sample appended to $work/samples and printed; `median NAME` reads them back.
# Usage (after `cd` to the project root): interleave WHO BENCH_BINARY GROUP MODULE
interleave() {
  local who=$1 bench=$2 group=$3 module=$4 r
  reps=${REPS:-3}
  [[ -x $bench ]] || { echo "$who: $bench is not built (cmake --build ... --target otter-bench)" >&2; exit 2; }
  command -v erlc >/dev/null || { echo "$who: needs Erlang (apt-get install erlang-base)" >&2; exit 2; }
  work=$(mktemp -d "/tmp/otter-$who.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  erlc -o "$work" "bench/erlang/$module.erl"
  export ERL_EPMD_ADDRESS=127.0.0.1
  epmd -names >/dev/null 2>&1 || epmd -daemon -address 127.0.0.1
  for ((r = 1; r <= reps; r++)); do
    timeout 300 "$bench" "$group" 2>/dev/null | tee -a "$work/samples"
    timeout 300 erl -noshell -sname "${module//_/}$$_$r@localhost" -setcookie otterbench \
      -kernel inet_dist_use_interface '{127,0,0,1}' -pa "$work" -s "$module" main |
      tee -a "$work/samples"
  done
}
median() { grep "^$1 " "$work/samples" | awk '{print $2}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
