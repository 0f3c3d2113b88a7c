# hpcinit's shell helpers, sent before every remote script (POSIX sh; run by bash -l).
# A JSON string: backslashes and quotes escaped, control characters dropped.
hpcinit_js() {
  case $1 in
  # Only a string with a backslash, a quote or a control character needs tr and sed; the rest
  # (nearly every path and name) costs no process: a probe prints dozens of them.
  *[[:cntrl:]\\\"]*) printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')" ;;
  *) printf '"%s"' "$1" ;;
  esac
}
# A JSON array of the lines on standard input.
hpcinit_jlines() {
  hpcinit_sep=''
  printf '['
  while IFS= read -r hpcinit_l || [ -n "$hpcinit_l" ]; do
    printf '%s%s' "$hpcinit_sep" "$(hpcinit_js "$hpcinit_l")"
    hpcinit_sep=','
  done
  printf ']'
}
# What is at a path: {"path","kind":missing|link|dir|file|other,"target","real","writable"}.
hpcinit_path() {
  p=$1
  if [ -L "$p" ]; then k='link'
  elif [ -d "$p" ]; then k=dir
  elif [ -f "$p" ]; then k='file'
  elif [ -e "$p" ]; then k=other
  else k=missing; fi
  printf '{"path":%s,"kind":"%s"' "$(hpcinit_js "$p")" "$k"
  [ "$k" = link ] && printf ',"target":%s' "$(hpcinit_js "$(readlink "$p")")"
  if [ -d "$p" ]; then
    printf ',"real":%s' "$(hpcinit_js "$(cd "$p" 2>/dev/null && pwd -P)")"
    if [ -w "$p" ]; then printf ',"writable":true'; else printf ',"writable":false'; fi
  fi
  printf '}'
}
# The SHA-256 of a file as JSON, or null.
hpcinit_sha() {
  if [ -f "$1" ]; then
    printf '"%s"' "$(sha256sum <"$1" | cut -d' ' -f1)"
  else
    printf 'null'
  fi
}
# A path as hpcinit's plan names it (`~`, `~/…` or absolute), for this shell.
hpcinit_home_path() {
  # shellcheck disable=SC2088 # the literal `~/` of the plan's text, expanded here
  case $1 in
    "~") printf '%s' "$HOME" ;;
    "~/"*) printf '%s/%s' "$HOME" "${1#"~/"}" ;;
    *) printf '%s' "$1" ;;
  esac
}
# A tagged line of output.
hpcinit_tag() {
  hpcinit_t=$1
  shift
  printf '@@hpcinit:%s %s\n' "$hpcinit_t" "$*"
}
# A file hpcinit writes, as JSON: its hash, the hash its `hpcinit-sha256:` line records and the
# hash of the rest (equal when nobody edited it); null when it does not exist.
hpcinit_file() {
  if [ -f "$1" ]; then
    printf '{"sha":"%s"' "$(sha256sum <"$1" | cut -d' ' -f1)"
    r=$(sed -n 's/^# hpcinit-sha256: \([0-9a-f]*\)$/\1/p' "$1" | head -n 1)
    if [ -n "$r" ]; then
      printf ',"recorded":"%s","rest":"%s"' "$r" "$(grep -v '^# hpcinit-sha256: ' "$1" | sha256sum | cut -d' ' -f1)"
    fi
    printf '}'
  else
    printf 'null'
  fi
}
