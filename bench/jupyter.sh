#!/usr/bin/env bash
# bench/jupyter.sh — from a command to a Jupyter kernel that answers, on a compute node of the
# test cluster (tests/cluster/up.sh), by two routes:
#
#   hpcinit   `hpcinit jupyter --no-browser` (prepare check, submit, follow, runtime file,
#             forward, the server's token refusal checked), then a kernel runs `1 + 1`
#   hand      the best hand-written route: `sbatch` of the same job over the ControlMaster,
#             one ssh that waits on the cluster for the server's runtime file and prints it,
#             one `ssh -O forward`, then the same kernel
#
# Both start with the venv holding Jupyter Lab and the job script written, as a person's second
# notebook of the day would; each is timed from its first command to the kernel's answer, with
# the shared connection alive ("warm": the usual case after a bootstrap) and without it
# ("cold": one sign-in first). The laptop runs in a network namespace of this script's own,
# whose only way to the login node is bench/delay.py: 0 ms ("loopback") and $DELAY_MS ms each
# way ("+RTT"). Per route it prints prompts, sshd authentications and seconds (median of
# $ROUNDS rounds), and hpcinit's time over the hand route's.
#
# Usage: sudo tests/cluster/up.sh; sudo bash bench/jupyter.sh
#        DELAY_MS=50 ROUNDS=3 KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/laptop_ns.sh
. bench/laptop_ns.sh
DELAY_MS=${DELAY_MS:-50}
ROUNDS=${ROUNDS:-3}
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
die() { echo "bench/jupyter.sh: $*" >&2; exit 1; }
[ -f "$D/cluster.env" ] || die "the test cluster is not up: run sudo tests/cluster/up.sh"
[ "$(id -u)" -eq 0 ] || die "run as root: it makes a network namespace and a veth pair"
set -a
# shellcheck disable=SC1091
. "$D/cluster.env"
set +a
RUSER=$HPCINIT_TEST_USER
RHOME=$D/home/$RUSER
export SLURM_CONF

echo "building hpcinit (release)…" >&2
cargo build --release --quiet
BIN=$PWD/target/release/hpcinit
KERNEL=$PWD/tests/cluster/kernel.py

