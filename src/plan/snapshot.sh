# hpcinit's code snapshots on the cluster (bash). A snapshot is a directory
# ~/scratch/code-snapshots/<project>/<UTC time>-<git sha>[-dirty]/ with read-only files, hard
# links to the previous snapshot wherever a file did not change, a `.hpcinit-manifest` (the
# sorted list hpcinit sent) and a `.hpcinit-snapshot` marker. It is filled in `.hpcinit-incoming`
# (a copy of `latest` in hard links, updated in place: a changed file is written as a new file,
# so no snapshot changes) and renamed into place only when what arrived equals the manifest;
# `latest` is a symbolic link swapped by a rename. An interrupted copy stays in
# `.hpcinit-incoming`, and the next run finishes it. After each snapshot, a copy of it in hard
# links is made in the background (`.hpcinit-next`), so the next sync need not wait for one.

# The manifest of the current directory: what `hpcinit` computed on the laptop, byte for byte.
hpcinit_manifest() {
  {
    find . -type f ! -path ./.hpcinit-manifest ! -path ./.hpcinit-snapshot -printf '%P\tf\t%s\t%T@\0' |
      sed -z 's/\.[0-9]*$//'
    find . -type l -printf '%P\tl\t%l\0'
  } | LC_ALL=C sort -z
}

# The SHA-256 of a file, or nothing.
hpcinit_sha_of() {
  [ -f "$1" ] || return 0
  h=$(sha256sum <"$1")
  printf '%s' "${h%% *}"
}

# Looks, changing nothing: is there a scratch, which snapshot is latest and its manifest's hash;
# with `with_manifest`, the manifest itself (base64).
hpcinit_snap_check() {
  if [ -d "$HOME/scratch/" ]; then hpcinit_tag scratch yes; else hpcinit_tag scratch no; fi
  cd "$HOME/$1" 2>/dev/null || { hpcinit_tag latest -; return 0; }
  if [ -L latest ] && [ -f latest/.hpcinit-manifest ]; then
    hpcinit_tag latest "$(readlink latest)" "$(hpcinit_sha_of latest/.hpcinit-manifest)"
    [ "${2:-}" = with_manifest ] && hpcinit_tag manifest "$(base64 -w0 <latest/.hpcinit-manifest)"
  else
    hpcinit_tag latest -
  fi
  [ -d .hpcinit-incoming ] && hpcinit_tag incoming yes
  hpcinit_tag count "$(ls -d -- */.hpcinit-snapshot 2>/dev/null | wc -l)"
  return 0
}

# Makes `.hpcinit-incoming` as rsync's connection does (an interrupted copy, else the prepared
# copy of latest, else a new one), for the SFTP route, and prints what it holds.
hpcinit_snap_prepare() {
  test -d "$HOME/scratch/" || { hpcinit_tag no-scratch; return 3; }
  mkdir -p "$HOME/$1" && cd "$HOME/$1" || return 1
  if [ ! -d .hpcinit-incoming ]; then
    if [ -d .hpcinit-next ]; then
      mv .hpcinit-next .hpcinit-incoming || return 1
    else
      mkdir .hpcinit-incoming || return 1
      if [ -d latest/ ]; then cp -al latest/. .hpcinit-incoming/ || return 1; fi
    fi
  fi
  find .hpcinit-incoming -name '.hpcinit-part-*' -exec rm -f {} +
  hpcinit_tag listing "$(cd .hpcinit-incoming && hpcinit_manifest | base64 -w0)"
}

# In the background, a copy of snapshot $1 in hard links for the next sync to start from (with
# its manifest, which rsync then sends as a difference); `.hpcinit-next.base` names the manifest
# hash it was copied from ($2), once it is complete.
hpcinit_snap_next() {
  (
    rm -f .hpcinit-next.base
    rm -rf .hpcinit-next
    t=.hpcinit-next.$$
    # At the lowest priority: the person's rsync and its connection come first.
    if command -v nice >/dev/null 2>&1; then low='nice -n 19'; else low=; fi
    $low cp -al "$1/." "$t/" && rm -f "$t/.hpcinit-snapshot" && mv "$t" .hpcinit-next &&
      printf '%s\n' "$2" >.hpcinit-next.base || rm -rf "$t"
  ) </dev/null >/dev/null 2>&1 &
}

# Removes the paths (NUL-separated, base64 in $2) and makes the links ("path NUL target NUL"
# pairs, base64 in $3) in `.hpcinit-incoming`.
hpcinit_snap_fix() {
  cd "$HOME/$1/.hpcinit-incoming" || return 1
  [ -n "$2" ] && printf '%s' "$2" | base64 -d | xargs -0 -r rm -f --
  find . -mindepth 1 -depth -type d -empty -delete
  [ -n "$3" ] && printf '%s' "$3" | base64 -d | {
    while IFS= read -r -d '' p && IFS= read -r -d '' t; do
      mkdir -p -- "$(dirname -- "$p")" && ln -sfn -- "$t" "$p" || return 1
    done
  }
  return 0
}

