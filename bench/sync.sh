#!/usr/bin/env bash
# bench/sync.sh — what a code snapshot costs after a one-file change, side by side with the
# routes onboarding guides teach. Against the test cluster (tests/cluster/up.sh), over one
# shared SSH connection for every route, so the figures compare the copies, not logins.
#
#   hpcinit sync        a new immutable snapshot; unchanged files hard-linked (--link-dest)
#   full copy           `rsync -av project/ site:scratch/code-snapshots/copy-N/`: a new full copy
#                       each time (immutable too, the way guides keep old runs reproducible)
#   rsync in place      `rsync -a project/ site:scratch/code-snapshots/inplace/`: cheap, but it
#                       changes the code under jobs that are waiting in the queue
#
# Prints, for the second and later syncs (median of $ROUNDS rounds, one file changed each):
# bytes sent over the network, seconds of wall time, and disk used by the new copy.
#
# Usage: sudo tests/cluster/up.sh; bash bench/sync.sh   (FILES=5000 MB=200 ROUNDS=5 to change;
#        KEEP=1 keeps the laptop home and project in /tmp/hpcinit-bench-sync.* for profiling)
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${FILES:-5000}
MB=${MB:-200}
ROUNDS=${ROUNDS:-5}
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
[ -f "$D/cluster.env" ] || { echo "bench/sync.sh: the test cluster is not up: run sudo tests/cluster/up.sh" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$D/cluster.env"
set +a
command -v python3 >/dev/null || { echo "bench/sync.sh: needs python3 to make the project" >&2; exit 1; }

echo "building hpcinit (release)…" >&2
cargo build --release --quiet
BIN=$PWD/target/release/hpcinit

WORK=$(mktemp -d /tmp/hpcinit-bench-sync.XXXXXX)
LAPTOP=$WORK/home
PROJ=$LAPTOP/bench-project
NAME=bench-sync
SNAPS=$D/scratch/$HPCINIT_TEST_USER/code-snapshots
mkdir -p "$LAPTOP" "$PROJ"
cleanup() {
  ssh -F "$LAPTOP/.ssh/config" -O exit sandbox >/dev/null 2>&1 || true
  rm -rf "$WORK" "$SNAPS/$NAME" "$SNAPS/bench-copy-"* "$SNAPS/bench-inplace"
}
[ -n "${KEEP:-}" ] || trap cleanup EXIT
rm -rf "$SNAPS/$NAME" "$SNAPS/bench-copy-"* "$SNAPS/bench-inplace"

run() {
  env -i HOME="$LAPTOP" PATH="$PATH" NO_COLOR=1 USER=student SSH_ASKPASS="$HPCINIT_ASKPASS" \
    SSH_ASKPASS_REQUIRE=force DISPLAY=:0 HPCINIT_CLUSTER_DIR="$D" HPCINIT_ASKPASS_LOG="$WORK/prompts.log" \
    "$BIN" "$@"
}
ssh_() { env HOME="$LAPTOP" ssh -F "$LAPTOP/.ssh/config" -o BatchMode=yes "$@"; }
RSH="ssh -F $LAPTOP/.ssh/config -o BatchMode=yes -o ControlMaster=no"
# The person's rsync, reading the laptop's ssh config (its Include follows $HOME).
rsync_() { env HOME="$LAPTOP" rsync "$@"; }

echo "making a project of $FILES files, about $MB MB…" >&2
python3 - "$PROJ" "$FILES" "$MB" <<'EOF'
import os, random, sys
root, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
size = mb * 1_000_000 // n
for i in range(n):
    d = os.path.join(root, f"pkg{i % 50:02d}", f"mod{i % 7}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i:05d}.py"), "wb") as f:
        f.write(rng.randbytes(size))
EOF
bytes_total=$(du -sb "$PROJ" | cut -f1)

run --site sandbox --user hpcuser --yes --accept-new-host-key --no-passphrase --ssh-only >/dev/null
ssh_ sandbox true

