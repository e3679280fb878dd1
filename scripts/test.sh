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

run normal -DCMAKE_BUILD_TYPE=RelWithDebInfo --
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run asan -DCMAKE_BUILD_TYPE=Debug -DOTTER_SANITIZE=address --
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" \
  run tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTTER_SANITIZE=thread -- -L concurrency
echo "=== all test runs passed ==="
