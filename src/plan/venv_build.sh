# hpcinit's Python environment build on the cluster (bash). A new environment is built beside
# the old one (`.NAME.hpcinit-STAMP`), its requirements installed (from a lock: each pin matched
# against the site's pip first), every requirement imported with the same modules loaded, the
# marker written, and only then is the venv link swapped; any failure removes the new directory
# and leaves the old environment as it was. Sent with this file: `hpcinit_venv_load` (the jobs'
# modules), `hpcinit_venv_recipe` (makes "$new"), and the texts in `hpcinit_requirements`,
# `hpcinit_verify_py` and, from a lock, `hpcinit_match_py`.
# Tags: alive, phase, fail (modules, create, pip, match, install, verify, swap, exists, mkdir),
# module, freeze, done.
# shellcheck disable=SC2154 # the texts are set by the lines sent with this file

# A build whose connection is gone must stop: its next line of output would stop it, but
# `python -m venv` and pip can be silent for minutes, and a build left running could swap its
# venv in while a re-run builds another. A line every second; when it cannot be written (the
# channel closed), the build's processes are ended (the session's process group, else the
# build's shell). It ends by itself with the build.
hpcinit_venv_watchdog() {
  hpcinit_me=$BASHPID
  (
    trap '' PIPE
    # shellcheck disable=SC2217 # sleep must not hold the channel's standard input
    while sleep 1 </dev/null >/dev/null 2>&1 && kill -0 "$hpcinit_me" 2>/dev/null; do
      printf '@@hpcinit:alive\n' 2>/dev/null || {
        kill -TERM -- -$$ "$hpcinit_me" 2>/dev/null
        exit 0
      }
    done
  ) &
  hpcinit_watch=$!
}

# Sets venv, parent, base, stamp and new; removes what an interrupted build left behind (never
# the environment in use: it carries the marker).
hpcinit_venv_prepare() { # venv
  venv=$1
  parent=$(dirname "$venv") base=$(basename "$venv")
  mkdir -p "$parent" || { hpcinit_tag fail mkdir; return 1; }
  stamp=$(date -u +%Y%m%dT%H%M%SZ)-$$
  new="$parent/.$base.hpcinit-$stamp"
  for d in "$parent/.$base.hpcinit-"*; do
    [ -d "$d" ] && [ ! -f "$d/.hpcinit-ok" ] && rm -rf "$d"
  done
  return 0
}

# A text sent with this file, as a file's lines (nothing for an empty text).
hpcinit_venv_text() { # text
  if [ -n "$1" ]; then printf '%s\n' "$1"; fi
}

hpcinit_venv_fail() { # stage
  rm -rf "$new"
  hpcinit_tag fail "$1"
  return 1
}

# pip brought up to date where it is older than 23 (a module's Python can bring pip 9 to 21,
# which cannot read today's wheels and metadata; a current one is left alone, as the upgrade
# costs a pip start), the lock's pins matched (from a lock), then the requirements installed.
hpcinit_venv_install() { # pip's index option (--no-index or nothing), the match mode or nothing
  hpcinit_tag phase pip
  "$new"/bin/python -c "import sys, pip; sys.exit(int(pip.__version__.split('.')[0]) < 23)" 2>/dev/null ||
    "$new"/bin/python -m pip install ${1:+"$1"} --upgrade pip || { hpcinit_venv_fail pip; return 1; }
  if [ -n "$2" ]; then
    hpcinit_tag phase match
    printf '%s\n' "$hpcinit_match_py" |
      "$new"/bin/python - "$new"/.hpcinit/locked.txt "$2" "$new"/.hpcinit/requirements.txt ||
      { hpcinit_venv_fail match; return 1; }
  fi
  hpcinit_tag phase install
  if grep -q . "$new"/.hpcinit/requirements.txt; then
    "$new"/bin/python -m pip install ${1:+"$1"} --progress-bar off -r "$new"/.hpcinit/requirements.txt ||
      { hpcinit_venv_fail install; return 1; }
  fi
}

# The marker written, then the venv link swapped to the new environment (what was there moved
# aside only with `replace`), and the record printed.
hpcinit_venv_swap() { # marker, replace or nothing
  printf '%s\n' "$1" >"$new"/.hpcinit-ok
  hpcinit_tag phase swap
  old=
  if [ -L "$venv" ]; then
    old=$(readlink "$venv")
  elif [ -e "$venv" ]; then
    if [ "$2" = replace ]; then
      old=".$base.hpcinit-replaced-$stamp"
      mv "$venv" "$parent/$old" || { hpcinit_venv_fail swap; return 1; }
    else
      hpcinit_venv_fail exists
      return 1
    fi
  fi
  ln -sfn ".$base.hpcinit-$stamp" "$venv.hpcinit-link" && mv -T "$venv.hpcinit-link" "$venv" ||
    { hpcinit_venv_fail swap; return 1; }
  case "$old" in .$base.hpcinit-*) rm -rf "${parent:?}/$old" ;; esac
  sed 's/^/@@hpcinit:module /' "$new"/.hpcinit/modules.txt
  sed 's/^/@@hpcinit:freeze /' "$new"/.hpcinit/freeze.txt
}

# The whole build. The module list (for the record and the lock) is taken while the imports
# are proven; the proof writes `pip freeze`'s lines when it can be sure of them (a pip start
# costs more than the proof), else pip freeze runs.
hpcinit_venv_build() { # venv, recipe kind (venv|container), pip's index option, match mode, marker, replace
  exec 2>&1
  hpcinit_venv_watchdog
  hpcinit_venv_prepare "$1" || return 1
  hpcinit_tag phase modules
  hpcinit_venv_load || { hpcinit_tag fail modules; return 1; }
  hpcinit_tag phase create
  if [ "$2" = container ]; then
    mkdir -p "$new"
    hpcinit_venv_text "$hpcinit_requirements" >"$new"/.hpcinit-requirements.txt
  fi
  hpcinit_venv_recipe || { hpcinit_venv_fail create; return 1; }
  mkdir -p "$new"/.hpcinit
  # From a lock, the pins go to locked.txt and the matcher writes requirements.txt.
  if [ -n "$4" ]; then req=locked.txt; else req=requirements.txt; fi
  hpcinit_venv_text "$hpcinit_requirements" >"$new"/.hpcinit/$req
  if [ "$2" != container ]; then
    hpcinit_venv_install "$3" "$4" || return 1
  fi
  module -t list >"$new"/.hpcinit/modules.txt 2>&1 &
  modules=$!
  hpcinit_tag phase verify
  printf '%s\n' "$hpcinit_verify_py" |
    "$new"/bin/python - "$new"/.hpcinit/requirements.txt "$new"/.hpcinit/freeze.txt ||
    { wait "$modules"; hpcinit_venv_fail verify; return 1; }
  [ -f "$new"/.hpcinit/freeze.txt ] || "$new"/bin/python -m pip freeze >"$new"/.hpcinit/freeze.txt 2>/dev/null
  wait "$modules"
  hpcinit_venv_swap "$5" "$6" || return 1
  kill "$hpcinit_watch" 2>/dev/null
  hpcinit_tag 'done' "$new"
}