now() { date +%s.%N; }
change_one() { printf 'changed %s\n' "$1" >>"$PROJ/pkg00/mod0/file00000.py"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# First copies (not measured): every route starts from a copy of the project.
run sync --site sandbox --user hpcuser --project-dir "$PROJ" --project-name "$NAME" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
rsync_ -a -e "$RSH" "$PROJ/" "sandbox:scratch/code-snapshots/bench-inplace/" >/dev/null
rsync_ -a -e "$RSH" "$PROJ/" "sandbox:scratch/code-snapshots/bench-copy-0/" >/dev/null

: >"$WORK/h.sec"; : >"$WORK/h.bytes"; : >"$WORK/h.disk"
: >"$WORK/f.sec"; : >"$WORK/f.bytes"; : >"$WORK/f.disk"
: >"$WORK/i.sec"; : >"$WORK/i.bytes"; : >"$WORK/i.disk"
for r in $(seq 1 "$ROUNDS"); do
  sleep 1.1 # a new second, so the file's size or time differs from the last copy
  change_one "$r"

  prev=$(readlink "$SNAPS/$NAME/latest")
  t0=$(now)
  out=$(run sync --site sandbox --user hpcuser --project-dir "$PROJ" --project-name "$NAME" -v 2>"$WORK/err") || { cat "$WORK/err" >&2; exit 1; }
  t1=$(now)
  echo "$t1 - $t0" | bc -l >>"$WORK/h.sec"
  sed -n 's/.*rsync: \([0-9]*\) bytes sent.*/\1/p' <<<"$out" >>"$WORK/h.bytes"
  new=$(readlink "$SNAPS/$NAME/latest")
  [ "$new" != "$prev" ] || { echo "bench/sync.sh: no new snapshot in round $r" >&2; echo "$out" >&2; exit 1; }
  du -sk "$SNAPS/$NAME/$prev" "$SNAPS/$NAME/$new" | tail -n 1 | cut -f1 >>"$WORK/h.disk"

  t0=$(now)
  out=$(rsync_ -av --stats -e "$RSH" "$PROJ/" "sandbox:scratch/code-snapshots/bench-copy-$r/")
  t1=$(now)
  echo "$t1 - $t0" | bc -l >>"$WORK/f.sec"
  sed -n 's/^Total bytes sent: \([0-9,]*\).*/\1/p' <<<"$out" | tr -d , >>"$WORK/f.bytes"
  du -sk "$SNAPS/bench-copy-$((r - 1))" "$SNAPS/bench-copy-$r" | tail -n 1 | cut -f1 >>"$WORK/f.disk"
  rm -rf "$SNAPS/bench-copy-$((r - 1))"

  before=$(du -sk "$SNAPS/bench-inplace" | cut -f1)
  t0=$(now)
  out=$(rsync_ -a --stats -e "$RSH" "$PROJ/" "sandbox:scratch/code-snapshots/bench-inplace/")
  t1=$(now)
  echo "$t1 - $t0" | bc -l >>"$WORK/i.sec"
  sed -n 's/^Total bytes sent: \([0-9,]*\).*/\1/p' <<<"$out" | tr -d , >>"$WORK/i.bytes"
  after=$(du -sk "$SNAPS/bench-inplace" | cut -f1)
  echo $((after - before)) >>"$WORK/i.disk"
done

row() {
  printf '%-34s %14s %10s %16s\n' "$1" "$(median <"$WORK/$2.bytes")" "$(printf '%.3f' "$(median <"$WORK/$2.sec")")" "$(median <"$WORK/$2.disk")"
}
echo
echo "Project: $FILES files, $bytes_total bytes; one file changed per round; median of $ROUNDS rounds"
echo "(rsync $(rsync --version | head -n 1 | awk '{print $3}'), loopback, every route over the same shared connection)"
echo
printf '%-34s %14s %10s %16s\n' "second and later syncs" "bytes sent" "seconds" "new disk (KiB)"
row "hpcinit sync (new snapshot)" h
row "full copy (rsync -av, new dir)" f
row "rsync in place (same dir)" i
echo
awk -v hb="$(median <"$WORK/h.bytes")" -v fb="$(median <"$WORK/f.bytes")" \
    -v hd="$(median <"$WORK/h.disk")" -v fd="$(median <"$WORK/f.disk")" \
    -v hs="$(median <"$WORK/h.sec")" -v is="$(median <"$WORK/i.sec")" 'BEGIN {
  printf "bytes: %.0fx fewer than a full copy; disk: %.0fx less; time: %.2fx rsync in place\n", fb / hb, fd / (hd ? hd : 1), hs / is
}'
