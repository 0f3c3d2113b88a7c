# hpcinit's look at the cluster (bash), changing nothing: login shell, $HOME, the profile's
# environment variables, the state of each path hpcinit creates, the hashes of the files it
# writes, the venv's marker, the module system and the Python modules it offers, and which
# commands exist. It prints one line, `@@hpcinit:probe {JSON}`.

# A path as the plan writes it (`~`, `~/…`, `$VAR`, or absolute), as the shell finds it.
hpcinit_probe_expand() { # path
  # shellcheck disable=SC2088 # `~` is the plan's spelling, matched as text here
  case "$1" in
    "~") printf '%s' "$HOME" ;;
    "~/"*) printf '%s/%s' "$HOME" "${1#"~/"}" ;;
    '$'*)
      local v=${1#'$'}
      case "$v" in '' | [0-9]* | *[!A-Za-z0-9_]*) return 0 ;; esac
      printf '%s' "${!v:-}"
      ;;
    *) printf '%s' "$1" ;;
  esac
}

# What to look at comes as words: `env:VAR`, `path:KEY=PATH`, `file:PATH`, `marker:PATH`,
# `command:NAME`, and to list the Python modules `modules:NAME` with `prereq:MODULE` for what
# must be loaded first (after `hpcinit_probe_reset`, sent with this file).
hpcinit_probe() {
  local a v kp f m sep envs=() paths=() files=() marker='' cmds=() modname='' prereqs=()
  for a in "$@"; do
    case "$a" in
      env:*) envs+=("${a#env:}") ;;
      path:*) paths+=("${a#path:}") ;;
      file:*) files+=("${a#file:}") ;;
      marker:*) marker=${a#marker:} ;;
      command:*) cmds+=("${a#command:}") ;;
      modules:*) modname=${a#modules:} ;;
      prereq:*) prereqs+=("${a#prereq:}") ;;
    esac
  done
  printf '@@hpcinit:probe {'
  printf '"user":%s' "$(hpcinit_js "$(id -un)")"
  printf ',"home":%s' "$(hpcinit_js "$HOME")"
  printf ',"shell":%s' "$(hpcinit_js "${SHELL:-}")"
  printf ',"env":{'
  sep=''
  for v in "${envs[@]}"; do
    if [ -n "${!v+x}" ]; then
      printf '%s"%s":%s' "$sep" "$v" "$(hpcinit_js "${!v}")"
    else
      printf '%s"%s":null' "$sep" "$v"
    fi
    sep=,
  done
  printf '},"paths":{'
  sep=''
  for kp in "${paths[@]}"; do
    printf '%s"%s":' "$sep" "${kp%%=*}"
    hpcinit_path "$(hpcinit_probe_expand "${kp#*=}")"
    sep=,
  done
  printf '},"files":{'
  sep=''
  for f in "${files[@]}"; do
    printf '%s%s:' "$sep" "$(hpcinit_js "$f")"
    hpcinit_file "$(hpcinit_probe_expand "$f")"
    sep=,
  done
  printf '}'
  if [ -n "$marker" ]; then
    m=$(hpcinit_probe_expand "$marker")
    if [ -f "$m" ]; then printf ',"venv_marker":%s' "$(hpcinit_js "$(head -n 1 "$m")")"; fi
  fi
  hpcinit_probe_modules "$modname" "${prereqs[@]}"
  printf ',"commands":['
  sep=''
  for a in "${cmds[@]}"; do
    if command -v "$a" >/dev/null 2>&1; then
      printf '%s"%s"' "$sep" "$a"
      sep=,
    fi
  done
  printf ']}\n'
}

# The module system (Lmod sets LMOD_CMD; Tcl environment modules set MODULESHOME, as Lmod does
# too) and, given a name, what `module -t avail NAME` lists with the prerequisites loaded
# (hierarchical Lmod trees can hide a module until its parents load: `spider` is asked too).
hpcinit_probe_modules() { # name, prerequisites
  local ms mv av name=$1
  shift
  if [ -n "${LMOD_CMD:-}" ] || [ -n "${LMOD_VERSION:-}" ]; then
    ms=lmod mv=${LMOD_VERSION:-}
  elif type module >/dev/null 2>&1 || [ -n "${MODULESHOME:-}" ]; then
    ms=tcl mv=${MODULES_VERSION:-${MODULE_VERSION:-}}
    # Environment Modules 4/5 set no version variable: `module --version` says it, on stderr
    # ("Modules Release 5.2.0 (2022-11-08)").
    if [ -z "$mv" ]; then
      mv=$(module --version 2>&1 | sed -n 's/^Modules Release \([^ ]*\).*/\1/p' | head -n 1)
    fi
  else
    ms=none mv=''
  fi
  printf ',"module_system":{"kind":"%s","version":%s}' "$ms" "$(hpcinit_js "$mv")"
  [ -n "$name" ] && [ "$ms" != none ] || return 0
  av=$( (
    hpcinit_probe_reset >/dev/null 2>&1
    if [ $# -gt 0 ]; then module load "$@" >/dev/null 2>&1; fi
    module -t avail "$name"
  ) 2>&1)
  case "$av" in
    *"$name"/*) ;;
    *) if [ "$ms" = lmod ]; then av="$av
$( (module -t spider "$name") 2>&1)"; fi ;;
  esac
  printf ',"module_lines":%s' "$(printf '%s\n' "$av" | hpcinit_jlines)"
}
