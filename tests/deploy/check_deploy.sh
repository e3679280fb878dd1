#!/usr/bin/env bash
# Checks the deployment files (deploy/) with what the machine has: `systemd-analyze verify` on
# the unit, its ExecStart pointed at the otter-node built ($1), failing on any complaint about
# it (an unknown key is only a warning to systemd); yamllint (strict) on the Kubernetes YAML.
# The Dockerfile is not built here (that needs the network). Exit 77 (skip) with neither tool.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: check_deploy.sh OTTER_NODE_BINARY}
checked=0
if command -v systemd-analyze >/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  sed "s|^ExecStart=/usr/local/bin/otter-node|ExecStart=$bin|" "$root/deploy/otter-node.service" \
    >"$tmp/otter-node.service"
  out=$(systemd-analyze verify "$tmp/otter-node.service" 2>&1) || {
    echo "FAIL: systemd-analyze verify: $out"
    exit 1
  }
  if grep -F "otter-node.service" <<<"$out"; then
    echo "FAIL: systemd-analyze verify complains about the unit"
    exit 1
  fi
  echo "ok: systemd-analyze verify deploy/otter-node.service"
  checked=$((checked + 1))
fi
if command -v yamllint >/dev/null; then
  yamllint -s -c "$root/deploy/.yamllint" "$root/deploy/kubernetes" || {
    echo "FAIL: yamllint"
    exit 1
  }
  echo "ok: yamllint deploy/kubernetes"
  checked=$((checked + 1))
fi
if ((checked == 0)); then
  echo "SKIP: neither systemd-analyze nor yamllint is installed"
  exit 77
fi
echo "PASS"
