#!/usr/bin/env bash
# Builds and runs every test: a normal build, then ASan+UBSan, then TSan (the concurrency
# tests), all through CTest. Installs missing Debian packages first.
# Usage: scripts/test.sh            (from anywhere; builds under build/)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
jobs=$(nproc)

run() {  # run NAME CMAKE_ARGS... -- CTEST_ARGS...
  local name=$1; shift
  local cmake_args=() ctest_args=()
  while (($#)) && [[ $1 != -- ]]; do cmake_args+=("$1"); shift; done
  (($#)) && shift
  ctest_args=("$@")
  echo "=== $name build ==="
  cmake -S . -B "build/$name" -DOTTER_BUILD_BENCH=OFF "${cmake_args[@]}" >/dev/null
  cmake --build "build/$name" -j "$jobs"
  echo "=== $name tests ==="
  ctest --test-dir "build/$name" --output-on-failure --timeout 900 "${ctest_args[@]}"
}

run normal -DCMAKE_BUILD_TYPE=RelWithDebInfo -- -LE hosts
# The multi-host scenarios (network namespaces; root only, skipped otherwise), with the
# figures each one reports.
echo "=== hosts tests ==="
cmake --build build/normal -j "$jobs" --target otter-node otterctl load_client >/dev/null
set +e
ctest --test-dir build/normal -L hosts --timeout 900 -V >build/normal/hosts.log 2>&1
hosts_rc=$?
set -e
grep -E '^[0-9]+: (hosts_[a-z_]+|c[0-9]\.[a-z_]+) [0-9.-]+ [a-z/]+$|^[0-9]+: (PASS|FAIL|SKIP).*|Test +#' \
  build/normal/hosts.log || true
if ((hosts_rc != 0)); then
  tail -n 80 build/normal/hosts.log
  exit "$hosts_rc"
fi
# The README's demo (a 3-node cluster driven with otterctl), on the normal build.
echo "=== demo ==="
OTTER_DEMO_BUILD_DIR=build/normal timeout 600 scripts/demo.sh
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run asan -DCMAKE_BUILD_TYPE=Debug -DOTTER_SANITIZE=address -- -LE hosts
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" \
  run tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTTER_SANITIZE=thread -- -L concurrency
# Fuzzing: the frame decoder and the handshake, each for a bounded time, starting from the
# corpus kept in fuzz/corpus (a copy: CI does not write to the tree).
fuzz_seconds=${OTTER_FUZZ_SECONDS:-60}
echo "=== fuzz build (clang, libFuzzer + ASan + UBSan) ==="
cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DOTTER_FUZZ=ON >/dev/null
cmake --build build/fuzz -j "$jobs"
for target in frame handshake; do
  echo "=== fuzz ${target}_fuzz for ${fuzz_seconds} s ==="
  rm -rf "build/fuzz/corpus-$target" && cp -r "fuzz/corpus/$target" "build/fuzz/corpus-$target"
  "build/fuzz/fuzz/${target}_fuzz" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "build/fuzz/corpus-$target" 2>&1 | tail -n 4
done
echo "=== all test runs passed ==="
