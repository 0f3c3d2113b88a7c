# `hpcinit uninstall --remote` on the cluster (bash): removes what hpcinit made for one project,
# and only that. Each removal is reported as `@@hpcinit:removed PATH`.

# The venv link and the environment it names (hpcinit's own: `.NAME.hpcinit-*`), or an
# environment directory hpcinit marked.
hpcinit_remove_venv() { # venv
  v=$1
  if [ -L "$v" ]; then
    t=$(readlink "$v")
    rm -f "$v"
    d=$(dirname "$v")
    case "$t" in .*.hpcinit-*) rm -rf "${d:?}/$t" ;; esac
    hpcinit_tag removed "$v"
  elif [ -f "$v/.hpcinit-ok" ]; then
    rm -rf "$v" && hpcinit_tag removed "$v"
  fi
}

# The project's snapshot directory, every snapshot in it.
hpcinit_remove_snapshots() { # dir
  if [ -d "$1" ]; then rm -rf "$1" && hpcinit_tag removed "$1"; fi
}

# Each argument is what and where: `venv:PATH`, `snapshots:PATH`, `written:PATH` (as the plan
# names them: `~/…` or absolute).
hpcinit_uninstall() {
  for a in "$@"; do
    p=$(hpcinit_home_path "${a#*:}")
    case $a in
      venv:*) hpcinit_remove_venv "$p" ;;
      snapshots:*) hpcinit_remove_snapshots "$p" ;;
      written:*) hpcinit_remove_written "$p" ;;
    esac
  done
  return 0
}

# A file hpcinit wrote (it carries hpcinit's hash line); a file without one is the person's.
hpcinit_remove_written() { # file
  if [ -f "$1" ] && grep -q '^# hpcinit-sha256: ' "$1"; then rm -f "$1" && hpcinit_tag removed "$1"; fi
}
