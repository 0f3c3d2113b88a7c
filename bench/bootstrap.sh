#!/usr/bin/env bash
# bench/bootstrap.sh — what a first bootstrap costs a person, by three routes, on the test
# cluster (tests/cluster/up.sh): key → ~/.ssh/config → host key → key registration →
# directories → venv (module-loaded Python, requirements, import check) → code copy of a
# $FILES-file project → a smoke job whose log line is read back.
#
#   hpcinit   `hpcinit --site S --check-job`: every step checked, applied, verified
#             (bench/bootstrap/hpcinit.sh)
#   manual    the course-notes route: one ssh/scp/rsync per step, each a new connection
#             (bench/bootstrap/manual.sh)
#   openssh   the best plain-OpenSSH script: one ControlMaster connection, the remote steps
#             batched into one command, one rsync, one submit-and-wait (bench/bootstrap/openssh.sh)
#
# Each route runs from a fresh laptop home inside a network namespace of this script's own,
# whose only way to the cluster is a forwarder (bench/delay.py) that delays each direction by
# 0 ms ("loopback") and by $DELAY_MS ms ("+RTT": a login node 2×$DELAY_MS ms away; this
# kernel may lack netem, the forwarder does not need it). On each node (the second-factor node,
# password + TOTP, and the plain node, password then key) it prints:
#   auths       authentications sshd accepted (its log, "Accepted … for hpcuser")
#   2FA         one-time codes the person was asked for (the askpass log)
#   prompts     everything the person was asked (password, code)
#   conns       TCP connections to the login node (the forwarder)
#   turns       round trips: times the laptop spoke after the node answered (the forwarder)
#   seconds     wall time of the route, smoke job included
# and checks each route's outcome: the venv imports, the job's log line is there.
#
# Usage: sudo tests/cluster/up.sh; sudo bash bench/bootstrap.sh
#        DELAY_MS=50 FILES=200 NODES="mfa plain" ROUTES="hpcinit openssh manual" ROUNDS=1
#        KEEP=1 keeps the laptop homes in /tmp/hb.*
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/laptop_ns.sh
. bench/laptop_ns.sh
DELAY_MS=${DELAY_MS:-50}
FILES=${FILES:-200}
NODES=${NODES:-mfa plain}
ROUTES=${ROUTES:-hpcinit openssh manual}
ROUNDS=${ROUNDS:-1}
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
die() { echo "bench/bootstrap.sh: $*" >&2; exit 1; }
[ -f "$D/cluster.env" ] || die "the test cluster is not up: run sudo tests/cluster/up.sh"
[ "$(id -u)" -eq 0 ] || die "run as root: it makes a network namespace and a veth pair"
command -v ip >/dev/null || die "needs ip (Debian package iproute2)"
set -a
# shellcheck disable=SC1091
. "$D/cluster.env"
set +a
RUSER=$HPCINIT_TEST_USER
RHOME=$D/home/$RUSER

echo "building hpcinit (release)…" >&2
cargo build --release --quiet
BIN=$PWD/target/release/hpcinit

