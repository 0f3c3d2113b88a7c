#!/usr/bin/env bash
# hpcinit.exe under Wine, against the test cluster: what a student's Windows laptop runs.
#   - the platform-neutral unit tests pass under Wine (the Unix-only ones are listed as ignored);
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
nl=$'\n'
fail() { printf 'tests/windows.sh: FAIL: %s\n' "$*" >&2; exit 1; }
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
# The prefix is made (and Wine's own first-run messages printed) once, before any check.
/usr/lib/wine/wine64 wineboot -i >/dev/null 2>&1 || fail "Wine cannot make a prefix in $WINEPREFIX"

# --- the platform-neutral unit tests, cross-built from the same release build, under Wine -------
units=$(bash dist/windows.sh --unit-tests 2>&1 | tr -d '\r') || fail "the unit tests under Wine:$nl$units"
summary=$(grep '^test result: ok' <<<"$units") || fail "no passing test summary from the unit tests:$nl$units"
pass "unit tests under Wine: ${summary#test result: ok. }"

EXE=$PWD/dist/windows/out/hpcinit.exe
wine() { /usr/lib/wine/wine64 "$EXE" "$@"; }
v=$(wine --version 2>&1 | tr -d '\r') || fail "hpcinit.exe --version under Wine: $v"
[ "$v" = "hpcinit $(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)" ] || fail "--version: $v"
pass "$v runs under Wine ($(/usr/lib/wine/wine64 --version))"

# --- the plan, as a Windows user sees it ---------------------------------------------------------
P=$WINEPREFIX/drive_c/users/$(id -un)/proj
mkdir -p "$P" && printf 'hpcinit-demo==1.0\n' >"$P/requirements.txt" && printf 'import hpcinit_demo\n' >"$P/main.py"
plan=$(cd "$P" && wine plan --site saga --user alice --account nn1234k --details 2>&1 | tr -d '\r') ||
  fail "plan --site saga under Wine:$nl$plan"
# shellcheck disable=SC1003 # a backslash at the end of a single-quoted string, on purpose
verbatim='\\?\'
if grep -qF "$verbatim" <<<"$plan"; then fail "the plan shows a $verbatim path:$nl$(grep -nF "$verbatim" <<<"$plan")"; fi
# shellcheck disable=SC1003
mixed=$(grep -nE '(^|[ (])([A-Za-z]:|~)\\[^ ]*/|(^|[ (])~/[^ ]*\\' <<<"$plan" || true)
[ -z "$mixed" ] || fail "the plan mixes path separators:$nl$mixed"
grep -q 'Control' <<<"$plan" && fail "the plan's config has Control* lines:$nl$(grep -n Control <<<"$plan")"
grep -q 'UserKnownHostsFile ~/.ssh/known_hosts.d/hpcinit' <<<"$plan" || fail "no ~/ UserKnownHostsFile in the plan:$nl$plan"
grep -q "hpcinit's own SSH client" <<<"$plan" || fail "the plan does not sign in with hpcinit's own client:$nl$plan"
grep -q '\$ rsync' <<<"$plan" && fail "the plan copies with rsync, which Windows lacks:$nl$plan"
pass "plan --site saga under Wine: no \\\\?\\, no mixed separators, no Control* lines"

# --- a bootstrap of the plain node under Wine, key already registered ----------------------------
WP=$WINEPREFIX/drive_c/users/$(id -un)
mkdir -p "$WP/.ssh"
ssh-keygen -q -t ed25519 -N '' -C wine-test -f "$WP/.ssh/id_ed25519_hpcinit"
# The person's own config, as Notepad writes it: uninstall must give it back byte for byte.
printf 'Host github.com\r\n    User git\r\n' >"$WP/.ssh/config"
cp "$WP/.ssh/config" "$WINEPREFIX.config"
AK=$D/home/$HPCINIT_TEST_USER/.ssh/authorized_keys
cp "$AK" "$WINEPREFIX.authorized_keys"
NAME=win-boot
cleanup() {
  cat "$WINEPREFIX.authorized_keys" >"$AK" && rm -f "$WINEPREFIX.authorized_keys"
  rm -rf "$D/home/$HPCINIT_TEST_USER/venvs/$NAME" "$D/home/$HPCINIT_TEST_USER/venvs/.$NAME."* \
    "$D/scratch/$HPCINIT_TEST_USER/code-snapshots/$NAME" "$D/home/$HPCINIT_TEST_USER/sbatch/$NAME.sh"
}
trap cleanup EXIT
cat "$WP/.ssh/id_ed25519_hpcinit.pub" >>"$AK"
log=$HPCINIT_SSHD_LOG_PLAIN
from=$(stat -c %s "$log")
status=0
winkey="C:\\users\\$(id -un)\\.ssh\\id_ed25519_hpcinit"
out=$(cd "$P" && wine --site sandbox --user "$HPCINIT_TEST_USER" --project-name "$NAME" \
  --key "$winkey" --yes --accept-new-host-key 2>&1 | tr -d '\r') || status=$?
[ "$status" = 0 ] || fail "the bootstrap under Wine exited $status:$nl$out"
runuser -u "$HPCINIT_TEST_USER" -- "$D/home/$HPCINIT_TEST_USER/venvs/$NAME/bin/python" -c 'import hpcinit_demo' ||
  fail "the venv $NAME does not import the requirement:$nl$out"
[ -L "$D/scratch/$HPCINIT_TEST_USER/code-snapshots/$NAME/latest" ] || fail "no latest snapshot:$nl$out"
cmp -s "$D/scratch/$HPCINIT_TEST_USER/code-snapshots/$NAME/latest/main.py" "$P/main.py" || fail "the snapshot lacks main.py"
accepted=$(tail -c +"$((from + 1))" "$log" | grep -c "^Accepted .* for $HPCINIT_TEST_USER from" || true)
[ "$accepted" = 1 ] || fail "$accepted accepted authentications in sshd's log for the run (1 expected):$nl$out"
cfg=$WP/.ssh/config.d/hpcinit
[ -f "$cfg" ] || fail "no $cfg written:$nl$out"
if grep -q Control "$cfg"; then fail "the config written has Control* lines:$nl$(cat "$cfg")"; fi
grep -q '^    IdentityFile ~/.ssh/id_ed25519_hpcinit$' "$cfg" || fail "the config's IdentityFile is not the ~/ form:$nl$(cat "$cfg")"
[ "$(head -n 1 "$WP/.ssh/config" | tr -d '\r')" = "Include ~/.ssh/config.d/hpcinit" ] ||
  fail "the config (.ssh/config) does not start with the Include line:$nl$(cat "$WP/.ssh/config")"
pass "bootstrap under Wine (built-in client, SFTP): exit 0, the venv imports, latest set, 1 accepted authentication, the Windows config form"

# --- uninstall under Wine: the config is the person's again, byte for byte -----------------------
out=$(cd "$P" && wine uninstall --site sandbox 2>&1 | tr -d '\r') || fail "uninstall under Wine:$nl$out"
cmp -s "$WP/.ssh/config" "$WINEPREFIX.config" || fail "uninstall did not restore ~/.ssh/config:$nl$(od -c "$WP/.ssh/config" | head)$nl$out"
for gone in .ssh/config.d/hpcinit .ssh/known_hosts.d/hpcinit .ssh/config.hpcinit-backup; do
  [ ! -e "$WP/$gone" ] || fail "uninstall left $gone:$nl$out"
done
pass "uninstall under Wine: ~/.ssh/config byte for byte as before, hpcinit's files gone"
