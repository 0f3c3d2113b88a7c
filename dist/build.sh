#!/usr/bin/env bash
# dist/build.sh — hpcinit's release artefacts, built once from one static binary:
#
#   dist/out/hpcinit-<target>.tar.gz (+ .sha256)   the binary, its manual page, shell completions
#   dist/out/hpcinit-<version>-py3-none-manylinux_2_17_x86_64….whl   the same binary for pip/pipx/uv
#   dist/out/hpcinit.1                              the manual page (`man ./dist/out/hpcinit.1`)
#   dist/out/SHA256SUMS                             every file's SHA-256
#
# The binary is x86_64-unknown-linux-musl, static (`ldd`: not a dynamic executable), OpenSSL and
# libssh2 compiled in, so it runs on any x86_64 Linux: a laptop, WSL, an old login node.
# Built with Debian's Rust and `-Zbuild-std` (rustup's targets cannot be downloaded everywhere);
# the recipe and its measurements are in docs/install.md.
#
# Usage: dist/build.sh            build (about 5 minutes on 2 cores; incremental afterwards)
#        dist/build.sh --deps     first install the Debian packages it needs (as root)
# Env:   OUT=dist/out  CARGO_TARGET_DIR=target/dist  JOBS=2
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${TARGET:-x86_64-unknown-linux-musl}
TARGET_ENV=$(printf %s "$TARGET" | tr a-z- A-Z_)
OUT=${OUT:-dist/out}
JOBS=${JOBS:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/dist}
DEBS="rustc-web cargo-web rust-web-src libstd-rust-web-dev musl-tools libunwind-16-dev"
die() { echo "dist/build.sh: $*" >&2; exit 1; }

if [ "${1:-}" = --deps ]; then
  # shellcheck disable=SC2086 # a list of packages, split on purpose
  bash dist/deps.sh $DEBS
fi
for f in /usr/bin/rustc /usr/bin/cargo /usr/bin/musl-gcc /usr/lib/llvm-16/lib/libunwind.a; do
  [ -e "$f" ] || die "$f is missing: run dist/build.sh --deps as root (Debian packages: $DEBS)"
done
[ -d /usr/lib/rustlib/src/rust/library ] || die "the standard library's sources are missing (Debian package rust-web-src)"

# musl's libunwind: Debian's LLVM one, plus a glibc fortify symbol it references.
UNWIND=$CARGO_TARGET_DIR/musl-unwind
mkdir -p "$UNWIND"
if [ ! -f "$UNWIND/libunwind.a" ] || [ dist/musl-fprintf-chk-shim.c -nt "$UNWIND/libunwind.a" ]; then
  cp /usr/lib/llvm-16/lib/libunwind.a "$UNWIND/libunwind.a"
  musl-gcc -c -o "$UNWIND/shim.o" dist/musl-fprintf-chk-shim.c
  ar r "$UNWIND/libunwind.a" "$UNWIND/shim.o" 2>/dev/null
fi

echo "building hpcinit for $TARGET (static; OpenSSL compiled in)…" >&2
env PATH=/usr/bin:/bin:/usr/sbin:/sbin RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
  "CARGO_TARGET_${TARGET_ENV}_LINKER=musl-gcc" \
  "CARGO_TARGET_${TARGET_ENV}_RUSTFLAGS=-Clink-self-contained=no -Crelocation-model=static -L$UNWIND" \
  /usr/bin/cargo build -q -j "$JOBS" --release --locked -Zbuild-std=std,panic_abort \
  --target "$TARGET" --bin hpcinit --features vendored-openssl
BIN=$CARGO_TARGET_DIR/$TARGET/release/hpcinit
strip "$BIN"
if ldd "$BIN" >/dev/null 2>&1; then die "$BIN is a dynamic executable: $(ldd "$BIN" | tr '\n' ' ')"; fi

VERSION=$("$BIN" --version | awk '{print $2}')
[ "$VERSION" = "$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)" ] || die "the binary says version $VERSION, Cargo.toml another"
rm -rf "$OUT"
mkdir -p "$OUT"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PKG=$STAGE/hpcinit-$TARGET
mkdir -p "$PKG/completions"
cp "$BIN" "$PKG/hpcinit"
"$BIN" man >"$PKG/hpcinit.1"
"$BIN" completions bash >"$PKG/completions/hpcinit.bash"
"$BIN" completions zsh >"$PKG/completions/_hpcinit"
"$BIN" completions fish >"$PKG/completions/hpcinit.fish"
cp README.md CHANGELOG.md "$PKG/"
cp install.sh "$PKG/"
# Reproducible archive: fixed order, owner and times.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$STAGE" -czf "$OUT/hpcinit-$TARGET.tar.gz" "hpcinit-$TARGET"
(cd "$OUT" && sha256sum "hpcinit-$TARGET.tar.gz" >"hpcinit-$TARGET.tar.gz.sha256")
cp "$PKG/hpcinit.1" "$OUT/hpcinit.1"
python3 dist/wheel.py "$BIN" "$VERSION" "$OUT" "${TARGET%%-*}" >/dev/null
cp install.sh "$OUT/install.sh"
(cd "$OUT" && sha256sum -- * | grep -v ' SHA256SUMS$' >SHA256SUMS)
ls -l "$OUT" >&2
echo "$OUT"