# Short paths: ssh's ControlPath socket must fit in 108 bytes.
WORK=$(mktemp -d /tmp/hb.XXXXXX)
chmod 755 "$WORK"
NS=hpcinit-bench-$$
VETH=hb$$
NET=10.231.$(($$ % 250)).
FWD_PID=
remote_clean() { # what a run leaves on the cluster, so the next one starts fresh
  rm -rf "$RHOME/venvs/bench" "$RHOME/venvs/.bench."* "$RHOME"/bench-requirements.txt \
    "$RHOME/sbatch/bench"* "$RHOME/scratch/code-snapshots/bench"* "$RHOME/scratch/logs/bench"* \
    "$RHOME/scratch/logs/hpcinit-check-"*
  # Keys a route registered go; the ones there before stay.
  [ -f "$WORK/authorized_keys" ] && cat "$WORK/authorized_keys" >"$RHOME/.ssh/authorized_keys"
  true
}
cleanup() {
  [ -n "$FWD_PID" ] && kill "$FWD_PID" 2>/dev/null || true
  laptop_ns_del "$NS" "$VETH"
  remote_clean
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
cp "$RHOME/.ssh/authorized_keys" "$WORK/authorized_keys"

# --- the laptop's network: a namespace whose one link leads to the forwarder ------------------
laptop_ns "$NS" "$VETH" "$NET"
ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$HPCINIT_MFA_PORT" 2>/dev/null \
  && die "the namespace reaches the cluster without the forwarder"
FWD_PORT=3${HPCINIT_MFA_PORT: -3}

# --- the project: $FILES files with a requirements.txt ------------------------------------------
PROJ_SRC=$WORK/project
python3 - "$PROJ_SRC" "$FILES" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
os.makedirs(root)
with open(os.path.join(root, "requirements.txt"), "w") as f:
    f.write("hpcinit-demo==1.0\n")
with open(os.path.join(root, "main.py"), "w") as f:
    f.write("import hpcinit_demo\nprint('hello from', hpcinit_demo.__name__)\n")
for i in range(n - 2):
    d = os.path.join(root, f"pkg{i % 10}", f"sub{i % 4}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"mod{i:03d}.py"), "w") as f:
        f.write("".join(f"VALUE_{j} = {rng.randrange(10**9)}\n" for j in range(rng.randrange(10, 120))))
EOF

# --- one route, on one node, over one link -------------------------------------------------------
# Prints: route node link auths 2fa prompts conns turns seconds
run_route() { # route node delay_ms label
  local route=$1 node=$2 delay=$3 label=$4
  local port alias module profile
  if [ "$node" = mfa ]; then
    port=$HPCINIT_MFA_PORT alias=bench-mfa module=$HPCINIT_MODULE_EASYBUILD base=sandbox-mfa
  else
    port=$HPCINIT_PLAIN_PORT alias=bench-plain module="StdEnv/2023 $HPCINIT_MODULE_ALLIANCE" base=sandbox
  fi
  RUN_N=$((RUN_N + 1))
  local run=$WORK/$RUN_N
  local home=$run/home
  mkdir -p "$home"
  cp -r "$PROJ_SRC" "$home/bench"
  # The profile: the test node, reached through the forwarder.
  profile=$run/$alias.yaml
  sed -e "s/^name: $base\$/name: $alias/" -e "s/^  host: 127.0.0.1\$/  host: ${NET}1/" \
    -e "s/^  port: $port\$/  port: $FWD_PORT/" "profiles/$base.yaml" >"$profile"
  remote_clean
  python3 bench/delay.py "${NET}1" "$FWD_PORT" 127.0.0.1 "$port" "$delay" "$run/link.json" &
  FWD_PID=$!
  for _ in $(seq 50); do [ -f "$run/link.json" ] && break; sleep 0.1; done
  local log=$HPCINIT_SSHD_LOG_PLAIN
  [ "$node" = mfa ] && log=$HPCINIT_SSHD_LOG_MFA
  local start_byte
  start_byte=$(stat -c %s "$log")
  local t0 t1 status=0
  t0=$(date +%s.%N)
  ip netns exec "$NS" env -i HOME="$home" PATH="$PATH" USER=student NO_COLOR=1 \
    SSH_ASKPASS="$HPCINIT_ASKPASS" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    HPCINIT_CLUSTER_DIR="$D" HPCINIT_ASKPASS_LOG="$run/prompts.log" \
    ALIAS="$alias" HOST="${NET}1" PORT="$FWD_PORT" RUSER="$RUSER" NODE="$node" MODULE="$module" \
    PROJ="$home/bench" NAME=bench BIN="$BIN" PROFILE="$profile" STEPS_LOG="$run/steps" \
    setsid bash "bench/bootstrap/$route.sh" </dev/null >"$run/out" 2>"$run/err" || status=$?
  t1=$(date +%s.%N)
  # Close whatever master the route left, then the forwarder.
  env HOME="$home" ssh -F "$home/.ssh/config" -O exit "$alias" >/dev/null 2>&1 || true
  sleep 0.2
  kill "$FWD_PID" 2>/dev/null || true
  wait "$FWD_PID" 2>/dev/null || true
  FWD_PID=
  if [ "$status" != 0 ] || ! grep -q 'check ok' "$run/out"; then
    echo "bench/bootstrap.sh: route $route on $node ($label) failed (exit $status):" >&2
    tail -n 30 "$run/out" "$run/err" >&2
    exit 1
  fi
  # The outcome, checked on the cluster: the venv imports the requirement.
  runuser -u "$RUSER" -- "$RHOME/venvs/bench/bin/python" -c 'import hpcinit_demo' \
    || die "route $route on $node ($label): ~/venvs/bench does not import hpcinit_demo"
  local auths
  auths=$(tail -c +"$((start_byte + 1))" "$log" | grep -c "^Accepted .* for $RUSER from" || true)
  local twofa prompts
  twofa=$(grep -ci 'one-time' "$run/prompts.log" 2>/dev/null || true)
  prompts=$(wc -l <"$run/prompts.log" 2>/dev/null || echo 0)
  [ -f "$run/steps" ] && printf '%s\t%s\t%s\n' "$run/steps" "$node" "$label" >>"$WORK/steps"
  python3 - "$run/link.json" "$route" "$node" "$label" "$auths" "${twofa:-0}" "$prompts" "$t0" "$t1" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
route, node, label, auths, twofa, prompts, t0, t1 = sys.argv[2:]
print(route, node, label, auths, twofa, prompts, s["connections"], s["turns"], "%.2f" % (float(t1) - float(t0)))
EOF
}

results=$WORK/results
RUN_N=0
: >"$results"
: >"$WORK/steps"
for node in $NODES; do
  for link in "0 loopback" "$DELAY_MS +$((2 * DELAY_MS))ms"; do
    set -- $link
    for round in $(seq "$ROUNDS"); do
      for route in $ROUTES; do
        echo "… $route on the $node node, $2 (round $round)" >&2
        run_route "$route" "$node" "$1" "$2" >>"$results"
      done
    done
  done
done

# --- the table: medians over the rounds ------------------------------------------------------------
python3 - "$results" "$FILES" "$DELAY_MS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
files, delay = sys.argv[2], int(sys.argv[3])
groups = {}
for r in rows:
    groups.setdefault((r[1], r[2], r[0]), []).append(r)
node_name = {"mfa": "second-factor node (password + one-time code)", "plain": "plain node (password, then key)"}
print(f"First bootstrap of a {files}-file project, smoke job included (median of {len(next(iter(groups.values())))} round(s))")
for node in dict.fromkeys(k[0] for k in groups):
    print(f"\n{node_name[node]}")
    print(f"  {'link':<10} {'route':<9} {'auths':>5} {'2FA':>4} {'prompts':>7} {'conns':>5} {'turns':>5} {'seconds':>8}")
    for link in dict.fromkeys(k[1] for k in groups if k[0] == node):
        base = None
        for route in dict.fromkeys(k[2] for k in groups if k[:2] == (node, link)):
            rs = groups[(node, link, route)]
            med = lambda i: statistics.median(float(r[i]) for r in rs)
            secs = med(8)
            if route == "openssh":
                base = secs
            print(f"  {link:<10} {route:<9} {med(3):>5g} {med(4):>4g} {med(5):>7g} {med(6):>5g} {med(7):>5g} {secs:>8.2f}")
        rs = {k[2]: statistics.median(float(r[8]) for r in v) for k, v in groups.items() if k[:2] == (node, link)}
        if "hpcinit" in rs and "openssh" in rs:
            print(f"  {link:<10} hpcinit / best OpenSSH script: {rs['hpcinit'] / rs['openssh']:.2f}×")
EOF

# --- hpcinit's steps: round trips (its own count: exchanges that waited for the cluster's
# answer) and milliseconds, from its -v lines; medians over the rounds -----------------------------
python3 - "$WORK/steps" <<'EOF'
import re, statistics, sys
head = re.compile(r"^\[(\d+)/(\d+)\] (.+?)(?::\s+[^\w\s(].*)?$")
trips = re.compile(r"↔ (\d+) round trips? in this step, (\d+) ms")
took = re.compile(r"↔ this step took (\d+) ms")
runs = {}
for line in open(sys.argv[1]):
    path, node, link = line.rstrip("\n").split("\t")
    steps, cur = [], None
    for l in open(path):
        m = head.match(l.strip())
        if m:
            cur = [m.group(3), 0, 0]
            steps.append(cur)
            continue
        for r in (trips, took):
            t = r.search(l)
            if t and cur is not None:
                cur[1], cur[2] = (int(t.group(1)), int(t.group(2))) if r is trips else (0, int(t.group(1)))
    runs.setdefault((node, link), []).append(steps)
node_name = {"mfa": "second-factor node", "plain": "plain node"}
for (node, link), all_steps in runs.items():
    print(f"\nhpcinit's steps, {node_name.get(node, node)}, {link} (round trips as hpcinit counts them; ms from the step's start to its report)")
    print(f"  {'step':<24} {'round trips':>11} {'ms':>7}")
    titles = [s[0] for s in all_steps[0]]
    for i, t in enumerate(titles):
        rows = [s[i] for s in all_steps if i < len(s) and s[i][0] == t]
        print(f"  {t:<24} {statistics.median(r[1] for r in rows):>11g} {statistics.median(r[2] for r in rows):>7g}")
    total = [sum(r[1] for r in s) for s in all_steps]
    print(f"  {'all steps':<24} {statistics.median(total):>11g}")
EOF
