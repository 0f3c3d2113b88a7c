#!/usr/bin/env bash
# hpcinit.exe under Wine, against the test cluster: what a student's Windows laptop runs.
#   - `hpcinit.exe plan --site saga` shows plain paths: no `\\?\`, no mixed separators, and a
#     config without Control* lines (Windows' OpenSSH rejects them);
#   - a bootstrap of the plain node with a key already registered (`--key`), through hpcinit's
#     own client (the Windows default) and SFTP: exit 0, the venv imports, `latest` is set, the
#     config written is the Windows form, one accepted authentication in sshd's log.
# Called by tests/run.sh (the cluster is up); every check is mandatory.
# Usage: bash tests/windows.sh [--built]   (--built: dist/windows/out/hpcinit.exe is current)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
fail() { printf 'tests/windows.sh: FAIL: %b\n' "$*" >&2; exit 1; }
pass() { echo "tests/windows.sh: ok: $*"; }
[ -f "$D/cluster.env" ] || fail "the test cluster is not up (bash tests/cluster/up.sh)"
set -a
# shellcheck disable=SC1091
. "$D/cluster.env"
set +a
if [ "${1:-}" != --built ]; then
  start=$(date +%s)
  if [ "$(id -u)" -eq 0 ]; then bash dist/windows.sh --deps >/dev/null; else bash dist/windows.sh >/dev/null; fi
  pass "dist/windows.sh built hpcinit.exe in $(($(date +%s) - start)) s"
fi
export WINEPREFIX=/tmp/hpcinit-wine-test WINEDEBUG=-all
rm -rf "$WINEPREFIX"
wine() { /usr/lib/wine/wine64 dist/windows/out/hpcinit.exe "$@"; }
v=$(wine --version 2>&1 | tr -d '\r') || fail "hpcinit.exe --version under Wine: $v"
[ "$v" = "hpcinit $(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)" ] || fail "--version: $v"
pass "$v runs under Wine ($(/usr/lib/wine/wine64 --version))"

# --- the plan, as a Windows user sees it ---------------------------------------------------------
P=$WINEPREFIX/drive_c/users/$(id -un)/proj
mkdir -p "$P" && printf 'hpcinit-demo==1.0\n' >"$P/requirements.txt" && printf 'import hpcinit_demo\n' >"$P/main.py"
plan=$(cd "$P" && wine plan --site saga --user alice --account nn1234k --details 2>&1 | tr -d '\r') ||
  fail "plan --site saga under Wine:\n$plan"
# shellcheck disable=SC1003 # a backslash at the end of a single-quoted string, on purpose
verbatim='\\?\'
if grep -qF "$verbatim" <<<"$plan"; then fail "the plan shows a $verbatim path:\n$(grep -nF "$verbatim" <<<"$plan")"; fi
# shellcheck disable=SC1003
mixed=$(grep -nE '(^|[ (])([A-Za-z]:|~)\\[^ ]*/|(^|[ (])~/[^ ]*\\' <<<"$plan" || true)
[ -z "$mixed" ] || fail "the plan mixes path separators:\n$mixed"
grep -q 'Control' <<<"$plan" && fail "the plan's config has Control* lines:\n$(grep -n Control <<<"$plan")"
grep -q 'IdentityFile ~/.ssh/id_ed25519_hpcinit' <<<"$plan" || fail "no ~/ IdentityFile in the plan:\n$plan"
pass "plan --site saga under Wine: no \\\\?\\, no mixed separators, no Control* lines"
