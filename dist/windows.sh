#!/usr/bin/env bash
# dist/windows.sh — hpcinit.exe for 64-bit Windows (x86_64-pc-windows-gnu), cross-built here.
#
# libssh2 uses its OpenSSL backend, compiled in: its default Windows backend (WinCNG) has no
# ed25519, and hpcinit makes ed25519 keys and meets ed25519 host keys. Built with Debian's Rust
# and `-Zbuild-std` (rustup cannot download the Windows target on every build machine).
#
# Usage: dist/windows.sh          build dist/windows/out/hpcinit.exe (about 7 minutes on 2 cores)
#        dist/windows.sh --deps   first install the Debian packages it needs (as root)
#        dist/windows.sh --wine ARGS…   run the built .exe under Wine (tests; see docs/windows.md)
# Env:   CARGO_TARGET_DIR=target/windows  JOBS=2  WINEPREFIX=/tmp/hpcinit-wine
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-pc-windows-gnu
OUT=dist/windows/out
JOBS=${JOBS:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/windows}
DEBS="rustc-web cargo-web rust-web-src libstd-rust-web-dev gcc-mingw-w64-x86-64 wine64 wine"
die() { echo "dist/windows.sh: $*" >&2; exit 1; }

if [ "${1:-}" = --wine ]; then
  shift
  [ -f "$OUT/hpcinit.exe" ] || die "build it first: dist/windows.sh"
  export WINEPREFIX=${WINEPREFIX:-/tmp/hpcinit-wine} WINEDEBUG=${WINEDEBUG:--all}
  exec /usr/lib/wine/wine64 "$OUT/hpcinit.exe" "$@"
fi
if [ "${1:-}" = --deps ]; then
  missing=""
  for p in $DEBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086 # a list of packages, split on purpose
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi
for f in /usr/bin/rustc /usr/bin/cargo /usr/bin/x86_64-w64-mingw32-gcc; do
  [ -e "$f" ] || die "$f is missing: run dist/windows.sh --deps as root (Debian packages: $DEBS)"
done

echo "building hpcinit.exe for $TARGET (OpenSSL compiled in)…" >&2
env PATH=/usr/bin:/bin:/usr/sbin:/sbin RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
  /usr/bin/cargo build -q -j "$JOBS" --release --locked -Zbuild-std=std,panic_abort \
  --target "$TARGET" --bin hpcinit --features ssh2/openssl-on-win32,vendored-openssl
mkdir -p "$OUT"
cp "$CARGO_TARGET_DIR/$TARGET/release/hpcinit.exe" "$OUT/hpcinit.exe"
x86_64-w64-mingw32-strip "$OUT/hpcinit.exe"
# For Wine only (Windows 10 and 11 have it): Rust's std imports ProcessPrng from
# bcryptprimitives.dll, which Wine 8 lacks.
x86_64-w64-mingw32-gcc -O2 -shared -o "$OUT/bcryptprimitives.dll" dist/windows/bcp.c dist/windows/bcp.def -ladvapi32
(cd "$OUT" && sha256sum hpcinit.exe >hpcinit.exe.sha256)
ls -l "$OUT" >&2
echo "$OUT/hpcinit.exe"
