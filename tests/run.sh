#!/usr/bin/env bash
# The test command (README "Test"). On a fresh Debian machine, as root, it installs what the
# tests need, then runs every unit and integration test with cargo. Nothing is skipped: a
# missing prerequisite fails the run with a message saying what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the build and the tests need: OpenSSH's client (tests check every planned
# config with `ssh -G`), and libssh2's build dependencies (ssh2 links OpenSSL).
need_pkgs=(openssh-client pkg-config libssl-dev)
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

# Snapshots are compared, never written, here.
export INSTA_UPDATE=no
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@"
else
  cargo test --no-fail-fast "$@"
fi