# Writes one file into `.hpcinit-incoming` as rsync does: a new file renamed over the old name,
# never written through a hard link into an older snapshot. Args: dir, path (base64), mode
# (octal), modification time (seconds), content (base64). For the few files that changed while
# a copy started early ran (the lock file written after the venv build).
hpcinit_snap_put() {
  local p d t
  p=$(printf '%s' "$2" | base64 -d && printf x) || return 1
  p=${p%x}
  cd "$HOME/$1/.hpcinit-incoming" || return 1
  d=$(dirname -- "$p")
  t=$d/.hpcinit-part-put.$$
  mkdir -p -- "$d" && printf '%s' "$5" | base64 -d >"$t" && chmod "$3" "$t" &&
    touch -m -d "@$4" -- "$t" && mv -f -- "$t" "$p" || { rm -f -- "$t"; return 1; }
}

# Brings `.hpcinit-incoming` up to date (paths to remove and links to make, as
# hpcinit_snap_fix takes them, then `puts` files as hpcinit_snap_put takes them, four
# arguments each), checks what arrived against the manifest's hash, then installs it (below).
# Args: dir, keep (0: all), protect (slurm|none), expected sha, name suffix, remove, links,
# puts, the puts' arguments, then marker lines. For the SFTP route and for a copy started
# early, whose last files come with this script.
hpcinit_snap_finalize() {
  dir=$1 keep=$2 protect=$3 expected=$4 suffix=$5
  if [ -n "$6" ] || [ -n "$7" ]; then hpcinit_snap_fix "$dir" "$6" "$7" || return 1; fi
  puts=$8
  shift 8
  while [ "$puts" -gt 0 ]; do
    hpcinit_snap_put "$dir" "$1" "$2" "$3" "$4" || return 1
    shift 4
    puts=$((puts - 1))
  done
  cd "$HOME/$dir" || { hpcinit_tag error "cannot enter ~/$dir"; return 1; }
  s=.hpcinit-incoming
  [ -d "$s" ] || { hpcinit_tag error "nothing arrived in ~/$dir/$s"; return 1; }
  # (A copy of latest holds latest's own files: new ones, never written through.)
  rm -f "$s/.hpcinit-manifest" "$s/.hpcinit-snapshot" "$s/.hpcinit-finish"
  (cd "$s" && hpcinit_manifest) >"$s/.hpcinit-manifest" || return 1
  got=$(hpcinit_sha_of "$s/.hpcinit-manifest")
  if [ "$got" != "$expected" ]; then
    hpcinit_tag mismatch "$got"
    return 3
  fi
  hpcinit_snap_install "$expected" "$suffix" "$keep" "$protect" "$@"
}

# Finishes a snapshot rsync filled, on rsync's own connection, once the receiving rsync exited
# 0: rsync checks every file it writes against a whole-file checksum and exits 0 only when all
# it was sent arrived, so what arrived is the listing hpcinit sent with it (the manifest, which
# came in the same transfer). No second round trip, no second walk of the files; `hpcinit sync
# --verify` and `hpcinit doctor` still compare the files with the manifest. A copy of only what
# changed (`--files-from`, copy `changes`) also names the paths gone since its base and the
# directories that may be left empty (NUL-separated, base64; `-` for none): they are removed
# first, the directories deepest first and only when empty. Args: dir, keep, protect, the
# manifest's sha, name suffix, the copy (whole|changes), the paths gone, the directories, then
# marker lines. Its output goes to rsync's standard error.
hpcinit_snap_finish() {
  hpcinit_tag finishing
  dir=$1 keep=$2 protect=$3 expected=$4 suffix=$5 copy=$6 gone=$7 emptied=$8
  shift 8
  cd "$HOME/$dir" || { hpcinit_tag error "cannot enter ~/$dir"; return 1; }
  s=.hpcinit-incoming
  if [ "$gone" != - ]; then
    (cd "$s" && printf %s "$gone" | base64 -d | xargs -0 rm -rf --) || {
      hpcinit_tag error "cannot remove the files deleted since the last snapshot from ~/$dir/$s"
      return 1
    }
  fi
  if [ "$emptied" != - ]; then
    (cd "$s" && printf %s "$emptied" | base64 -d | xargs -0 rmdir --ignore-fail-on-non-empty -- 2>/dev/null)
  fi
  rm -f "$s/.hpcinit-finish" "$s/.hpcinit-snapshot"
  # A copy of the changes sends every file it lists, the manifest too (`--ignore-times`): rsync
  # checked it on arrival. A whole copy may skip a manifest of the same size and time (one made
  # in the same second), so its hash is checked here.
  if [ "$copy" != changes ] && [ "$(hpcinit_sha_of "$s/.hpcinit-manifest")" != "$expected" ]; then
    rm -f "$s/.hpcinit-manifest"
    hpcinit_tag error "the manifest that arrived is not the one sent; run the same command again"
    return 1
  fi
  hpcinit_snap_install "$expected" "$suffix" "$keep" "$protect" "$@"
}

