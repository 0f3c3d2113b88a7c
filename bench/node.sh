#!/usr/bin/env bash
# bench/node.sh — from a command to a command's answer on a compute node of the test cluster
# (tests/cluster/up.sh), and the node released again, by two routes:
#
#   hpcinit   `hpcinit shell -- hostname`: one exchange starts and follows the job, one looks at
#             the node, then ssh to the node through the login node's shared connection, then one
#             exchange cancels the job
#   hand      the best hand-written route over the same ssh config and shared connection:
#             `ssh SITE sbatch --parsable` of the same job, `ssh SITE squeue` once a second until
#             it runs, `ssh NODE hostname` (ProxyJump through the login alias), `ssh SITE scancel`
#
# The hand route is given what hpcinit sets up (the node's Host block and its recorded host key;
# by hand that is a config to write and a host-key question to answer first). Both run with the
# shared connection alive ("warm": the usual case after a bootstrap) and without it ("cold": one
# sign-in first). Per route it prints prompts, authentications at the login node and at the
# compute node, ssh round trips, and seconds (median of $ROUNDS rounds), and hpcinit's time over
# the hand route's.
#
# Usage: sudo tests/cluster/up.sh; sudo bash bench/node.sh        ROUNDS=5 KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
die() { echo "bench/node.sh: $*" >&2; exit 1; }
[ -f "$D/cluster.env" ] || die "the test cluster is not up: run sudo tests/cluster/up.sh"
[ "$(id -u)" -eq 0 ] || die "run as root (the test cluster's logs and Slurm are root's)"
set -a
# shellcheck disable=SC1091
. "$D/cluster.env"
set +a
RUSER=$HPCINIT_TEST_USER
RHOME=$D/home/$RUSER
NODE=$HPCINIT_NODE_NAME
export SLURM_CONF

