# `hpcinit doctor` on the cluster (bash), changing nothing: does the scheduler answer, what does
# the site's quota command say, and does the environment import every requirement with the
# modules its jobs load. `hpcinit_modules`, `hpcinit_quota` and the import check
# (`hpcinit_verify_py`) are sent with this file.
# Tags: scheduler-ok, scheduler-fail, quota-line, quota-exit, import, import-error, venv-missing,
# venv-exit.

# This user's jobs, as the scheduler lists them.
hpcinit_doctor_jobs() { # scheduler
  case "$1" in
    slurm) squeue -h -u "$(id -un)" -o %i ;;
    lsf) bjobs -noheader -u "$(id -un)" 2>/dev/null || bjobs -u "$(id -un)" ;;
  esac
}

hpcinit_doctor_scheduler() { # scheduler
  if out=$(hpcinit_doctor_jobs "$1" 2>&1); then
    hpcinit_tag scheduler-ok "$(printf '%s\n' "$out" | grep -c .)"
  else
    hpcinit_tag scheduler-fail "$(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
  fi
}

# The quota command's first lines and its exit status (all its output, of every command in it).
hpcinit_doctor_quota() { # lines
  out=$( { hpcinit_quota; } 2>&1)
  rc=$?
  printf '%s\n' "$out" | head -n "$1" | sed 's/^/@@hpcinit:quota-line /'
  hpcinit_tag quota-exit "$rc"
}

# Every check in one round trip. Args: scheduler (slurm|lsf), quota lines, the venv, its module
# load line (for the message), and `imports` when the environment is to be imported from.
hpcinit_doctor() {
  hpcinit_doctor_scheduler "$1"
  hpcinit_doctor_quota "$2"
  if [ "${5:-}" = imports ]; then hpcinit_doctor_imports "$(hpcinit_home_path "$3")" "$4"; fi
  return 0
}

# The import check with the jobs' modules loaded.
hpcinit_doctor_imports() { # venv, the module load line (for the message)
  venv=$1
  if [ ! -x "$venv"/bin/python ]; then
    hpcinit_tag venv-missing "$venv"
    return 0
  fi
  (
    hpcinit_modules >/dev/null 2>&1 || {
      hpcinit_tag import-error "modules: $2 failed"
      exit 1
    }
    # shellcheck disable=SC2154 # sent before this file's call, with the quota command
    printf '%s\n' "$hpcinit_verify_py" | "$venv"/bin/python - "$venv"/.hpcinit/requirements.txt 2>&1
  ) | grep '^@@hpcinit:'
  hpcinit_tag venv-exit "${PIPESTATUS[0]}"
}
