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
            template: false,
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
        "{}{CHECK_JOB_SH}hpcinit_check_job {sched} {} {JOB_NAME} \"$1\" \"$2\" {open}\n{body}\n",
        super::scheduler::SCHEDULER_SH,
        sh(log_dir)
    )
}

/// What the test job's script reports, line by line (`check_job.sh`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobReport {
    /// Submitted, with this job id.
    Submitted(String),
    /// Queued or running: the state and the scheduler's reason.
    State(JobState),
    /// Cancelled at the deadline, in this state.
    TimedOut(JobState),
    /// How it ended, in the scheduler's words.
    Final(String),
    /// Where its log is.
    Log(String),
    /// The line with the token, found in the log.
    Found(String),
    /// One of the log's last lines.
    Tail(String),
    /// Not submitted.
    Failed(JobFailure),
}

/// Why the test job was not submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// The log directory does not exist (the scheduler would fail the job without a word).
    NoLogDir(String),
    /// The scheduler refused it, in its words.
    Submit(String),
}

/// A job's state while it is queued or running, and the scheduler's reason (`PENDING Priority`,
/// `RUNNING None`; LSF: `PEND New job is waiting for scheduling`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub state: String,
    pub reason: Option<String>,
}

impl JobState {
    fn parse(payload: &str) -> JobState {
        let (state, reason) = payload.trim().split_once(' ').unwrap_or((payload.trim(), ""));
        let reason = reason.trim();
        JobState {
            state: state.to_string(),
            reason: (!reason.is_empty() && reason != "None" && reason != "-").then(|| reason.to_string()),
        }
    }
}

impl std::fmt::Display for JobState {
    /// `pending (Priority)`, `running`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.state.to_lowercase())?;
        match &self.reason {
            Some(r) => write!(f, " ({r})"),
            None => Ok(()),
        }
    }
}

impl Tagged for JobReport {
    fn from_tag(tag: &str, payload: &str) -> Option<JobReport> {
        let p = payload.to_string();
        Some(match tag {
            "job" => JobReport::Submitted(p),
            "state" => JobReport::State(JobState::parse(payload)),
            "timeout" => JobReport::TimedOut(JobState::parse(payload)),
            "final" => JobReport::Final(p),
            "log" => JobReport::Log(p),
            "ok" => JobReport::Found(p),
            "tail" => JobReport::Tail(p),
            "fail" => JobReport::Failed(match payload.split_once(' ').unwrap_or((payload, "")) {
                ("no-log-dir", dir) => JobFailure::NoLogDir(dir.to_string()),
                (_, said) => JobFailure::Submit(said.to_string()),
            }),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::tags;

    #[test]
    fn the_test_jobs_reply_is_typed() {
        let out = "Welcome\n@@hpcinit:job 42\n@@hpcinit:state PENDING Priority\n@@hpcinit:state RUNNING None\n@@hpcinit:timeout PEND New job is waiting for scheduling\n@@hpcinit:fail no-log-dir /scratch/a/logs\n@@hpcinit:fail submit sbatch: error: invalid account\n";
        let r = tags::<JobReport>(out);
        assert_eq!(r[0], JobReport::Submitted("42".into()));
        let JobReport::State(pending) = &r[1] else { panic!("{r:?}") };
        assert_eq!(pending.to_string(), "pending (Priority)");
        let JobReport::State(running) = &r[2] else { panic!("{r:?}") };
        assert_eq!(
            (running.state.as_str(), running.reason.as_deref(), running.to_string().as_str()),
            ("RUNNING", None, "running")
        );
        let JobReport::TimedOut(pend) = &r[3] else { panic!("{r:?}") };
        assert_eq!(pend.reason.as_deref(), Some("New job is waiting for scheduling"));
        assert_eq!(r[4], JobReport::Failed(JobFailure::NoLogDir("/scratch/a/logs".into())));
        assert_eq!(r[5], JobReport::Failed(JobFailure::Submit("sbatch: error: invalid account".into())));
    }
}
