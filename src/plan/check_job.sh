# hpcinit's test job on the cluster (bash): submit it, wait for it (bounded), and find its line,
# with a fresh token, in its log. Every result is a tagged line (@@hpcinit:<tag> <payload>):
# job, state, timeout, final, log, ok, tail, fail. The scheduler's functions are scheduler.sh's.

# The whole check: the log directory must exist (else the scheduler fails the job without a
# word), then submit, poll (4 times a second for 10 s, then every second up to a minute, then
# every 10 s: gentler on the scheduler than a person re-running squeue), cancel at the deadline,
# and look for the token's line in the log.
hpcinit_check_job() { # scheduler logdir jobname token timeout; the job on standard input
  exec 2>&1
  sched=$1 logdir=$2 name=$3 token=$4 timeout=$5
  case "$token" in '' | *[!0-9a-f]*) hpcinit_tag fail submit "bad token"; return 1 ;; esac
  if [ ! -d "$logdir" ]; then hpcinit_tag fail no-log-dir "$logdir"; return 3; fi
  out=$(sed "s/{token}/$token/g" | hpcinit_job_submit "$sched") || { hpcinit_tag fail submit "$out"; return 1; }
  id=$(hpcinit_job_id "$sched" "$out")
  [ -n "$id" ] || { hpcinit_tag fail submit "$out"; return 1; }
  hpcinit_tag job "$id"
  deadline=$(($(date +%s) + timeout))
  last='' timed_out=0 n=0
  while :; do
    st=$(hpcinit_job_state "$sched" "$id")
    [ -z "$st" ] && break
    [ "$st" != "$last" ] && { hpcinit_tag state "$st"; last=$st; }
    if [ "$(date +%s)" -ge "$deadline" ]; then
      hpcinit_job_cancel "$sched" "$id"
      hpcinit_tag timeout "$st"
      timed_out=1
      break
    fi
    n=$((n + 1))
    if [ "$n" -le 40 ]; then sleep 0.25; elif [ "$n" -le 90 ]; then sleep 1; else sleep 10; fi
  done
  hpcinit_tag final "$(hpcinit_job_final "$sched" "$id")"
  log="$logdir/$name-$id.out" err="$logdir/$name-$id.err"
  i=0
  # The line as the job printed it, at the start of a line: LSF's -o file also holds the job
  # script itself ("Your job looked like:"), whose echo command carries the token too.
  while [ "$timed_out" = 0 ] && [ $i -lt 30 ] && ! grep -q "^hpcinit-check ok $token on " "$log" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
  done
  hpcinit_tag log "$log"
  grep "^hpcinit-check ok $token on " "$log" 2>/dev/null | head -n 1 | sed 's/^/@@hpcinit:ok /'
  tail -n 20 "$log" "$err" 2>/dev/null | sed 's/^/@@hpcinit:tail /'
  true
}
