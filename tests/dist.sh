#!/usr/bin/env bash
# The release artefacts as a person gets them (docs/install.md), tested on this machine against
# the test cluster: `dist/build.sh` builds them once, then
#   - the wheel goes into a fresh venv; its `hpcinit` runs (--version is the crate's version,
#     `profiles list`, a `plan`) and bootstraps the test cluster's plain node (venv imports,
#     snapshot latest, the smoke job's log line);
#   - the source distribution (`maturin sdist`, as the release makes it) goes into a fresh venv
#     with a plain `pip install`, which builds it (the macOS and aarch64 route; needs PyPI for
#     maturin, Rust and a C compiler; about 6 minutes on 2 cores); its hpcinit runs;
#   - the static binary: `ldd` finds no dynamic dependency; it runs the same bootstrap;
#   - `install.sh --from` the archive into an empty HOME installs to ~/.local/bin (checksum
#     checked), says how to add it to PATH, and refuses a tampered archive, installing nothing;
#   - `man ./hpcinit.1` renders a section for every subcommand.
# Called by tests/run.sh after the cargo tests (the cluster is up); every check is mandatory.
# Usage: bash tests/dist.sh [OUT_DIR]   (OUT_DIR: artefacts already built; default: build them)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${HPCINIT_CLUSTER_DIR:-/tmp/hpcinit-cluster}
fail() { echo "tests/dist.sh: FAIL: $*" >&2; exit 1; }
pass() { echo "tests/dist.sh: ok: $*"; }
[ -f "$D/cluster.env" ] || fail "the test cluster is not up (bash tests/cluster/up.sh)"
set -a
# shellcheck disable=SC1091
. "$D/cluster.env"
set +a

OUT=${1:-}
if [ -z "$OUT" ]; then
  start=$(date +%s)
  if [ "$(id -u)" -eq 0 ]; then bash dist/build.sh --deps >/dev/null; else bash dist/build.sh >/dev/null; fi
  OUT=dist/out
  pass "dist/build.sh built the artefacts in $(($(date +%s) - start)) s"
fi
OUT=$(cd "$OUT" && pwd)
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
W=$(mktemp -d /tmp/hd.XXXXXX)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"

# --- the wheel, in a fresh venv -----------------------------------------------------------------
wheels=("$OUT"/hpcinit-"$VERSION"-py3-none-*manylinux_2_17_x86_64*.whl)
[ -f "${wheels[0]}" ] || fail "no manylinux_2_17 wheel in $OUT: $(ls "$OUT")"
python3 -m venv "$W/v"
PIP_NO_INDEX=1 "$W/v/bin/pip" install -q "${wheels[0]}" || fail "pip install ${wheels[0]}"
[ "$("$W/v/bin/hpcinit" --version)" = "hpcinit $VERSION" ] || fail "the wheel's hpcinit --version: $("$W/v/bin/hpcinit" --version)"
"$W/v/bin/hpcinit" profiles list | grep -q '^saga' || fail "the wheel's hpcinit profiles list"
"$W/v/bin/hpcinit" plan --site saga --user alice --account nn1234k --no-project | grep -q 'Sign in once' ||
  fail "the wheel's hpcinit plan"
pass "the wheel installs into a fresh venv: hpcinit $VERSION, profiles list, plan"

# --- the source distribution, as pip builds it where no wheel fits (macOS, aarch64) ---------------
# Made as the release workflow makes it (`maturin sdist`), then a plain `pip install` of the file
# in a fresh venv: pip fetches maturin (build isolation) and it compiles the crate with the
# Rust and C compiler on PATH, as on a person's machine.
if [ "${HPCINIT_SKIP_SDIST:-0}" != 1 ] || [ "${CI:-}" = true ]; then
  python3 -m venv "$W/m"
  "$W/m/bin/pip" install -q "maturin>=1.5,<2" || fail "pip install maturin (the sdist is made with it; needs PyPI)"
  "$W/m/bin/maturin" sdist --out "$W/sdist" >"$W/sdist.log" 2>&1 || fail "maturin sdist:\n$(cat "$W/sdist.log")"
  sdist=$W/sdist/hpcinit-$VERSION.tar.gz
  [ -f "$sdist" ] || fail "maturin sdist made no $sdist: $(ls "$W/sdist")"
  python3 -m venv "$W/s"
  start=$(date +%s)
  "$W/s/bin/pip" install -q "$sdist" >"$W/sdist-install.log" 2>&1 ||
    fail "pip install $sdist in a fresh venv:\n$(tail -n 40 "$W/sdist-install.log")"
  took=$(($(date +%s) - start))
  [ "$("$W/s/bin/hpcinit" --version)" = "hpcinit $VERSION" ] ||
    fail "the sdist's hpcinit --version: $("$W/s/bin/hpcinit" --version 2>&1)"
  "$W/s/bin/hpcinit" plan --site saga --user alice --account nn1234k --no-project | grep -q 'Sign in once' ||
    fail "the sdist's hpcinit plan"
  pass "the source distribution ($(du -k "$sdist" | cut -f1) KiB): plain pip install in a fresh venv built it in $took s; hpcinit --version and plan run"
fi

# --- the static binary ----------------------------------------------------------------------------
TARGET=x86_64-unknown-linux-musl
archive=$OUT/hpcinit-$TARGET.tar.gz
if [ ! -f "$archive" ] || [ ! -f "$archive.sha256" ]; then fail "no $archive with its .sha256"; fi
mkdir -p "$W/x" && tar -xzf "$archive" -C "$W/x"
STATIC=$W/x/hpcinit-$TARGET/hpcinit
out=$(ldd "$STATIC" 2>&1 || true)
grep -q "not a dynamic executable" <<<"$out" || fail "ldd $STATIC: $out"
cmp -s "$STATIC" "$W/v/bin/hpcinit" || fail "the wheel does not hold the archive's binary"
pass "the static binary: ldd says 'not a dynamic executable'; the wheel holds the same file"

