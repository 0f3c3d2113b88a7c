#!/usr/bin/env sh
# Builds hpcinit from this checkout and installs it with cargo (into ~/.cargo/bin by default).
# Checks what building and running it need, and says what is missing and how to get it.
#   ./install.sh              install
#   ./install.sh --check      only check prerequisites
set -eu
cd "$(dirname "$0")"

missing=0
say() { printf '%s\n' "$*"; }
need() { # command, why, how to get it
  if command -v "$1" >/dev/null 2>&1; then say "ok       $1"; else say "MISSING  $1: $2 ($3)"; missing=1; fi
}
want() {
  if command -v "$1" >/dev/null 2>&1; then say "ok       $1"; else say "warning  $1 not found: $2 ($3)"; fi
}

need cargo "builds hpcinit" "https://rustup.rs"
need cc "compiles libssh2 for the ssh2 crate" "Debian/Ubuntu: apt-get install build-essential; macOS: xcode-select --install"
need ssh "hpcinit drives your system OpenSSH" "Debian/Ubuntu: apt-get install openssh-client"
need ssh-keygen "creates your SSH key" "comes with OpenSSH"
want rsync "code snapshots use rsync" "Debian/Ubuntu: apt-get install rsync; macOS: brew install rsync"
if [ "$(uname -s)" = Linux ]; then
  if pkg-config --exists openssl 2>/dev/null; then say "ok       openssl (pkg-config)"; else
    say "MISSING  OpenSSL headers: libssh2 links OpenSSL (Debian/Ubuntu: apt-get install pkg-config libssl-dev; Fedora: dnf install openssl-devel)"
    missing=1
  fi
fi
[ "$missing" -eq 0 ] || { say "install.sh: install what is MISSING above, then run ./install.sh again"; exit 1; }
[ "${1:-}" = "--check" ] && exit 0

cargo install --locked --path .
say "installed: $(command -v hpcinit || echo "$HOME/.cargo/bin/hpcinit (add ~/.cargo/bin to PATH)")"
say "next: hpcinit profiles list"
