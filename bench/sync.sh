#!/usr/bin/env bash
# bench/sync.sh — what a code snapshot costs after a one-file change, side by side with the
# routes onboarding guides teach. Against the test cluster (tests/cluster/up.sh), over one
# shared SSH connection for every route, so the figures compare the copies, not logins.
#
#   hpcinit sync        a new immutable snapshot; unchanged files hard-linked
#   full copy           `rsync -av project/ site:scratch/code-snapshots/copy-N/`: a new full copy
#                       each time (immutable too, the way guides keep old runs reproducible)
#   rsync in place      `rsync -a project/ site:scratch/code-snapshots/inplace/`: cheap, but it
#                       changes the code under jobs that are waiting in the queue
#
# Each project size in $FILES is measured over two links: loopback, and a login node
# 2×$DELAY_MS ms away (every byte of the shared connection crosses bench/delay.py, the
# forwarder bench/bootstrap.sh uses). Prints, for the second and later syncs (median of $ROUNDS
# rounds, one file changed each): bytes sent, seconds of wall time, and disk used by the new copy.
#
# Usage: tests/cluster/up.sh (as root); bash bench/sync.sh
#        FILES="5000 50000" MB=200 DELAY_MS=50 ROUNDS=5 to change; KEEP=1 keeps the laptop
#        homes and projects in /tmp/hs.* for profiling.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${FILES:-5000 50000}
MB=${MB:-200}
ROUNDS=${ROUNDS:-5}
DELAY_MS=${DELAY_MS:-50}
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
[ -f "$D/cluster.env" ] || { echo "bench/sync.sh: the test cluster is not up: run tests/cluster/up.sh" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$D/cluster.env"
set +a
command -v python3 >/dev/null || { echo "bench/sync.sh: needs python3 to make the project" >&2; exit 1; }

if [ -z "${HPCINIT_BIN:-}" ]; then # (HPCINIT_BIN=path measures that binary instead)
  echo "building hpcinit (release)…" >&2
  cargo build --release --quiet
  HPCINIT_BIN=$PWD/target/release/hpcinit
fi
BIN=$HPCINIT_BIN

# Short paths: ssh's ControlPath socket must fit in 108 bytes.
WORK=$(mktemp -d /tmp/hs.XXXXXX)
SNAPS=$D/scratch/$HPCINIT_TEST_USER/code-snapshots
FWD_PID=
FWD_PORT=3${HPCINIT_PLAIN_PORT: -3}
cleanup() {
  for h in "$WORK"/*/home; do
    [ -d "$h" ] && ssh -F "$h/.ssh/config" -O exit bench-sync-site >/dev/null 2>&1 || true
  done
  [ -n "$FWD_PID" ] && kill "$FWD_PID" 2>/dev/null || true
  rm -rf "$SNAPS/bench-sync" "$SNAPS/bench-copy-"* "$SNAPS/bench-inplace"
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# One project size over one link: appends "files link route bytes seconds disk" rows.
measure() { # files delay_ms label
  local files=$1 delay=$2 label=$3
  local run=$WORK/$files-$delay
  local laptop=$run/home
  local proj=$laptop/bench-project
  mkdir -p "$laptop"
  cp -a "$WORK/project-$files" "$proj"
  rm -rf "$SNAPS/bench-sync" "$SNAPS/bench-copy-"* "$SNAPS/bench-inplace"
  python3 bench/delay.py 127.0.0.1 "$FWD_PORT" 127.0.0.1 "$HPCINIT_PLAIN_PORT" "$delay" "$run/link.json" &
  FWD_PID=$!
  for _ in $(seq 50); do [ -f "$run/link.json" ] && break; sleep 0.1; done
  # The site, reached through the forwarder only.
  sed -e 's/^name: sandbox$/name: bench-sync-site/' -e "s/^  port: $HPCINIT_PLAIN_PORT\$/  port: $FWD_PORT/" \
    profiles/sandbox.yaml >"$run/site.yaml"
  run_() {
    env -i HOME="$laptop" PATH="$PATH" NO_COLOR=1 USER=student SSH_ASKPASS="$HPCINIT_ASKPASS" \
      SSH_ASKPASS_REQUIRE=force DISPLAY=:0 HPCINIT_CLUSTER_DIR="$D" HPCINIT_ASKPASS_LOG="$run/prompts.log" \
      "$BIN" --profile "$run/site.yaml" --site bench-sync-site --user "$HPCINIT_TEST_USER" "$@"
  }
  local rsh="ssh -F $laptop/.ssh/config -o BatchMode=yes -o ControlMaster=no"
  # The person's rsync, reading the laptop's ssh config (its Include follows $HOME).
  rsync_() { env HOME="$laptop" rsync "$@"; }
  sync_() { run_ sync --project-dir "$proj" --project-name bench-sync "$@"; }
  run_ --yes --accept-new-host-key --no-passphrase --ssh-only >/dev/null
  env HOME="$laptop" ssh -F "$laptop/.ssh/config" -o BatchMode=yes bench-sync-site true
  # First copies (not measured): every route starts from a copy of the project.
  sync_ >/dev/null 2>"$run/err" || { cat "$run/err" >&2; exit 1; }
  rsync_ -a -e "$rsh" "$proj/" "bench-sync-site:scratch/code-snapshots/bench-inplace/" >/dev/null
  rsync_ -a -e "$rsh" "$proj/" "bench-sync-site:scratch/code-snapshots/bench-copy-0/" >/dev/null
  local r k m t0 t1 out prev new before after
  for k in h f i; do for m in sec bytes disk; do : >"$run/$k.$m"; done; done
  : >"$run/h.phases"
  for r in $(seq 1 "$ROUNDS"); do
    sleep 1.1 # a new second, so the file's size or time differs from the last copy
    printf 'changed %s\n' "$r" >>"$proj/pkg00/mod0/file00000.py"

    prev=$(readlink "$SNAPS/bench-sync/latest")
    t0=$(now)
    out=$(sync_ -v 2>"$run/err") || { cat "$run/err" >&2; exit 1; }
    t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$run/h.sec"
    sed -n 's/.*rsync: \([0-9]*\) bytes sent.*/\1/p' <<<"$out" >>"$run/h.bytes"
    # Where hpcinit's time went (its -v lines, on the run's own clock): when rsync started, the
    # listing (beside the connection check, and beside rsync reaching the cluster when there is
    # an index to copy the changes against), then rsync's own phases as the cluster's side
    # reported them.
    listing=$(sed -n 's/.*listed in \([0-9]*\) ms.*/\1/p' <<<"$out" | head -n 1)
    t=$(sed -n "s/.*rsync's time: //p" <<<"$out" | head -n 1)
    phase() {
      local v
      v=$(sed -n "s/.*$1 \([0-9]*\) ms.*/\1/p" <<<"$t")
      echo "${v:-0}"
    }
    echo "${listing:-0} $(phase started) $(phase 'rsync after') $(phase 'given after') $(phase transfer) $(phase finishing)" >>"$run/h.phases"
    new=$(readlink "$SNAPS/bench-sync/latest")
    [ "$new" != "$prev" ] || { echo "bench/sync.sh: no new snapshot in round $r" >&2; echo "$out" >&2; exit 1; }
    du -sk "$SNAPS/bench-sync/$prev" "$SNAPS/bench-sync/$new" | tail -n 1 | cut -f1 >>"$run/h.disk"
    # The cluster prepares the next copy in the background: let it finish before the other
    # routes are timed, so it does not slow them down.
    for _ in $(seq 200); do [ -d "$SNAPS/bench-sync/.hpcinit-next" ] && break; sleep 0.05; done

    t0=$(now)
    out=$(rsync_ -av --stats -e "$rsh" "$proj/" "bench-sync-site:scratch/code-snapshots/bench-copy-$r/")
    t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$run/f.sec"
    sed -n 's/^Total bytes sent: \([0-9,]*\).*/\1/p' <<<"$out" | tr -d , >>"$run/f.bytes"
    du -sk "$SNAPS/bench-copy-$((r - 1))" "$SNAPS/bench-copy-$r" | tail -n 1 | cut -f1 >>"$run/f.disk"
    rm -rf "$SNAPS/bench-copy-$((r - 1))"

    before=$(du -sk "$SNAPS/bench-inplace" | cut -f1)
    t0=$(now)
    out=$(rsync_ -a --stats -e "$rsh" "$proj/" "bench-sync-site:scratch/code-snapshots/bench-inplace/")
    t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$run/i.sec"
    sed -n 's/^Total bytes sent: \([0-9,]*\).*/\1/p' <<<"$out" | tr -d , >>"$run/i.bytes"
    after=$(du -sk "$SNAPS/bench-inplace" | cut -f1)
    echo $((after - before)) >>"$run/i.disk"
  done
  env HOME="$laptop" ssh -F "$laptop/.ssh/config" -O exit bench-sync-site >/dev/null 2>&1 || true
  kill "$FWD_PID" 2>/dev/null || true
  wait "$FWD_PID" 2>/dev/null || true
  FWD_PID=
  for k in h f i; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$files" "$label" "$k" "$(median <"$run/$k.bytes")" \
      "$(median <"$run/$k.sec")" "$(median <"$run/$k.disk")" >>"$WORK/results"
  done
  # The phases' medians, each column on its own: listing, rsync's start, the cluster's rsync, the
  # list given, transfer, finishing.
  local col phases=()
  for col in 1 2 3 4 5 6; do
    phases+=("$(awk -v c="$col" 'NF >= c {print $c}' "$run/h.phases" | median)")
  done
  printf '%s\t%s\t%s\n' "$files" "$label" "${phases[*]}" >>"$WORK/phases"
}

: >"$WORK/results"
: >"$WORK/phases"
for files in $FILES; do
  echo "making a project of $files files, about $MB MB…" >&2
  python3 - "$WORK/project-$files" "$files" "$MB" <<'EOF'
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
  for link in "0 loopback" "$DELAY_MS +$((2 * DELAY_MS))ms"; do
    set -- $link
    echo "… $files files, $2" >&2
    measure "$files" "$1" "$2"
  done
done

echo
echo "One file changed per round; median of $ROUNDS rounds; rsync $(rsync --version | head -n 1 | awk '{print $3}');"
echo "every route over the same shared connection (loopback, or bench/delay.py adding the RTT shown)."
python3 - "$WORK/results" "$WORK/phases" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
phases = {}
for l in open(sys.argv[2]):
    files, link, values = l.rstrip("\n").split("\t")
    phases[(files, link)] = values.split()
names = {"h": "hpcinit sync (new snapshot)", "f": "full copy (rsync -av, new dir)", "i": "rsync in place (same dir)"}
by = {}
for files, link, k, b, s, d in rows:
    by.setdefault((files, link), {})[k] = (int(float(b)), float(s), int(float(d)))
for (files, link), r in by.items():
    print(f"\n{files} files, {link}")
    print(f"  {'route':<32} {'bytes sent':>12} {'seconds':>9} {'new disk (KiB)':>15}")
    for k in "hfi":
        b, s, d = r[k]
        print(f"  {names[k]:<32} {b:>12} {s:>9.3f} {d:>15}")
    hb, hs, hd = r["h"]
    fb, fs, fd = r["f"]
    ib, is_, idd = r["i"]
    print(f"  hpcinit: {hs / is_:.2f}x rsync in place; {fb / max(hb, 1):.0f}x fewer bytes and {fd / max(hd, 1):.0f}x less disk than a full copy")
    ph = phases.get((files, link), [])
    if len(ph) == 6:
        li, st, to, given, tr, fi = (float(x) for x in ph)
        rest = hs * 1000 - st - max(to, given) - tr - fi
        print(f"  where hpcinit's {hs * 1000:.0f} ms went (medians, ms): start and connection check {st:.0f};"
              f" then side by side, the listing {li:.0f} and rsync reaching the cluster's side {to:.0f}"
              f" (the list given {given:.0f} after rsync started); transfer {tr:.0f}; finishing {fi:.0f};"
              f" the rest {rest:.0f} (the index compared, the manifest made and written, the process's end);"
              f" rsync in place in all: {is_ * 1000:.0f}")
EOF
