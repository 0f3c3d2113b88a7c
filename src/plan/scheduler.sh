# hpcinit's scheduler layer on the cluster (bash): submit a job, read its state, reason, start
# estimate and node, cancel it. Slurm and LSF, chosen by the first argument. Every command that
# allocates (the test job, `hpcinit jupyter`) goes through these functions.

# Submits the job on standard input; prints what the scheduler said.
hpcinit_job_submit() { # scheduler
  case "$1" in
    slurm) sbatch --parsable ;;
    lsf) bsub ;;
  esac
}

# The job id in the scheduler's answer to the submission.
hpcinit_job_id() { # scheduler answer
  case "$1" in
    slurm) printf '%s\n' "${2%%;*}" | tail -n 1 ;;
    lsf) printf '%s\n' "$2" | sed -n 's/^Job <\([0-9]*\)>.*/\1/p' ;;
  esac
}

# The job's state and reason while it is queued or running; nothing once it has ended.
hpcinit_job_state() { # scheduler id
  case "$1" in
    slurm) squeue -h -j "$2" -o '%T %r' 2>/dev/null ;;
    lsf)
      st=$(bjobs -noheader -o 'stat pend_reason' "$2" 2>/dev/null)
      case "$st" in DONE* | EXIT*) st= ;; esac
      printf '%s\n' "$st"
      ;;
  esac
}

# Where the job is: `STATE|REASON|SECONDS-TO-START|NODE` (the start estimate in seconds from
# now, or `-` when the scheduler has none; the first node, or `-` while queued); nothing once
# the job has ended.
hpcinit_job_where() { # scheduler id
  case "$1" in
    slurm) line=$(squeue -h -j "$2" -o '%T|%r|%S|%N' 2>/dev/null | head -n 1) ;;
    lsf)
      # The start estimate is LSF's simulation-based one (`estimated_sim_start_time`, shown
      # where LSB_ENABLE_ESTIMATION=Y; "-" otherwise), see
      # https://www.ibm.com/support/knowledgecenter/SSWRJV_10.1.0/lsf_config_ref/lsf.conf.lsb_enable_estimation.5.html
      # An LSF that does not know the field answers without it.
      line=$(bjobs -noheader -o "stat pend_reason estimated_sim_start_time exec_host delimiter='|'" "$2" 2>/dev/null) \
        || line=$(bjobs -noheader -o "stat pend_reason exec_host delimiter='|'" "$2" 2>/dev/null | awk -F'|' '{print $1 "|" $2 "|-|" $3}')
      line=$(printf '%s\n' "$line" | head -n 1)
      case "$line" in DONE* | EXIT*) line= ;; esac
      ;;
  esac
  [ -n "$line" ] || return 0
  st=${line%%|*} rest=${line#*|}
  reason=${rest%%|*} rest=${rest#*|}
  start=${rest%%|*} node=${rest#*|}
  in=-
  case "$start" in
    '' | N/A | - | Unknown) ;;
    *) s=$(date -d "$start" +%s 2>/dev/null) && in=$((s - $(date +%s))) ;;
  esac
  node=${node#*\*}
  node=${node%%[,:[ ]*}
  case "$node" in '' | '(null)' | n/a | -) node=- ;; esac
  printf '%s|%s|%s|%s\n' "$st" "${reason:--}" "$in" "$node"
}

hpcinit_job_cancel() { # scheduler id
  case "$1" in
    slurm) scancel "$2" ;;
    lsf) bkill "$2" ;;
  esac
}

# How the job ended, in the scheduler's words.
hpcinit_job_final() { # scheduler id
  case "$1" in
    slurm) scontrol show job "$2" 2>/dev/null | tr -s ' ' '\n' | grep -E '^(JobState|Reason|ExitCode)=' | tr '\n' ' ' ;;
    lsf) bjobs -noheader -o 'stat exit_code' "$2" 2>/dev/null ;;
  esac
}
