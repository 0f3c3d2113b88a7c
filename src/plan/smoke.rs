//! The smoke job: a tiny job written from the same template as the person's own (same
//! account, log directory, modules and environment) that imports the requirements and prints
//! one line with a fresh token; and the remote script that submits it, waits for it (bounded)
//! reporting the scheduler's state and reason, and looks for that line in its log. Pure.

use super::job_script::{AccountLine, JobScript};
use super::script_text::heredoc;
use crate::profile::raw::SchedulerKind;
use crate::profile::scalar::Walltime;
use crate::quote::{sh, sh_path};

use super::venv_build::VERIFY;

/// The job's name, and so its log files' names.
pub const JOB_NAME: &str = "hpcinit-check";

pub struct Smoke<'a> {
    pub kind: SchedulerKind,
    pub site: &'a str,
    pub account: AccountLine<'a>,
    pub directives: Vec<String>,
    pub log_dir: &'a str,
    pub reset: &'a str,
    pub modules: &'a [String],
    pub activate: String,
    pub venv: &'a str,
    pub submit_hint: &'a str,
}

impl Smoke<'_> {
    /// The job script; `{token}` is replaced with a fresh token at submission.
    pub fn job_text(&self) -> String {
        let five = Walltime { minutes: 5 };
        let (open, body) = heredoc(VERIFY);
        let verify = format!(
            "python - {} {open}\n{body}",
            sh_path(&format!("{}/.hpcinit/requirements.txt", self.venv))
        );
        JobScript {
            kind: self.kind,
            site: self.site,
            job_name: JOB_NAME,
            account: match self.account {
                AccountLine::Set { flag, value } => AccountLine::Set { flag, value },
                _ => AccountLine::None,
            },
            time: match self.kind {
                SchedulerKind::Slurm => five.slurm(),
                SchedulerKind::Lsf => five.lsf(),
            },
            directives: &self.directives,
            log_dir: self.log_dir,
            reset: self.reset,
            modules: self.modules,
            activate: self.activate.clone(),
            body: vec![
                "# hpcinit's smoke job: the environment imports, and the job can write its log.".into(),
                verify,
                "echo \"hpcinit-check ok {token} on $(hostname) with $(python -c 'import sys; print(sys.version.split()[0])')\"".into(),
            ],
            submit_hint: self.submit_hint,
        }
        .render()
    }
}

/// The remote script: check the log directory, submit `job` on standard input with `{token}`
/// replaced by `$1` (a fresh token, hex), wait up to `$2` seconds reporting state changes, then
/// report the end state and the log.
pub fn remote_script(kind: SchedulerKind, log_dir: &str, job: &str) -> String {
    let (open, body) = heredoc(job);
    let (submit, id, poll, cancel, fin) = match kind {
        SchedulerKind::Slurm => (
            format!("out=$(sed \"s/{{token}}/$1/g\" {open} | sbatch --parsable\n{body}\n)"),
            "id=${out%%;*}",
            "st=$(squeue -h -j \"$id\" -o '%T %r' 2>/dev/null)",
            "scancel \"$id\"",
            "scontrol show job \"$id\" 2>/dev/null | tr -s ' ' '\\n' | grep -E '^(JobState|Reason|ExitCode)=' | tr '\\n' ' '",
        ),
        SchedulerKind::Lsf => (
            format!("out=$(sed \"s/{{token}}/$1/g\" {open} | bsub\n{body}\n)"),
            "id=$(printf '%s\\n' \"$out\" | sed -n 's/^Job <\\([0-9]*\\)>.*/\\1/p')",
            "st=$(bjobs -noheader -o 'stat pend_reason' \"$id\" 2>/dev/null); case \"$st\" in DONE*|EXIT*) st= ;; esac",
            "bkill \"$id\"",
            "bjobs -noheader -o 'stat exit_code' \"$id\" 2>/dev/null",
        ),
    };
    format!(
        r#"exec 2>&1
logdir={logdir}
if [ ! -d "$logdir" ]; then hpcinit_tag fail no-log-dir "$logdir"; return 3; fi
{submit} || {{ hpcinit_tag fail submit "$out"; return 1; }}
{id}
[ -n "$id" ] || {{ hpcinit_tag fail submit "$out"; return 1; }}
hpcinit_tag job "$id"
deadline=$(( $(date +%s) + $2 ))
last=; timed_out=0; n=0
while :; do
  {poll}
  [ -z "$st" ] && break
  [ "$st" != "$last" ] && {{ hpcinit_tag state "$st"; last=$st; }}
  if [ "$(date +%s)" -ge "$deadline" ]; then {cancel}; hpcinit_tag timeout "$st"; timed_out=1; break; fi
  # A smoke job on an idle queue is over in seconds: ask 4 times a second for the first
  # 10 seconds, then every second up to a minute, then every 10 seconds (gentler on the
  # scheduler than a person re-running squeue).
  n=$((n + 1)); if [ "$n" -le 40 ]; then sleep 0.25; elif [ "$n" -le 90 ]; then sleep 1; else sleep 10; fi
done
hpcinit_tag final "$({fin})"
log="$logdir/{name}-$id.out"; err="$logdir/{name}-$id.err"
i=0
while [ "$timed_out" = 0 ] && [ $i -lt 30 ] && ! grep -qF "hpcinit-check ok $1" "$log" 2>/dev/null; do sleep 1; i=$((i + 1)); done
hpcinit_tag log "$log"
grep -F "hpcinit-check ok $1" "$log" 2>/dev/null | head -n 1 | sed 's/^/@@hpcinit:ok /'
tail -n 20 "$log" "$err" 2>/dev/null | sed 's/^/@@hpcinit:tail /'
true"#,
        logdir = sh(log_dir),
        name = JOB_NAME,
    )
}
