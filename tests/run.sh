#!/usr/bin/env bash
# The test command (README "Test"). On a fresh Debian machine, as root, it installs what the
# tests need, brings up the test cluster (tests/cluster/up.sh: sshd with and without a second
# factor, Lmod, Slurm), runs every unit and integration test with cargo, and tears the cluster
# down again (only if it brought it up; HPCINIT_KEEP_CLUSTER=1 keeps it). Nothing is skipped: a
# missing prerequisite fails the run with a message saying what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the build and the tests need: OpenSSH's client (tests check every planned
# config with `ssh -G`), and libssh2's build dependencies (ssh2 links OpenSSL).
# python3-venv and man-db: tests/dist.sh installs the wheel into a venv and reads the manual page.
need_pkgs=(openssh-client rsync git pkg-config libssl-dev shellcheck python3-venv man-db)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: missing Debian packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "tests/run.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for cmd in cargo ssh; do
  command -v "$cmd" >/dev/null || { echo "tests/run.sh: '$cmd' not found" >&2; exit 1; }
done

[ "$(id -u)" -eq 0 ] || { echo "tests/run.sh: run as root: the test cluster starts sshd and Slurm and adds a test user" >&2; exit 1; }
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
already_up=0
[ -f "$D/run/sshd-plain.pid" ] && kill -0 "$(cat "$D/run/sshd-plain.pid")" 2>/dev/null && already_up=1
if [ "$already_up" = 0 ] && [ "${HPCINIT_KEEP_CLUSTER:-0}" != 1 ]; then
  trap 'bash tests/cluster/down.sh $([ "${HPCINIT_KEEP_LOGS:-0}" = 1 ] && echo --keep-dir)' EXIT
fi
bash tests/cluster/up.sh

# Snapshots are compared, never written, here. Every cluster test is mandatory: without this
# switch they are ignored (a laptop without the test cluster), with it none may be skipped.
export INSTA_UPDATE=no
export HPCINIT_REQUIRE_CLUSTER=1
status=0
log=$(mktemp)
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
  skipped=$(sed -n 's/.*Summary .* tests run: .*, \([0-9]*\) skipped.*/\1/p' "$log" | tail -n 1)
else
  cargo test --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
  skipped=$(sed -n 's/^test result: .* \([0-9]*\) ignored;.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
fi
rm -f "$log"
if [ "$status" -eq 0 ] && [ "${skipped:-0}" != 0 ]; then
  echo "tests/run.sh: $skipped test(s) were skipped; here every test is mandatory" >&2
  status=1
fi
# The release artefacts (dist/build.sh: the static binary, its archive, the wheel), installed
# and run as a person would, against the same cluster (HPCINIT_SKIP_DIST=1 leaves them out of
# a local run; CI never sets it).
if [ "$status" -eq 0 ] && [ "${HPCINIT_SKIP_DIST:-0}" != 1 ]; then
  bash tests/dist.sh || status=$?
fi
# hpcinit.exe, cross-built and run under Wine: its unit tests and a bootstrap of the same
# cluster (HPCINIT_SKIP_WINDOWS=1 leaves it out of a local run; CI never sets it).
if [ "$status" -eq 0 ] && [ "${HPCINIT_SKIP_WINDOWS:-0}" != 1 ]; then
  bash tests/windows.sh || status=$?
fi
if [ "$status" -ne 0 ]; then
  for log in "$D"/logs/*.log; do
    [ -f "$log" ] && { echo "--- last lines of $log"; tail -n 20 "$log"; }
  done
fi
exit "$status"
