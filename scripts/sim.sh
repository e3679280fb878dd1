#!/usr/bin/env bash
# Runs seeded schedules in the deterministic simulator (tests/sim), in parallel, and prints
# schedules per second and every violated invariant with the command that replays it.
# Usage: scripts/sim.sh [--seeds N] [--first S] [--nodes K] [--jobs J] [--chaos SECONDS]
#        scripts/sim.sh --seed S [--nodes K] --trace          (one schedule, with its trace)
# Builds otter-sim in build/sim (Release) first. Exit code 1 when an invariant was violated.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
args=("$@")
((${#args[@]})) || args=(--seeds 2000)
has_jobs=0
for a in "${args[@]}"; do [[ $a == --jobs ]] && has_jobs=1; done
((has_jobs)) || args+=(--jobs "$(nproc)")
cmake -S . -B build/sim -DCMAKE_BUILD_TYPE=Release -DOTTER_BUILD_BENCH=OFF >/dev/null
cmake --build build/sim -j "$(nproc)" --target otter-sim >/dev/null
exec build/sim/tests/sim/otter-sim "${args[@]}"
