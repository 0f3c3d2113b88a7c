# hpcinit jupyter on the cluster (bash): make the project's venv ready for Jupyter Lab, submit
# the server's job, follow it until the server has written its runtime file, and cancel it.
# Every result is a tagged line (@@hpcinit:<tag> <payload>). The scheduler's functions are
# scheduler.sh's; the server's token travels only in the `server` line (standard output of
# this script, never a command line), read from the runtime file the server writes 0600.

# The venv has Jupyter Lab, or gets it from the site's index (the wheelhouse) without changing
# any package it already has: pip installs against a constraints file of the venv's own
# versions. Tags: `jupyter present|installed VERSION`, `added NAME==VERSION` (each new
# package), `fail no-venv|no-workdir|install DETAIL`.
hpcinit_jupyter_prepare() { # venv workdir make-workdir(0|1) index-option(--no-index or -)
  exec 2>&1
  venv=$(hpcinit_home_path "$1") workdir=$(hpcinit_home_path "$2") make=$3 index=$4
  [ "$index" = - ] && index=
  if [ ! -x "$venv/bin/python" ]; then hpcinit_tag fail no-venv "$venv"; return 0; fi
  if [ ! -d "$workdir" ]; then
    if [ "$make" = 1 ]; then mkdir -p "$workdir"; else hpcinit_tag fail no-workdir "$workdir"; return 0; fi
  fi
  if v=$("$venv/bin/python" -c 'import jupyterlab; print(jupyterlab.__version__)' 2>/dev/null) \
    && [ -x "$venv/bin/jupyter-lab" ]; then
    hpcinit_tag jupyter present "$v"
    return 0
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/hpcinit-jupyter.XXXXXX")
  "$venv/bin/python" -m pip freeze --all 2>/dev/null | grep '==' | sort >"$work/before"
  # A temporary directory of its own: a room of students installs at once.
  # shellcheck disable=SC2086 # the index option is one word or none
  if ! PIP_NO_INPUT=1 TMPDIR=$work "$venv/bin/python" -m pip install $index --disable-pip-version-check \
    -c "$work/before" jupyterlab >"$work/log" 2>&1; then
    tail -n 15 "$work/log" | sed 's/^/@@hpcinit:tail /'
    hpcinit_tag fail install "pip could not install jupyterlab without changing the environment's packages"
    rm -rf "$work"
    return 0
  fi
  "$venv/bin/python" -m pip freeze --all 2>/dev/null | grep '==' | sort >"$work/after"
  comm -13 "$work/before" "$work/after" | sed 's/^/@@hpcinit:added /'
  hpcinit_tag jupyter installed "$("$venv/bin/python" -c 'import jupyterlab; print(jupyterlab.__version__)')"
  rm -rf "$work"
}

# Submits the job on standard input from the private directory (created 0700), with a umask
# that keeps the job's log (it holds the server's URL) to the person alone. Tags: `job ID`,
# `fail submit WHAT`.
hpcinit_jupyter_submit() { # scheduler private-dir
  exec 2>&1
  umask 077
  dir=$(hpcinit_home_path "$2")
  if ! { mkdir -p "$dir" && chmod 700 "$dir" && cd "$dir"; }; then
    hpcinit_tag fail submit "cannot make $dir"
    return 0
  fi
  out=$(hpcinit_job_submit "$1") || { hpcinit_tag fail submit "$out"; return 0; }
  id=$(hpcinit_job_id "$1" "$out")
  if [ -z "$id" ]; then hpcinit_tag fail submit "$out"; return 0; fi
  hpcinit_tag job "$id"
}

# Follows the job for at most SECONDS: returns at once when its place changed from LAST (tag
# `where STATE|REASON|START-IN|NODE`), when its server has written its runtime file (tag
# `server JSON`), or when it has ended (tags `ended FINAL`, `tail LINE`).
hpcinit_jupyter_wait() { # scheduler private-dir id last seconds
  exec 2>&1
  sched=$1 dir=$(hpcinit_home_path "$2") id=$3 last=$4
  end=$(($(date +%s) + $5))
  while :; do
    w=$(hpcinit_job_where "$sched" "$id")
    if [ -z "$w" ]; then
      hpcinit_tag ended "$(hpcinit_job_final "$sched" "$id")"
      tail -n 20 "$dir"/hpcinit-jupyter-"$id".out "$dir"/hpcinit-jupyter-"$id".err 2>/dev/null \
        | grep -v 'token=' | sed 's/^/@@hpcinit:tail /'
      return 0
    fi
    for f in "$dir/$id"/jpserver-*.json; do
      [ -f "$f" ] || continue
      hpcinit_tag where "$w"
      printf '@@hpcinit:server %s\n' "$(tr -d '\n' <"$f")"
      return 0
    done
    if [ "$w" != "$last" ] || [ "$(date +%s)" -ge "$end" ]; then
      hpcinit_tag where "$w"
      return 0
    fi
    sleep 0.25
  done
}

# Cancels the job and removes what it left in the private directory. Tag: `cancelled ID`.
hpcinit_jupyter_cancel() { # scheduler private-dir id
  exec 2>&1
  sched=$1 dir=$(hpcinit_home_path "$2") id=$3
  hpcinit_job_cancel "$sched" "$id" >/dev/null 2>&1
  i=0
  while [ -n "$(hpcinit_job_state "$sched" "$id")" ] && [ $i -lt 40 ]; do
    sleep 0.25
    i=$((i + 1))
  done
  rm -rf "${dir:?}/$id" "$dir/hpcinit-jupyter-$id.out" "$dir/hpcinit-jupyter-$id.err"
  hpcinit_tag cancelled "$id"
}
