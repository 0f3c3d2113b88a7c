//! The test job: submits a tiny job written from the template (same account, logs, modules and
//! environment), waits for it in the same round trip, bounded by `--job-timeout`, showing the
//! scheduler's state and reason with a spinner, and finds its line, with a fresh token, in the
//! log. It refuses to submit when the log directory is missing: the scheduler would then fail
//! the job without writing a word anywhere.

use super::{Applied, Check, Context, StepError, Task};
use crate::exchange::tags;
use crate::plan::facts::ProbePath;
use crate::plan::smoke::{JobFailure, JobReport, JobState};
use crate::plan::CheckJobPlan;
use crate::remote::RemoteOutput;

pub struct CheckJobTask {
    plan: CheckJobPlan,
    passed: Option<String>,
}

impl CheckJobTask {
    pub fn new(plan: &CheckJobPlan) -> CheckJobTask {
        CheckJobTask { plan: plan.clone(), passed: None }
    }
}

impl Task for CheckJobTask {
    fn check(&mut self, _cx: &mut Context) -> Result<Check, StepError> {
        Ok(match &self.passed {
            Some(line) => Check::Done(line.clone()),
            None => Check::Needed("a test job proves the setup each time it is asked for".into()),
        })
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let CheckJobPlan { script, log_dir, .. } = self.plan.clone();
        let site = cx.plan.site.clone();
        if cx.facts.as_ref().is_some_and(|f| !f.path(ProbePath::Logs).is_dir()) {
            return Err(StepError::Cluster {
                what: "the test job".into(),
                detail: format!("the log directory {log_dir} does not exist, so the scheduler could not write the job's output and the job would fail without a word"),
                hint: format!("run `hpcinit --site {site}` first: it creates the directories"),
            });
        }
        let timeout = cx.options.job_timeout.as_secs().max(10);
        let script = script.and_args([token(), timeout.to_string()]);
        let mut wait = cx.reporter.wait("submitting the test job");
        let mut id = String::new();
        let mut states: Vec<JobState> = Vec::new();
        let out = cx.run_script(&script, &mut |line| match tags::<JobReport>(line).pop() {
            Some(JobReport::Submitted(j)) => {
                id = j;
                wait.update(&format!("job {id} submitted"));
            }
            Some(JobReport::State(st)) => {
                wait.update(&format!("job {id}: {st}"));
                states.push(st);
            }
            _ => {}
        })?;
        drop(wait);
        for s in &states {
            cx.reporter.trace(&format!("job {id}: {s}"));
        }
        self.outcome(&site, &id, &out, timeout)
    }
}

impl CheckJobTask {
    /// What the job's script reported: its line found, or why not.
    fn outcome(
        &mut self,
        site: &str,
        id: &str,
        out: &RemoteOutput,
        timeout: u64,
    ) -> Result<Applied, StepError> {
        let reports = tags::<JobReport>(&out.stdout);
        let first = |pick: fn(&JobReport) -> Option<&String>| reports.iter().find_map(pick).cloned();
        let failed = reports.iter().find_map(|r| if let JobReport::Failed(f) = r { Some(f) } else { None });
        if let Some(fail) = failed {
            let detail = match fail {
                JobFailure::NoLogDir(dir) => {
                    format!("the log directory {dir} does not exist, so the job would fail without a word")
                }
                JobFailure::Submit(said) => format!(
                    "the scheduler refused the job: {}",
                    if said.is_empty() { out.stdout.trim() } else { said }
                ),
            };
            return Err(StepError::Cluster {
                what: "the test job".into(),
                detail,
                hint: format!("check the account and the limits named above; the job script is shown by `hpcinit plan --site {site} --check-job`"),
            });
        }
        let log = first(|r| if let JobReport::Log(l) = r { Some(l) } else { None }).unwrap_or_default();
        if let Some(ok) = first(|r| if let JobReport::Found(l) = r { Some(l) } else { None }) {
            let line = format!("job {id} wrote `{}` to {log}", ok.trim());
            self.passed = Some(line.clone());
            return Ok(Applied::Changed(line));
        }
        let final_state =
            first(|r| if let JobReport::Final(f) = r { Some(f) } else { None }).unwrap_or_default();
        let timed_out =
            reports.iter().find_map(|r| if let JobReport::TimedOut(st) = r { Some(st) } else { None });
        let tail: Vec<String> = reports
            .iter()
            .filter_map(|r| if let JobReport::Tail(l) = r { Some(l.clone()) } else { None })
            .collect();
        let mut detail = match &timed_out {
            Some(st) => {
                format!("job {id} did not finish within {timeout} s and was cancelled; last state: {st}")
            }
            None => format!("job {id} ended ({}) without writing its line to {log}", final_state.trim()),
        };
        if !tail.is_empty() {
            detail.push_str("\n  log: ");
            detail.push_str(&tail.join("\n  log: "));
        }
        Err(StepError::Cluster {
            what: "the test job".into(),
            detail,
            hint: if timed_out.is_some() {
                "the queue may be busy: try again later, or give it longer with --job-timeout SECONDS".into()
            } else {
                format!("read {log} and the .err file beside it; the scheduler's reason is above")
            },
        })
    }
}

/// A fresh token, so an old log line can never pass for this job's.
fn token() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}{:x}", nanos, std::process::id())
}
