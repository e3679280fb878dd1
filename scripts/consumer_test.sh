#!/usr/bin/env bash
# otter as a user's project gets it: installs a build into a temporary prefix, then builds
# examples/ as a separate project against it, once with CMake (find_package(otter)) and once
# with pkg-config (otter.pc), each linked with the system's malloc, and runs the two-node
# example with each (tests/examples/run_hello_cluster.sh: call by name, SIGTERM/SIGINT, exit 0).
# Usage: scripts/consumer_test.sh BUILD_DIR [CXX_FLAGS]   (e.g. "-fsanitize=address,undefined"
# for a build configured with OTTER_SANITIZE=address)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
flags=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "=== consumer: cmake --install $build --prefix <tmp>"
cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/lib/cmake/otter/otterConfig.cmake" || { echo "no otterConfig.cmake installed" >&2; exit 1; }
test -f "$prefix/lib/pkgconfig/otter.pc" || { echo "no otter.pc installed" >&2; exit 1; }
test -f "$prefix/include/otter/otter.hpp" || { echo "no headers installed" >&2; exit 1; }

echo "=== consumer: examples/ as a separate project, find_package(otter)"
cmake -S examples -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$work/cmake-build" -j "$(nproc)" >/dev/null
tests/examples/run_hello_cluster.sh "$work/cmake-build/hello_cluster"

echo "=== consumer: the same program built with pkg-config --cflags --libs otter"
# shellcheck disable=SC2046
PKG_CONFIG_PATH=$prefix/lib/pkgconfig c++ -O2 $flags examples/hello_cluster.cpp \
  -o "$work/hello_pc" $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs otter)
tests/examples/run_hello_cluster.sh "$work/hello_pc"
echo "=== consumer: add_subdirectory(otter) needs only the library's dependencies"
mkdir -p "$work/sub"
cat >"$work/sub/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(uses_otter LANGUAGES CXX)
add_subdirectory($PWD otter)
add_executable(hello_sub $PWD/examples/hello_cluster.cpp)
target_link_libraries(hello_sub PRIVATE otter::otter)
CMAKE
cmake -S "$work/sub" -B "$work/sub/build" >/dev/null
for dep in Catch2_DIR CLI11_DIR tomlplusplus_DIR nlohmann_json_DIR JEMALLOC_FOUND; do
  if grep -q "^$dep:" "$work/sub/build/CMakeCache.txt"; then
    echo "add_subdirectory(otter) looked for $dep" >&2
    exit 1
  fi
done
grep -q "^OTTER_BUILD_TESTS:BOOL=OFF" "$work/sub/build/CMakeCache.txt" || { echo "tests are on in a subproject" >&2; exit 1; }
echo "=== consumer: passed"
