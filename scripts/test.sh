#!/usr/bin/env bash
# Builds and runs every test: a Release build with g++ (every target, warnings as errors),
# its tests, the multi-host scenarios, the README demo and the installed library used by a
# separate project; a Release build with clang (every target, warnings as errors) and its
# tests; then ASan+UBSan, TSan (the concurrency tests) and the fuzzers. Installs missing Debian
# packages first.
# Usage: scripts/test.sh            (from anywhere; builds under build/)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
jobs=$(nproc)
started=$SECONDS
phase() { echo "=== $* ($((SECONDS - started)) s so far) ==="; }

build() {  # build NAME CMAKE_ARGS... (every target; BUILD_TARGETS="a b": only those)
  local name=$1; shift
  phase "$name build"
  cmake -S . -B "build/$name" -DOTTER_WERROR=ON "$@" >/dev/null
  # shellcheck disable=SC2086  # a list of target names
  cmake --build "build/$name" -j "$jobs" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
}
run_tests() {  # run_tests NAME CTEST_ARGS...
  local name=$1; shift
  phase "$name tests"
  ctest --test-dir "build/$name" --output-on-failure --timeout 900 "$@"
}

build release -DCMAKE_BUILD_TYPE=Release
run_tests release -LE hosts
# The multi-host scenarios (network namespaces; root only, skipped otherwise), with the
# figures each one reports.
phase "hosts tests"
set +e
ctest --test-dir build/release -L hosts --timeout 900 -V >build/release/hosts.log 2>&1
hosts_rc=$?
set -e
grep -E '^[0-9]+: (hosts_[a-z_]+|c[0-9]\.[a-z_]+) [0-9.-]+ [a-z/]+$|^[0-9]+: (PASS|FAIL|SKIP).*|Test +#' \
  build/release/hosts.log || true
if ((hosts_rc != 0)); then
  tail -n 80 build/release/hosts.log
  exit "$hosts_rc"
fi
# The README's demo (a 3-node cluster driven with otterctl), on the Release build.
phase "demo"
OTTER_DEMO_BUILD_DIR=build/release timeout 600 scripts/demo.sh
# The library as a user gets it: installed, found by a separate project, glibc malloc.
phase "consumer"
scripts/consumer_test.sh build/release

build clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++
run_tests clang -LE "hosts|compile|sim"
# A g++ node and a clang node understand each other (wire names, codec).
tests/examples/run_hello_cluster.sh build/release/examples/hello_cluster build/clang/examples/hello_cluster

# Only what its tests and the consumer's install need (the header checks, the compile tests and
# the simulator are the Release builds' work), with line tables only (-g1: the stack traces
# keep their file:line; ~15 % less compile time than -g).
BUILD_TARGETS=test_programs \
  build asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DOTTER_SANITIZE=address \
  -DOTTER_BUILD_BENCH=OFF
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_tests asan -LE "hosts|compile|sim"
phase "consumer (ASan)"
scripts/consumer_test.sh build/asan "-fsanitize=address,undefined"
unset ASAN_OPTIONS UBSAN_OPTIONS

# Only what the concurrency-labelled tests run (their helper binaries come as dependencies).
BUILD_TARGETS=concurrency_test_programs \
  build tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
  -DOTTER_SANITIZE=thread -DOTTER_BUILD_BENCH=OFF
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" \
  run_tests tsan -L concurrency

# Fuzzing: the frame decoder and the handshake, each for a bounded time, starting from the
# corpus kept in fuzz/corpus (a copy: CI does not write to the tree).
fuzz_seconds=${OTTER_FUZZ_SECONDS:-60}
phase "fuzz build (clang, libFuzzer + ASan + UBSan)"
cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DOTTER_FUZZ=ON >/dev/null
cmake --build build/fuzz -j "$jobs"
for target in frame handshake; do
  phase "fuzz ${target}_fuzz for ${fuzz_seconds} s"
  rm -rf "build/fuzz/corpus-$target" && cp -r "fuzz/corpus/$target" "build/fuzz/corpus-$target"
  "build/fuzz/fuzz/${target}_fuzz" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "build/fuzz/corpus-$target" 2>&1 | tail -n 4
done
phase "all test runs passed"
