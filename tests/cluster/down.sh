#!/usr/bin/env bash
# Tears down what tests/cluster/up.sh started and added: stops only the PIDs it recorded, removes
# the test user, the PAM service file and /run/sshd if it created them, then its directory.
# `--keep-dir` keeps $HPCINIT_CLUSTER_DIR (logs) for a look after a failure.
set -uo pipefail
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
[ -d "$D" ] || { echo "cluster: nothing to tear down at $D"; exit 0; }
stop() { # pidfile
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}
stop "$D/run/sshd-plain.pid"
stop "$D/run/sshd-mfa.pid"
stop "$D/run/sshd-gateway.pid"
stop "$D/run/sshd-gateway-mfa.pid"
stop "$D/run/sshd-chain.pid"
stop "$D/run/sshd-dtu.pid"
stop "$D/run/sshd-olivia.pid"
stop "$D/run/sshd-class.pid"
stop "$D/run/sshd-busy.pid"
stop "$D/run/sshd-duo.pid"
stop "$D/run/sshd-duo-key.pid"
stop "$D/run/sshd-node.pid"
rm -rf /run/hpcinit-test-chain
stop "$D/slurm/slurmd.pid"
stop "$D/slurm/slurmctld.pid"
stop "$D/munge/run/munged.pid"
if [ -f "$D/added-by-harness" ]; then
  while read -r kind what; do
    case "$kind" in
      user) pkill -u "$what" 2>/dev/null; sleep 0.2; userdel "$what" 2>/dev/null || true ;;
      file) rm -f "$what" ;;
      dir) rmdir "$what" 2>/dev/null || true ;;
      netns) ip netns del "$what" 2>/dev/null || true ;;
      # /etc/hosts may be a bind mount (containers): rewritten in place, not replaced.
      hosts) grep -vxF "$what" /etc/hosts >"$D/hosts.new" && cat "$D/hosts.new" >/etc/hosts ;;
    esac
  done <"$D/added-by-harness"
fi
if [ "${1:-}" = "--keep-dir" ]; then echo "cluster: down (kept $D)"; else rm -rf "$D"; echo "cluster: down"; fi
