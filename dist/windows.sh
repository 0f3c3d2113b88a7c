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
#        dist/windows.sh --unit-tests   cross-build the unit tests (`cargo test --lib`, the same
#                                       release build's dependencies) and run them under Wine
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
  # shellcheck disable=SC2086 # a list of packages, split on purpose
  bash dist/deps.sh $DEBS
fi
for f in /usr/bin/rustc /usr/bin/cargo /usr/bin/x86_64-w64-mingw32-gcc; do
  [ -e "$f" ] || die "$f is missing: run dist/windows.sh --deps as root (Debian packages: $DEBS)"
done

cargo_windows() {
  env PATH=/usr/bin:/bin:/usr/sbin:/sbin RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
    /usr/bin/cargo "$@" -j "$JOBS" --release --locked -Zbuild-std=std,panic_abort \
    --target "$TARGET" --features ssh2/openssl-on-win32,vendored-openssl
}
shim() { # For Wine only (Windows 10 and 11 have it): Rust's std imports ProcessPrng from
  # bcryptprimitives.dll, which Wine 8 lacks.
  x86_64-w64-mingw32-gcc -O2 -shared -o "$1/bcryptprimitives.dll" dist/windows/bcp.c dist/windows/bcp.def -ladvapi32
}

if [ "${1:-}" = --unit-tests ]; then
  echo "building the unit tests for $TARGET…" >&2
  exe=$(cargo_windows test -q --lib --no-run --message-format=json |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
  [ -f "$exe" ] || die "cargo built no unit-test executable"
  shim "$(dirname "$exe")"
  export WINEPREFIX=${WINEPREFIX:-/tmp/hpcinit-wine} WINEDEBUG=${WINEDEBUG:--all}
  /usr/lib/wine/wine64 wineboot -i >/dev/null 2>&1 || true
  echo "running $(basename "$exe") under Wine…" >&2
  exec /usr/lib/wine/wine64 "$exe" --test-threads=2
fi

echo "building hpcinit.exe for $TARGET (OpenSSL compiled in)…" >&2
cargo_windows build -q --bin hpcinit
mkdir -p "$OUT"
cp "$CARGO_TARGET_DIR/$TARGET/release/hpcinit.exe" "$OUT/hpcinit.exe"
x86_64-w64-mingw32-strip "$OUT/hpcinit.exe"
shim "$OUT"
(cd "$OUT" && sha256sum hpcinit.exe >hpcinit.exe.sha256)
ls -l "$OUT" >&2
echo "$OUT/hpcinit.exe"
