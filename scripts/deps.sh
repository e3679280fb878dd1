#!/usr/bin/env bash
# Installs the Debian packages otter needs to build and test, when any is missing.
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libboost-dev
  catch2 libspdlog-dev libfmt-dev libjemalloc-dev
  libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libsodium-dev libcpp-httplib-dev
  iproute2 procps python3 python3-zmq python3-msgpack python3-prometheus-client
  clang libclang-rt-14-dev yamllint
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing packages and not root: run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
