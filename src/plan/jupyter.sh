# hpcinit jupyter on the cluster (bash): make the project's venv ready for Jupyter Lab, submit
# the server's job, follow it until the server has written its runtime file, and cancel it.
# Every result is a tagged line (@@hpcinit:<tag> <payload>). The scheduler's functions are
# scheduler.sh's; the server's token travels only in the `server` line (standard output of
# this script, never a command line), read from the runtime file the server writes 0600.

# The venv has Jupyter Lab (read from its metadata: importing it would take a second), or gets
# it from the site's index (the wheelhouse) without changing any package it already has: pip
# installs against a constraints file of the venv's own versions, in the project's job
# environment (the snippet the bootstrap wrote: modules and venv). Tags: `jupyter
# present|installed VERSION`, `added NAME==VERSION` (each new package), `fail
# no-venv|no-workdir|install DETAIL`. Fails (status 1) when the server cannot start from it.
hpcinit_jupyter_prepare() { # venv env-snippet workdir make-workdir(0|1) index-option(--no-index or -)
  index=$5
  [ "$index" = - ] && index=
  hpcinit_session_ready "$1" "$2" "$3" "$4" || return 1
  if [ -x "$venv/bin/jupyter-lab" ]; then
    for d in "$venv"/lib/python*/site-packages/jupyterlab-*.dist-info; do
      [ -d "$d" ] || continue
      v=${d##*/jupyterlab-}
      hpcinit_tag jupyter present "${v%.dist-info}"
      return 0
    done
  fi
  hpcinit_tag phase installing
  work=$(mktemp -d "${TMPDIR:-/tmp}/hpcinit-jupyter.XXXXXX")
  "$venv/bin/python" -m pip freeze --all 2>/dev/null </dev/null | grep '==' | sort >"$work/before"
  # In a subshell with the job environment (the site's pip settings come with its modules), a
  # temporary directory of its own: a room of students installs at once.
  # shellcheck disable=SC1090,SC2086 # the project's own snippet; the index option is one word or none
  if ! (. "$env" >/dev/null 2>&1
    PIP_NO_INPUT=1 TMPDIR=$work "$venv/bin/python" -m pip install $index --disable-pip-version-check \
      -c "$work/before" jupyterlab) >"$work/log" 2>&1 </dev/null; then
    tail -n 15 "$work/log" | sed 's/^/@@hpcinit:tail /'
    hpcinit_tag fail install "pip could not install jupyterlab without changing the environment's packages"
    rm -rf "$work"
    return 1
  fi
  "$venv/bin/python" -m pip freeze --all 2>/dev/null </dev/null | grep '==' | sort >"$work/after"
  comm -13 "$work/before" "$work/after" | sed 's/^/@@hpcinit:added /'
  hpcinit_tag jupyter installed "$("$venv/bin/python" -c 'import jupyterlab; print(jupyterlab.__version__)' </dev/null)"
  rm -rf "$work"
}

# The project's environment and the session's working directory are there (the directory made
# when MAKE is 1: the project's own on scratch). Sets venv, env and workdir (absolute). Tags
# `fail no-venv|no-workdir PATH`.
hpcinit_session_ready() { # venv env-snippet workdir make-workdir(0|1)
  venv=$(hpcinit_home_path "$1") env=$(hpcinit_home_path "$2") workdir=$(hpcinit_home_path "$3")
  if [ ! -x "$venv/bin/python" ] || [ ! -f "$env" ]; then hpcinit_tag fail no-venv "$venv"; return 1; fi
  if [ ! -d "$workdir" ]; then
    if [ "$4" = 1 ]; then mkdir -p "$workdir"; else hpcinit_tag fail no-workdir "$workdir"; return 1; fi
  fi
}

# The whole start in one round trip: the venv made ready, then the job (on standard input)
# submitted. Nothing is submitted when the venv cannot run the server.
hpcinit_jupyter_start() { # venv env-snippet workdir make-workdir index-option scheduler private-dir seconds
  exec 2>&1
  hpcinit_jupyter_prepare "$1" "$2" "$3" "$4" "$5" || return 0
  hpcinit_jupyter_submit "$6" "$7" || return 0
  hpcinit_jupyter_wait "$6" "$7" "$id" - "$8"
}

# Submits the job on standard input from the private directory (created 0700), with a umask
# that keeps the job's log (it holds the server's URL) to the person alone. Tags: `job ID`,
# `fail submit WHAT`. Sets `id`.
hpcinit_jupyter_submit() { # scheduler private-dir
  umask 077
  dir=$(hpcinit_home_path "$2")
  if ! { mkdir -p "$dir" && chmod 700 "$dir" && cd "$dir"; }; then
    hpcinit_tag fail submit "cannot make $dir"
    return 1
  fi
  # The scheduler's refusal is on its standard error: kept, one line, for the reply.
  err=$(mktemp "${TMPDIR:-/tmp}/hpcinit-submit.XXXXXX")
  if ! out=$(hpcinit_job_submit "$1" 2>"$err"); then
    hpcinit_tag fail submit "$(cat "$err" - <<<"$out" | tr -s '\n' ' ')"
    rm -f "$err"
    return 1
  fi
  rm -f "$err"
  id=$(hpcinit_job_id "$1" "$out")
  if [ -z "$id" ]; then hpcinit_tag fail submit "$out"; return 1; fi
  # hpcinit may have gone (Ctrl-C) while this ran: a job whose id cannot reach it is cancelled
  # here, so that none is left behind.
  trap '' PIPE
  if ! hpcinit_tag job "$id"; then
    hpcinit_job_cancel "$1" "$id" >/dev/null 2>&1
    return 1
  fi
  trap - PIPE
}

# Follows the job for at most SECONDS, printing its place whenever it changes from LAST (tag
# `where STATE|REASON|START-IN|NODE`), and returns when what UNTIL names has come: `server`, its
# server has written its runtime file (tag `server JSON`); `node`, it runs on a node; `end`,
# only its end. It returns too when the job has ended (tags `ended FINAL`, `tail LINE`), or at
# the deadline (its place again). The runtime file is looked for ten times a second (a stat);
# the scheduler is asked every 0.3 s for the first two seconds (a job on a free node starts
# within them), then once a second (an RPC to its controller, which a room of students shares).
hpcinit_jupyter_wait() { # scheduler private-dir id last seconds [until]
  exec 2>&1
  sched=$1 dir=$(hpcinit_home_path "$2") id=$3 last=$4 until=${6:-server}
  end=$(($(date +%s) + $5)) n=0 w=
  while :; do
    if [ $((n % 10)) = 0 ] || { [ "$n" -lt 20 ] && [ $((n % 3)) = 0 ]; }; then
      w=$(hpcinit_job_where "$sched" "$id")
      if [ -z "$w" ]; then
        hpcinit_tag ended "$(hpcinit_job_final "$sched" "$id")"
        tail -q -n 20 "$dir"/hpcinit-*-"$id".out "$dir"/hpcinit-*-"$id".err 2>/dev/null \
          | grep -v 'token=' | sed 's/^/@@hpcinit:tail /'
        return 0
      fi
      [ "$w" != "$last" ] && { hpcinit_tag where "$w"; last=$w; }
      if [ "$until" = node ]; then
        case "$w" in RUNNING\|*\|*\|- | RUN\|*\|*\|-) ;; RUNNING\|* | RUN\|*) hpcinit_tag where "$w" && return 0 ;; esac
      fi
      if [ "$(date +%s)" -ge "$end" ]; then
        hpcinit_tag where "$w"
        return 0
      fi
    fi
    if [ "$until" = server ]; then
      for f in "$dir/$id"/jpserver-*.json; do
        [ -f "$f" ] || continue
        printf '@@hpcinit:server %s\n' "$(tr -d '\n' <"$f")"
        return 0
      done
    fi
    n=$((n + 1))
    sleep 0.1
  done
}

# Cancels the job and removes what it left in the private directory. Tag: `cancelled ID`. With
# WAIT 1 (a server's: its runtime files go once it is gone) it waits up to 10 s for the job to
# leave the queue; with 0 (a job that only held a node) the scheduler's acceptance is enough.
hpcinit_jupyter_cancel() { # scheduler private-dir [wait(1|0)] id
  exec 2>&1
  sched=$1 dir=$(hpcinit_home_path "$2") wait=1
  if [ $# -gt 3 ]; then wait=$3; shift; fi
  id=$3
  hpcinit_job_cancel "$sched" "$id" >/dev/null 2>&1
  i=0
  [ "$wait" = 1 ] || i=40
  while [ $i -lt 40 ] && [ -n "$(hpcinit_job_state "$sched" "$id")" ]; do
    sleep 0.25
    i=$((i + 1))
  done
  rm -rf "${dir:?}/$id" "$dir"/hpcinit-*-"$id".out "$dir"/hpcinit-*-"$id".err
  hpcinit_tag cancelled "$id"
}
