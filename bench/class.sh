#!/usr/bin/env bash
# bench/class.sh N — a lab session: N students run their first hpcinit in the same second
# against one login node of the test cluster (tests/cluster/up.sh) at sshd's default
# MaxStartups (10:30:100: after 10 unauthenticated connections sshd drops new ones at random).
#
#   hpcinit   N fresh laptop homes, each with a clone of one course repository (its
#             hpcinit-course.yaml names the site, the Python and the requirements), each running
#             `hpcinit --user hpcuserNN --yes --accept-new-host-key --no-passphrase` at once:
#             a first bootstrap (key, config, host key, sign-in, key install, layout, templates,
#             venv, lock, snapshot). Connections dropped before the key exchange are retried
#             with a jittered pause; nothing that was sent is sent again.
#   plain     the same N accounts, then N `ssh -o ControlMaster=no hpcuserNN@node true` (with
#             the keys installed above) started in the same second, without a retry: how many
#             the login node drops.
#
# It prints, per route: how many of N succeeded; for hpcinit also accepted authentications per
# student (from sshd's log), how many retries were said, the median and the slowest wall time.
#
# Usage: sudo tests/cluster/up.sh; sudo bash bench/class.sh 30        KEEP=1 keeps the homes
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
die() { echo "bench/class.sh: $*" >&2; exit 1; }
[ -f "$D/cluster.env" ] || die "the test cluster is not up: run sudo tests/cluster/up.sh"
[ "$(id -u)" -eq 0 ] || die "run as root (it makes the class accounts and reads sshd's log)"
set -a
# shellcheck disable=SC1091
. "$D/cluster.env"
set +a
bash tests/cluster/class-users.sh "$N" >&2

echo "building hpcinit (release)…" >&2
cargo build --release --quiet
BIN=$PWD/target/release/hpcinit
WORK=$(mktemp -d /tmp/hcl.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  for h in "$WORK"/home-*; do
    [ -d "$h" ] || continue
    for s in "$h"/.ssh/cm-*; do [ -S "$s" ] && ssh -F /dev/null -o ControlPath="$s" -O exit x 2>/dev/null; done
  done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

# The course repository every student clones.
repo=$WORK/course
mkdir -p "$repo"
cat >"$repo/hpcinit-course.yaml" <<EOF
course-version: 1
course: "bench/class.sh: a lab session of $N"
contact: "ta@example.edu"
sites:
  sandbox-class: {}
python: "3.11"
requirements: requirements.txt
EOF
echo "hpcinit-demo" >"$repo/requirements.txt"
echo "print('hello')" >"$repo/main.py"

ids=()
for i in $(seq -w 1 "$N"); do
  [ "${#i}" -ge 2 ] || i="0$i"
  ids+=("$i")
  h=$WORK/home-$i
  mkdir -p "$h"
  cp -r "$repo" "$h/course"
  # A class account's leftovers from an earlier bench are not a first run.
  rm -rf "$D/home/hpcuser$i/venvs" "$D/home/hpcuser$i/sbatch"
  : >"$D/home/hpcuser$i/.ssh/authorized_keys"
done

log=$HPCINIT_SSHD_LOG_CLASS
start=$(wc -c <"$log")
echo "starting $N first bootstraps at once…" >&2
t0=$(date +%s%N)
for i in "${ids[@]}"; do
  h=$WORK/home-$i
  (
    cd "$h/course"
    s=$(date +%s%N)
    rc=0
    env -i HOME="$h" PATH="$PATH" NO_COLOR=1 USER="student$i" SSH_ASKPASS="$HPCINIT_ASKPASS" \
      SSH_ASKPASS_REQUIRE=force DISPLAY=:0 HPCINIT_CLUSTER_DIR="$D" HPCINIT_ASKPASS_LOG="$h/prompts.log" \
      "$BIN" --user "hpcuser$i" --yes --accept-new-host-key --no-passphrase </dev/null >"$h/out.log" 2>&1 || rc=$?
    echo "$rc $(( ($(date +%s%N) - s) / 1000000 ))" >"$h/result"
  ) &
done
wait
total_ms=$(( ($(date +%s%N) - t0) / 1000000 ))

ok=0 times=() retries=0 auths=()
for i in "${ids[@]}"; do
  h=$WORK/home-$i
  read -r rc ms <"$h/result"
  [ "$rc" = 0 ] && ok=$((ok + 1))
  times+=("$ms")
  retries=$((retries + $(grep -c "retrying (" "$h/out.log" || true)))
  a=$(tail -c +"$((start + 1))" "$log" | grep -c "^Accepted .* for hpcuser$i from" || true)
  auths+=("$a")
  [ "$rc" = 0 ] || { echo "--- hpcuser$i failed (exit $rc):" >&2; tail -5 "$h/out.log" >&2; }
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(printf '%s\n' "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
slowest=$(printf '%s\n' "$sorted" | tail -n 1)
one_auth=$(printf '%s\n' "${auths[@]}" | grep -cx 1 || true)

# The plain route: the same accounts, keys now installed, N ssh at once, no retry.
for i in "${ids[@]}"; do
  h=$WORK/home-$i
  (
    rc=0
    ssh -F /dev/null -o BatchMode=yes -o ControlMaster=no -o ControlPath=none \
      -o UserKnownHostsFile="$h/.ssh/known_hosts.d/hpcinit" -o StrictHostKeyChecking=no -o IdentitiesOnly=yes \
      -i "$h/.ssh/id_ed25519_hpcinit" -p "$HPCINIT_CLASS_PORT" "hpcuser$i@127.0.0.1" true </dev/null \
      >"$h/plain.log" 2>&1 || rc=$?
    echo "$rc" >"$h/plain.rc"
  ) &
done
wait
plain_ok=0 dropped=0
for i in "${ids[@]}"; do
  h=$WORK/home-$i
  [ "$(cat "$h/plain.rc")" = 0 ] && plain_ok=$((plain_ok + 1))
  grep -q "kex_exchange_identification\|Connection reset\|Connection closed" "$h/plain.log" && dropped=$((dropped + 1))
done

printf '\n%s students at once on one login node (MaxStartups 10:30:100), %s s for the whole room\n' "$N" "$(awk "BEGIN {printf \"%.1f\", $total_ms/1000}")"
printf '%-8s %10s %22s %9s %12s %12s\n' route succeeded "1 accepted auth each" retries "median s" "slowest s"
printf '%-8s %7s/%-3s %22s %9s %12s %12s\n' hpcinit "$ok" "$N" "$one_auth/$N" "$retries" \
  "$(awk "BEGIN {printf \"%.1f\", $median/1000}")" "$(awk "BEGIN {printf \"%.1f\", $slowest/1000}")"
printf '%-8s %7s/%-3s %22s %9s %12s %12s\n' "plain" "$plain_ok" "$N" "-" 0 - -
printf '(plain ssh: %s of %s dropped by the login node before the key exchange)\n' "$dropped" "$N"
