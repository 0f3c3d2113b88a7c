//! The smoke job: a tiny job written from the same template as the person's own (same
//! account, log directory, modules and environment) that imports the requirements and prints
//! one line with a fresh token; and the remote script that submits it, waits for it (bounded)
//! reporting the scheduler's state and reason, and looks for that line in its log. Pure.

use super::job_script::{AccountLine, JobScript};
use super::script_text::heredoc;
use crate::exchange::Tagged;
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

/// The functions that submit the test job, wait for it and read its log.
pub const CHECK_JOB_SH: &str = include_str!("check_job.sh");

/// The remote script: `check_job.sh` and one call, with the job on standard input. `$1` is a
/// fresh token (hex) that replaces `{token}` in the job, `$2` the timeout in seconds.
pub fn remote_script(kind: SchedulerKind, log_dir: &str, job: &str) -> String {
    let (open, body) = heredoc(job);
    let sched = match kind {
        SchedulerKind::Slurm => "slurm",
        SchedulerKind::Lsf => "lsf",
    };
    format!(
        "{CHECK_JOB_SH}hpcinit_check_job {sched} {} {JOB_NAME} \"$1\" \"$2\" {open}\n{body}\n",
        sh(log_dir)
    )
}

/// What the test job's script reports, line by line (`check_job.sh`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobReport {
    /// Submitted, with this job id.
    Submitted(String),
    /// Queued or running: the state and the scheduler's reason.
    State(String),
    /// Cancelled at the deadline, in this state.
    TimedOut(String),
    /// How it ended, in the scheduler's words.
    Final(String),
    /// Where its log is.
    Log(String),
    /// The line with the token, found in the log.
    Found(String),
    /// One of the log's last lines.
    Tail(String),
    /// Not submitted: `no-log-dir DIR` or `submit WHAT THE SCHEDULER SAID`.
    Failed(String),
}

impl Tagged for JobReport {
    fn from_tag(tag: &str, payload: &str) -> Option<JobReport> {
        let p = payload.to_string();
        Some(match tag {
            "job" => JobReport::Submitted(p),
            "state" => JobReport::State(p),
            "timeout" => JobReport::TimedOut(p),
            "final" => JobReport::Final(p),
            "log" => JobReport::Log(p),
            "ok" => JobReport::Found(p),
            "tail" => JobReport::Tail(p),
            "fail" => JobReport::Failed(p),
            _ => return None,
        })
    }
}