echo "building hpcinit (release)…" >&2
cargo build --release --quiet
BIN=$PWD/target/release/hpcinit
WORK=$(mktemp -d /tmp/hn.XXXXXX)
chmod 755 "$WORK"
HOMEDIR=$WORK/home
ALIAS=sandbox
cleanup() {
  scancel -u "$RUSER" 2>/dev/null || true
  env HOME="$HOMEDIR" ssh -F "$HOMEDIR/.ssh/config" -O exit "$ALIAS" >/dev/null 2>&1 || true
  rm -rf "$RHOME/venvs/nbench" "$RHOME/scratch/code-snapshots/nbench" "$RHOME/sbatch/nbench"*
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

laptop() {
  env -i HOME="$HOMEDIR" PATH="$PATH" USER=student NO_COLOR=1 SSH_ASKPASS="$HPCINIT_ASKPASS" \
    SSH_ASKPASS_REQUIRE=force DISPLAY=:0 HPCINIT_CLUSTER_DIR="$D" HPCINIT_ASKPASS_LOG="$WORK/prompts.log" "$@"
}
ssh_() { laptop ssh -F "$HOMEDIR/.ssh/config" "$@"; }

# --- once: a bootstrapped project, the node's key recorded ------------------------------------
mkdir -p "$HOMEDIR/nbench"
printf 'hpcinit-demo\n' >"$HOMEDIR/nbench/requirements.txt"
echo "… bootstrap and a first session (records the node's host key)" >&2
(cd "$HOMEDIR/nbench" && laptop "$BIN" --site "$ALIAS" --user "$RUSER" --project-name nbench --yes \
  --accept-new-host-key --no-passphrase >"$WORK/bootstrap.out" 2>&1) \
  || { tail -20 "$WORK/bootstrap.out" >&2; die "the bootstrap failed"; }
SHELL_ARGS=(shell --site "$ALIAS" --user "$RUSER" --project-name nbench)
(cd "$HOMEDIR/nbench" && laptop "$BIN" "${SHELL_ARGS[@]}" -- hostname >"$WORK/first.out" 2>&1) \
  || { cat "$WORK/first.out" >&2; die "the first hpcinit shell failed"; }
(cd "$HOMEDIR/nbench" && laptop "$BIN" "${SHELL_ARGS[@]}" --dry-run >"$WORK/plan.txt") || die "shell --dry-run failed"
JOB=$WORK/job.sh
sed -n '/^The job/,/^The shell/p' "$WORK/plan.txt" | sed -e '1d' -e '$d' | sed -e 's/^    //' -e '/^$/d' >"$JOB"
grep -q '^exec sleep infinity' "$JOB" || die "could not take the job from the plan"

hand() {
  local id st n=4
  id=$(ssh_ "$ALIAS" "cd ~/scratch && sbatch --parsable" <"$JOB")
  while :; do
    st=$(ssh_ "$ALIAS" squeue -h -j "$id" -o '%T')
    n=$((n + 1))
    [ "$st" = RUNNING ] && break
    sleep 1
  done
  ssh_ "$NODE" hostname
  ssh_ "$ALIAS" scancel "$id"
  echo "$n" >"$WORK/trips"
}

# Prints: route state login-auths node-auths prompts trips seconds
run_once() { # route state
  local route=$1 state=$2 out=$WORK/run.out
  ssh_ -O exit "$ALIAS" >/dev/null 2>&1 || true
  if [ "$state" = warm ]; then ssh_ "$ALIAS" true; fi
  : >"$WORK/prompts.log"
  local lb nb t0 t1 trips
  lb=$(stat -c %s "$HPCINIT_SSHD_LOG_PLAIN")
  nb=$(stat -c %s "$HPCINIT_SSHD_LOG_NODE")
  t0=$(date +%s.%N)
  if [ "$route" = hpcinit ]; then
    (cd "$HOMEDIR/nbench" && laptop "$BIN" "${SHELL_ARGS[@]}" -v -- hostname >"$out" 2>&1) \
      || { cat "$out" >&2; die "hpcinit shell failed"; }
    # Its exchanges (-v counts each) and the ssh to the node.
    trips=$(($(grep -c '↔ remote' "$out" || true) + 1))
  else
    hand >"$out" 2>&1 || { cat "$out" >&2; die "the hand route failed"; }
    trips=$(cat "$WORK/trips")
  fi
  t1=$(date +%s.%N)
  grep -qx "$NODE" "$out" || { cat "$out" >&2; die "$route: the node did not answer"; }
  local la na prompts
  la=$(tail -c +"$((lb + 1))" "$HPCINIT_SSHD_LOG_PLAIN" | grep -c "^Accepted .* for $RUSER from" || true)
  na=$(tail -c +"$((nb + 1))" "$HPCINIT_SSHD_LOG_NODE" | grep -c "^Accepted .* for $RUSER from" || true)
  prompts=$(wc -l <"$WORK/prompts.log")
  echo "$route $state $la $na $prompts $trips $(python3 -c "print('%.2f' % ($t1 - $t0))")"
  for _ in $(seq 100); do [ -z "$(squeue -h -u "$RUSER")" ] && break; sleep 0.1; done
}

results=$WORK/results
: >"$results"
for round in $(seq "$ROUNDS"); do
  for state in warm cold; do
    for route in hand hpcinit; do
      echo "… $route, $state (round $round)" >&2
      run_once "$route" "$state" >>"$results"
    done
  done
done

python3 - "$results" "$ROUNDS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
groups = {}
for route, state, la, na, prompts, trips, secs in rows:
    groups.setdefault((state, route), []).append((int(la), int(na), int(prompts), int(trips), float(secs)))
print(f"From a command to `hostname` answered by a compute node, job released, median of {sys.argv[2]} round(s)")
print(f"  {'connection':<11} {'route':<8} {'login auths':>11} {'node auths':>10} {'prompts':>7} {'trips':>5} {'seconds':>8} {'× hand':>7}")
for (state, route), v in groups.items():
    med = statistics.median(x[4] for x in v)
    hand = statistics.median(x[4] for x in groups[(state, "hand")])
    m = [statistics.median(x[i] for x in v) for i in range(4)]
    print(f"  {state:<11} {route:<8} {m[0]:>11g} {m[1]:>10g} {m[2]:>7g} {m[3]:>5g} {med:>8.2f} {med / hand:>7.2f}")
EOF
