#!/usr/bin/env bash
# dist/deps.sh PACKAGE… — installs the Debian packages among these that are missing (as root),
# quietly; the build scripts' `--deps` (dist/build.sh, dist/windows.sh) call it.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