# --- a real bootstrap of the test cluster's plain node with each --------------------------------
bootstrap() { # label binary
  local label=$1 bin=$2 home=$W/home-$1 name=dist-$1
  mkdir -p "$home/proj"
  printf 'hpcinit-demo==1.0\n' >"$home/proj/requirements.txt"
  printf 'import hpcinit_demo\n' >"$home/proj/main.py"
  rm -rf "$D/home/$HPCINIT_TEST_USER/venvs/$name" "$D/scratch/$HPCINIT_TEST_USER/code-snapshots/$name"
  local out status=0
  out=$(cd "$home/proj" && env -i HOME="$home" PATH=/usr/bin:/bin USER=student NO_COLOR=1 \
    SSH_ASKPASS="$HPCINIT_ASKPASS" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 HPCINIT_CLUSTER_DIR="$D" \
    "$bin" --site sandbox --user "$HPCINIT_TEST_USER" --project-name "$name" --yes \
    --accept-new-host-key --no-passphrase --check-job 2>&1) || status=$?
  env HOME="$home" ssh -F "$home/.ssh/config" -O exit sandbox >/dev/null 2>&1 || true
  [ "$status" = 0 ] || fail "$label: the bootstrap exited $status:\n$out"
  grep -q 'hpcinit-check ok' <<<"$out" || fail "$label: no smoke-job line:\n$out"
  runuser -u "$HPCINIT_TEST_USER" -- "$D/home/$HPCINIT_TEST_USER/venvs/$name/bin/python" -c 'import hpcinit_demo' ||
    fail "$label: ~/venvs/$name does not import the requirement"
  [ -L "$D/scratch/$HPCINIT_TEST_USER/code-snapshots/$name/latest" ] || fail "$label: no latest snapshot"
  rm -rf "$D/home/$HPCINIT_TEST_USER/venvs/$name" "$D/home/$HPCINIT_TEST_USER/venvs/.$name."* \
    "$D/scratch/$HPCINIT_TEST_USER/code-snapshots/$name" "$D/home/$HPCINIT_TEST_USER/sbatch/$name.sh"
  pass "$label: bootstrapped the test cluster (venv imports, snapshot latest, smoke job ok)"
}
bootstrap wheel "$W/v/bin/hpcinit"
bootstrap static "$STATIC"

# --- install.sh --from, into an empty HOME --------------------------------------------------------
H=$W/empty-home
mkdir -p "$H"
out=$(env -i HOME="$H" PATH=/usr/bin:/bin SHELL=/bin/bash sh "$OUT/install.sh" --from "$archive" 2>&1) ||
  fail "install.sh --from: $out"
[ -x "$H/.local/bin/hpcinit" ] || fail "install.sh put nothing in ~/.local/bin:\n$out"
[ "$("$H/.local/bin/hpcinit" --version)" = "hpcinit $VERSION" ] || fail "the installed hpcinit does not run"
grep -q "SHA-256 $(cut -d' ' -f1 <"$archive.sha256")" <<<"$out" || fail "install.sh did not report the checksum:\n$out"
grep -q "export PATH=\"$H/.local/bin:\$PATH\"' >> ~/.bashrc" <<<"$out" || fail "install.sh did not say how to add ~/.local/bin to PATH:\n$out"
[ -s "$H/.local/share/man/man1/hpcinit.1" ] || fail "no manual page installed"
pass "install.sh --from installs into an empty HOME's ~/.local/bin, checksum checked, PATH explained"

H2=$W/home-tampered
mkdir -p "$H2"
cp "$archive" "$W/hpcinit-$TARGET.tar.gz"
cp "$archive.sha256" "$W/hpcinit-$TARGET.tar.gz.sha256"
printf 'X' | dd of="$W/hpcinit-$TARGET.tar.gz" bs=1 seek=1000 conv=notrunc status=none
status=0
out=$(env -i HOME="$H2" PATH=/usr/bin:/bin sh "$OUT/install.sh" --from "$W/hpcinit-$TARGET.tar.gz" 2>&1) || status=$?
[ "$status" = 1 ] || fail "a tampered archive: install.sh exited $status:\n$out"
if ! grep -q "^error: .*does not match its checksum" <<<"$out" || ! grep -q "^hint: " <<<"$out"; then
  fail "a tampered archive: no clear error:\n$out"
fi
[ ! -e "$H2/.local/bin/hpcinit" ] || fail "a tampered archive was installed"
rm "$W/hpcinit-$TARGET.tar.gz.sha256"
status=0
out=$(env -i HOME="$H2" PATH=/usr/bin:/bin sh "$OUT/install.sh" --from "$W/hpcinit-$TARGET.tar.gz" 2>&1) || status=$?
if [ "$status" != 1 ] || ! grep -q "^error: no checksum" <<<"$out"; then
  fail "an archive without a checksum is refused:\n$out"
fi
pass "install.sh refuses a tampered archive and one without a checksum; nothing installed"

# --- the manual page --------------------------------------------------------------------------------
page=$(MANWIDTH=100 man -l "$OUT/hpcinit.1" 2>&1) || fail "man -l hpcinit.1: $page"
subs=$("$STATIC" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z][a-z-]* / && $1 != "help" {print $1}')
for s in $subs; do
  grep -q "^HPCINIT $(tr '[:lower:]' '[:upper:]' <<<"$s")\$" <<<"$page" || fail "man ./hpcinit.1 has no section for '$s'"
done
pass "man ./hpcinit.1 renders a section for each of: $(tr "\n" " " <<<"$subs")"
