#!/usr/bin/env sh
# Installs hpcinit for this user, without root: a prebuilt static binary when one is given for
# this OS and architecture (its SHA-256 checked first), else a build from this checkout with
# cargo. See docs/install.md.
#
#   ./install.sh --from hpcinit-x86_64-unknown-linux-musl.tar.gz   offline: an archive you have
#                                                   (its .sha256 beside it, or --sha256 HEX)
#   ./install.sh --url https://…/hpcinit-x86_64-unknown-linux-musl.tar.gz   download, then the same
#   HPCINIT_RELEASE=https://…/download ./install.sh the archive for this machine from a release
#   ./install.sh                                    no archive given: build with cargo
#   ./install.sh --check                            only check what building needs
#   --bin-dir DIR                                   where the binary goes (default ~/.local/bin)
set -eu

say() { printf '%s\n' "$*"; }
fail() { # message, hint
  printf 'error: %s\n' "$1" >&2
  [ -n "${2:-}" ] && printf 'hint: %s\n' "$2" >&2
  exit 1
}

from="" url="" sha="" check=0
bin_dir=${HPCINIT_BIN_DIR:-$HOME/.local/bin}
while [ $# -gt 0 ]; do
  case $1 in
    --from) [ $# -ge 2 ] || fail "--from needs a file" "./install.sh --from hpcinit-x86_64-unknown-linux-musl.tar.gz"; from=$2; shift 2 ;;
    --url) [ $# -ge 2 ] || fail "--url needs an address"; url=$2; shift 2 ;;
    --sha256) [ $# -ge 2 ] || fail "--sha256 needs the archive's SHA-256 (64 hex digits)"; sha=$2; shift 2 ;;
    --bin-dir) [ $# -ge 2 ] || fail "--bin-dir needs a directory"; bin_dir=$2; shift 2 ;;
    --check) check=1; shift ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown option: $1" "./install.sh --help lists the options" ;;
  esac
done

# The prebuilt archive that fits this machine: static Linux binaries (musl) for x86_64 and
# aarch64. Elsewhere (macOS, other architectures) hpcinit is built from source.
target() {
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/amd64) echo x86_64-unknown-linux-musl ;;
    Linux/aarch64 | Linux/arm64) echo aarch64-unknown-linux-musl ;;
    *) echo "" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    fail "no sha256sum or shasum here to check the archive with" "install coreutils (sha256sum), or build from source: ./install.sh with no archive"
  fi
}

fetch() { # url, file
  if command -v curl >/dev/null 2>&1; then
    curl --proto '=https' --tlsv1.2 -fsSL -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail "neither curl nor wget is installed to download $1" "download it yourself and run ./install.sh --from FILE"
  fi
}