# In the project's snapshot directory, with `.hpcinit-incoming` complete and its manifest in
# place: unless latest holds the same manifest (and no marker line says files were `resent:`
# whose size and time did not change), marks it, renames it into place, moves `latest`,
# prepares the next copy, and prunes. Args: manifest sha, name suffix, keep (0: all), protect
# (slurm|none), then marker lines.
hpcinit_snap_install() {
  expected=$1 suffix=$2 keep=$3 protect=$4
  shift 4
  s=.hpcinit-incoming
  resent=
  for m in "$@"; do case $m in resent:*) resent=1 ;; esac; done
  if [ -z "$resent" ] && [ -L latest ] && [ "$(hpcinit_recorded_sha latest)" = "$expected" ]; then
    # The same code: no new snapshot; the copy serves the next sync.
    if [ -d .hpcinit-next ]; then
      rm -rf "$s"
    else
      rm -f .hpcinit-next.base
      mv "$s" .hpcinit-next && printf '%s\n' "$expected" >.hpcinit-next.base
    fi
    hpcinit_tag unchanged "$(readlink latest)"
    return 0
  fi
  # (Builtins where they do: this runs while the person waits for rsync to return.)
  TZ=UTC0 printf -v stamp '%(%Y%m%dT%H%M%SZ)T' -1
  n=$stamp$suffix
  i=2
  while [ -e "$n" ] || [ -L "$n" ]; do
    n=$stamp$suffix-$i
    i=$((i + 1))
  done
  local old_umask
  old_umask=$(umask)
  umask 0222
  {
    printf 'hpcinit snapshot %s\n' "$n"
    TZ=UTC0 printf 'created: %(%Y-%m-%dT%H:%M:%SZ)T\n' -1
    printf '%s\n' "$@"
    printf 'manifest-sha256: %s\n' "$expected"
  } >"$s/.hpcinit-snapshot"
  umask "$old_umask"
  mv -- "$s" "$n" || return 1
  if [ -d latest ] && [ ! -L latest ]; then
    # A directory made by hand before hpcinit kept snapshots: kept, under another name.
    mv -- latest "manual-$stamp" && hpcinit_tag moved "manual-$stamp"
  fi
  ln -sfn -- "$n" .latest.hpcinit && mv -T -- .latest.hpcinit latest || return 1
  hpcinit_tag snapshot "$n"
  hpcinit_snap_next "$n" "$expected"
  if [ "$keep" -gt 0 ]; then hpcinit_snap_prune "$keep" "$protect"; fi
  return 0
}

# The manifest hash a snapshot's marker records (its last line), read without a new process;
# the manifest's own hash for a snapshot without one.
hpcinit_recorded_sha() {
  local line sha=
  if [ -f "$1/.hpcinit-snapshot" ]; then
    while IFS= read -r line; do
      case $line in manifest-sha256:\ *) sha=${line#manifest-sha256: } ;; esac
    done <"$1/.hpcinit-snapshot"
  fi
  [ -n "$sha" ] || sha=$(hpcinit_sha_of "$1/.hpcinit-manifest")
  printf '%s' "$sha"
}

# Compares the files of the snapshot `latest` names with its own manifest: `verify NAME
# RECORDED-SHA FOUND-SHA`, and with `with_listing` what it holds (base64) when they differ.
hpcinit_snap_verify() {
  cd "$HOME/$1" 2>/dev/null && [ -L latest ] || { hpcinit_tag latest -; return 0; }
  recorded=$(hpcinit_sha_of latest/.hpcinit-manifest)
  found=$(cd latest/ && hpcinit_manifest | sha256sum)
  hpcinit_tag verify "$(readlink latest)" "${recorded:--}" "${found%% *}"
  if [ "${recorded:--}" != "${found%% *}" ]; then
    hpcinit_tag listing "$(cd latest/ && hpcinit_manifest | base64 -w0)"
  fi
  return 0
}

# Removes hpcinit's snapshots beyond the newest `keep`, never `latest`'s, never one a queued or
# running job was submitted with, never a directory without hpcinit's marker.
hpcinit_snap_prune() {
  local LC_ALL=C
  keep=$1 protect=$2
  cur=$(readlink latest)
  snaps=()
  # Oldest first: names start with their UTC time; a same-second name only adds `-N`.
  for d in *; do
    [ -L "$d" ] || [ ! -f "$d/.hpcinit-snapshot" ] || snaps+=("$d")
  done
  guarded=" "
  if [ "$protect" = slurm ] && command -v squeue >/dev/null 2>&1; then
    for t in $(squeue -h -u "$(id -un)" -o %V 2>/dev/null); do
      ts=$(date -u -d "$t" +%Y%m%dT%H%M%SZ 2>/dev/null) || continue
      pick=
      for d in "${snaps[@]}"; do [[ ${d:0:16} > $ts ]] || pick=$d; done
      [ -n "$pick" ] && guarded="$guarded$pick "
    done
  fi
  total=${#snaps[@]}
  i=0
  for d in "${snaps[@]}"; do
    i=$((i + 1))
    [ $((total - i)) -lt "$keep" ] && continue
    [ "$d" = "$cur" ] && continue
    case "$guarded" in *" $d "*)
      hpcinit_tag guarded "$d"
      continue
      ;;
    esac
    rm -rf -- "$d" && hpcinit_tag pruned "$d"
  done
}