WORK=$(mktemp -d /tmp/hj.XXXXXX)
chmod 755 "$WORK"
NS=hpcinit-jbench-$$
VETH=hj$$
NET=10.229.$(($$ % 250)).
FWD_PID=
HOMEDIR=$WORK/home
ALIAS=bench-jupyter
FWD_PORT=3${HPCINIT_PLAIN_PORT: -3}
stop_forwarder() {
  [ -n "$FWD_PID" ] && kill "$FWD_PID" 2>/dev/null || true
  [ -n "$FWD_PID" ] && wait "$FWD_PID" 2>/dev/null || true
  FWD_PID=
}
cleanup() {
  scancel -u "$RUSER" 2>/dev/null || true
  env HOME="$HOMEDIR" ssh -F "$HOMEDIR/.ssh/config" -O exit "$ALIAS" >/dev/null 2>&1 || true
  stop_forwarder
  laptop_ns_del "$NS" "$VETH"
  rm -rf "$RHOME/venvs/jbench" "$RHOME/scratch/code-snapshots/jbench" "$RHOME/sbatch/jbench"* \
    "$RHOME/scratch/.bench-jupyter" "$RHOME/scratch/.hpcinit/jupyter"
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

laptop_ns "$NS" "$VETH" "$NET"

start_forwarder() { # delay_ms
  stop_forwarder
  rm -f "$WORK/link.json"
  python3 bench/delay.py "${NET}1" "$FWD_PORT" 127.0.0.1 "$HPCINIT_PLAIN_PORT" "$1" "$WORK/link.json" &
  FWD_PID=$!
  for _ in $(seq 50); do [ -f "$WORK/link.json" ] && break; sleep 0.1; done
}

# Runs a command as the laptop: inside the namespace, with its own home and askpass.
laptop() {
  ip netns exec "$NS" env -i HOME="$HOMEDIR" PATH="$PATH" USER=student NO_COLOR=1 \
    SSH_ASKPASS="$HPCINIT_ASKPASS" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    HPCINIT_CLUSTER_DIR="$D" HPCINIT_ASKPASS_LOG="$WORK/prompts.log" "$@"
}

# --- once: a bootstrapped project whose venv has Jupyter Lab ------------------------------------
mkdir -p "$HOMEDIR/jbench"
printf 'hpcinit-demo\n' >"$HOMEDIR/jbench/requirements.txt"
printf 'import hpcinit_demo\n' >"$HOMEDIR/jbench/main.py"
PROFILE=$WORK/$ALIAS.yaml
sed -e "s/^name: sandbox\$/name: $ALIAS/" -e "s/^  host: 127.0.0.1\$/  host: ${NET}1/" \
  -e "s/^  port: $HPCINIT_PLAIN_PORT\$/  port: $FWD_PORT/" profiles/sandbox.yaml >"$PROFILE"
start_forwarder 0
echo "… bootstrap and a first session (installs Jupyter Lab into the venv)" >&2
(cd "$HOMEDIR/jbench" && laptop "$BIN" --profile "$PROFILE" --site "$ALIAS" --user "$RUSER" \
  --project-name jbench --yes --accept-new-host-key --no-passphrase >"$WORK/bootstrap.out" 2>&1) \
  || { tail -20 "$WORK/bootstrap.out" >&2; die "the bootstrap failed"; }
(cd "$HOMEDIR/jbench" && laptop "$BIN" --profile "$PROFILE" jupyter --site "$ALIAS" --user "$RUSER" \
  --project-name jbench --no-browser --dry-run >"$WORK/plan.txt") || die "jupyter --dry-run failed"

# The hand route's job: the same script hpcinit submits (its runtime files go where it is
# submitted from), submitted from a private directory of its own.
JOB=$WORK/job.sh
sed -n '/^The job/,/^Exchanges/p' "$WORK/plan.txt" | sed -e '1d' -e '$d' | sed -e 's/^    //' \
  | sed -e '/^$/d' >"$JOB"
grep -q '^exec jupyter lab' "$JOB" || die "could not take the job from the plan"
# shellcheck disable=SC2088 # expanded on the cluster
PRIV='~/scratch/.bench-jupyter'

# --- one timed run ----------------------------------------------------------------------------
# Prints: route state link auths prompts seconds
run_once() { # route state label
  local route=$1 state=$2 label=$3 out=$WORK/run.out
  laptop ssh -F "$HOMEDIR/.ssh/config" -O exit "$ALIAS" >/dev/null 2>&1 || true
  if [ "$state" = warm ]; then laptop ssh -F "$HOMEDIR/.ssh/config" "$ALIAS" true; fi
  : >"$WORK/prompts.log"
  local start_byte t0 t1 url
  start_byte=$(stat -c %s "$HPCINIT_SSHD_LOG_PLAIN")
  t0=$(date +%s.%N)
  if [ "$route" = hpcinit ]; then
    (cd "$HOMEDIR/jbench" && laptop "$BIN" --profile "$PROFILE" jupyter --site "$ALIAS" --user "$RUSER" \
      --project-name jbench --no-browser >"$out" 2>&1 &)
    for _ in $(seq 1200); do grep -q 'Jupyter Lab: http' "$out" && break; sleep 0.05; done
    url=$(sed -n 's/.*Jupyter Lab: \(http[^ ]*\).*/\1/p' "$out")
  else
    url=$(laptop bash bench/jupyter/hand.sh "$ALIAS" "$HOMEDIR/.ssh/config" "$JOB" "$PRIV" 2>"$out")
  fi
  [ -n "$url" ] || { cat "$out" >&2; die "$route ($state, $label): no URL"; }
  local answer
  answer=$(JUPYTER_TEST_TOKEN=${url##*token=} laptop env JUPYTER_TEST_TOKEN="${url##*token=}" \
    python3 "$KERNEL" "${url%%lab\?*}" <<<'print(1 + 1)')
  t1=$(date +%s.%N)
  case "$answer" in *'"stdout": "2\n"'*) ;; *) die "$route ($state, $label): the kernel said $answer" ;; esac
  local auths prompts
  auths=$(tail -c +"$((start_byte + 1))" "$HPCINIT_SSHD_LOG_PLAIN" | grep -c "^Accepted .* for $RUSER from" || true)
  prompts=$(wc -l <"$WORK/prompts.log")
  echo "$route $state $label $auths $prompts $(python3 -c "print('%.2f' % ($t1 - $t0))")"
  # Not timed: end it (hpcinit cancels its job on Ctrl-C; the hand route's job is cancelled).
  pkill -INT -f "jupyter --site $ALIAS" 2>/dev/null || true
  for _ in $(seq 100); do pgrep -f "jupyter --site $ALIAS" >/dev/null || break; sleep 0.1; done
  scancel -u "$RUSER" 2>/dev/null || true
  laptop ssh -F "$HOMEDIR/.ssh/config" -O cancel -L "127.0.0.1:8899:x:1" "$ALIAS" >/dev/null 2>&1 || true
  for _ in $(seq 100); do [ -z "$(squeue -h -u "$RUSER")" ] && break; sleep 0.1; done
}

results=$WORK/results
: >"$results"
for link in "0 loopback" "$DELAY_MS +$((2 * DELAY_MS))ms"; do
  set -- $link
  start_forwarder "$1"
  # The first session installs Jupyter Lab (not timed).
  [ -s "$results" ] || run_once hpcinit warm "$2" >/dev/null
  for round in $(seq "$ROUNDS"); do
    for state in warm cold; do
      for route in hand hpcinit; do
        echo "… $route, $state, $2 (round $round)" >&2
        run_once "$route" "$state" "$2" >>"$results"
      done
    done
  done
done

python3 - "$results" "$ROUNDS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
groups = {}
for route, state, link, auths, prompts, secs in rows:
    groups.setdefault((link, state, route), []).append((int(auths), int(prompts), float(secs)))
print(f"From a command to a Jupyter kernel that answers, median of {sys.argv[2]} round(s)")
print(f"  {'link':<10} {'connection':<11} {'route':<8} {'auths':>5} {'prompts':>7} {'seconds':>8} {'× hand':>7}")
for (link, state, route), v in groups.items():
    med = statistics.median(s for _, _, s in v)
    hand = statistics.median(s for _, _, s in groups[(link, state, "hand")])
    auths = statistics.median(a for a, _, _ in v)
    prompts = statistics.median(p for _, p, _ in v)
    print(f"  {link:<10} {state:<11} {route:<8} {auths:>5g} {prompts:>7g} {med:>8.2f} {med / hand:>7.2f}")
EOF