# Checks the archive's SHA-256, unpacks it, proves the binary runs here, and puts it (with its
# manual page and bash completion) under ~/.local, each file renamed into place.
install_archive() { # archive, expected sha (may be empty: then FILE.sha256)
  archive=$1 expected=$2
  [ -f "$archive" ] || fail "$archive: no such file" "give the path of the .tar.gz you downloaded"
  if [ -z "$expected" ]; then
    [ -f "$archive.sha256" ] || fail "no checksum for $archive: $archive.sha256 is not beside it" \
      "download $(basename "$archive").sha256 from the same release page, or pass --sha256 HEX (from the release page)"
    expected=$(cut -d' ' -f1 <"$archive.sha256")
  fi
  case $expected in
    *[!0-9a-fA-F]* | "") fail "the expected SHA-256 is not 64 hex digits: $expected" ;;
  esac
  [ ${#expected} -eq 64 ] || fail "the expected SHA-256 is not 64 hex digits: $expected"
  got=$(sha256_of "$archive")
  expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')
  if [ "$got" != "$expected" ]; then
    fail "$archive does not match its checksum (expected $expected, got $got): it is damaged or not the file that was published; nothing was installed" \
      "download it again from the release page; never install a file that fails its checksum"
  fi
  say "ok       SHA-256 $got"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/hpcinit-install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$archive" -C "$tmp" || fail "$archive is not a .tar.gz hpcinit archive"
  bin=$(find "$tmp" -type f -name hpcinit | head -n 1)
  [ -n "$bin" ] || fail "$archive holds no hpcinit binary"
  chmod 755 "$bin"
  version=$("$bin" --version 2>/dev/null) ||
    fail "the binary in $archive does not run on this machine ($(uname -s) $(uname -m))" \
      "take the archive for this machine's architecture, or build from source: ./install.sh"
  mkdir -p "$bin_dir"
  cp "$bin" "$bin_dir/.hpcinit.new" && mv -f "$bin_dir/.hpcinit.new" "$bin_dir/hpcinit"
  share=${XDG_DATA_HOME:-$HOME/.local/share}
  mkdir -p "$share/man/man1" "$share/bash-completion/completions"
  "$bin_dir/hpcinit" man >"$share/man/man1/.hpcinit.1.new" && mv -f "$share/man/man1/.hpcinit.1.new" "$share/man/man1/hpcinit.1"
  "$bin_dir/hpcinit" completions bash >"$share/bash-completion/completions/.hpcinit.new" &&
    mv -f "$share/bash-completion/completions/.hpcinit.new" "$share/bash-completion/completions/hpcinit"
  say "installed: $bin_dir/hpcinit ($version)"
  say "           manual page: man hpcinit; bash completion: $share/bash-completion/completions/hpcinit"
  path_hint
  say "next: hpcinit profiles list"
}

path_hint() {
  case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *)
      say ""
      say "$bin_dir is not on your PATH yet. Add it, then open a new terminal:"
      case "${SHELL:-}" in
        */zsh) say "  echo 'export PATH=\"$bin_dir:\$PATH\"' >> ~/.zshrc" ;;
        */fish) say "  fish_add_path $bin_dir" ;;
        *) say "  echo 'export PATH=\"$bin_dir:\$PATH\"' >> ~/.bashrc" ;;
      esac
      ;;
  esac
}

if [ -n "$from" ]; then
  install_archive "$from" "$sha"
  exit 0
fi
t=$(target)
if [ -z "$url" ] && [ -n "${HPCINIT_RELEASE:-}" ] && [ -n "$t" ]; then
  url=${HPCINIT_RELEASE%/}/hpcinit-$t.tar.gz
fi
if [ -n "$url" ]; then
  dl=$(mktemp -d "${TMPDIR:-/tmp}/hpcinit-download.XXXXXX")
  name=$(basename "$url")
  say "downloading $url"
  fetch "$url" "$dl/$name" || fail "could not download $url" "check the address, or download it yourself and run ./install.sh --from FILE"
  if [ -z "$sha" ]; then
    fetch "$url.sha256" "$dl/$name.sha256" || fail "could not download $url.sha256 (the checksum)" "pass the SHA-256 from the release page: --sha256 HEX"
  fi
  install_archive "$dl/$name" "$sha"
  rm -rf "$dl"
  exit 0
fi

# No prebuilt binary given for this machine: build from this checkout.
cd "$(dirname "$0")"
[ -f Cargo.toml ] || fail "no archive given and no source here to build" \
  "run ./install.sh --from hpcinit-$(target || true).tar.gz, or from a clone of hpcinit's repository"
missing=0
need() { # command, why, how to get it
  if command -v "$1" >/dev/null 2>&1; then say "ok       $1"; else say "MISSING  $1: $2 ($3)"; missing=1; fi
}
want() {
  if command -v "$1" >/dev/null 2>&1; then say "ok       $1"; else say "warning  $1 not found: $2 ($3)"; fi
}

need cargo "builds hpcinit" "https://rustup.rs; or install a prebuilt binary: pip install hpcinit, or ./install.sh --from FILE"
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
[ "$check" -eq 1 ] && exit 0

cargo install --locked --path .
say "installed: $(command -v hpcinit || echo "$HOME/.cargo/bin/hpcinit (add ~/.cargo/bin to PATH)")"
say "next: hpcinit profiles list"
