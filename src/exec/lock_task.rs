//! The lock step: writes `hpcinit.lock` into the project from the environment built as planned.
//! Its content comes from hpcinit's record of the build (written by the Python step); when that
//! record is missing or describes another build, from one read-only round trip that reads the
//! environment on the cluster. Done when the file describes the same environment (whichever
//! hpcinit wrote it), so a re-run leaves it untouched; written atomically.

use super::{Applied, Check, Context, StepError, Task};
use crate::exchange::Script;
use crate::local::lock::{self, Lock};
use crate::local::state::{self, EnvironmentRecord};
use crate::plan::compare::{compare, Side};
use crate::plan::environment::{self, Described};
use crate::plan::LockPlan;
use std::path::PathBuf;

pub struct LockTask {
    plan: LockPlan,
    /// What the file should hold, once known.
    want: Option<Lock>,
}

impl LockTask {
    pub fn new(plan: &LockPlan) -> LockTask {
        LockTask { plan: plan.clone(), want: None }
    }
}

/// The record of the environment built as planned: hpcinit's own, else read on the cluster
/// (and recorded). `None` when the environment there is not the planned one.
fn current_record(cx: &mut Context, p: &LockPlan) -> Result<Option<EnvironmentRecord>, StepError> {
    let inputs_sha = &p.inputs_sha;
    let built = cx.facts.as_ref().and_then(|f| f.venv_marker.as_deref()) == Some(inputs_sha.as_str());
    if !built {
        return Ok(None);
    }
    let (site, project) = (cx.plan.site.clone(), cx.plan.project.clone());
    if let Some(rec) = state::recorded(cx.env, &site, &project) {
        if &rec.inputs_sha == inputs_sha && !rec.python.is_empty() {
            return Ok(Some(rec));
        }
    }
    read_on_cluster(cx, &p.venv, &p.read_script, &p.requirements).map(|r| {
        r.map(|mut rec| {
            rec.site = site;
            rec.project = project;
            rec
        })
    })
}

/// Reads the environment at `venv` on the cluster with the plan's `script` (one round trip) and
/// records it. An environment built from a lock file takes the project's `requirements` lines
/// (its own are the lock's pins).
pub fn read_on_cluster(
    cx: &mut Context,
    venv: &str,
    script: &Script,
    requirements: &[String],
) -> Result<Option<EnvironmentRecord>, StepError> {
    let out = cx.run_script(script, &mut |_| {})?;
    match environment::parse(&out.stdout, venv) {
        Some(Described::Found { mut record, from_lock, .. }) => {
            record.site = cx.plan.site.clone();
            record.project = cx.plan.project.clone();
            if from_lock && !requirements.is_empty() {
                record.requirements = requirements.to_vec();
            }
            let _ = state::record(cx.env, &record);
            Ok(Some(*record))
        }
        Some(Described::Missing) => Ok(None),
        None => Err(StepError::Cluster {
            what: "reading the environment".into(),
            detail: format!("the script stopped before the end: {}", last_lines(&out.stdout)),
            hint: "run `hpcinit doctor` to see what fails on the cluster".into(),
        }),
    }
}

fn last_lines(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

impl Task for LockTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        let file = PathBuf::from(&self.plan.path);
        let Some(rec) = current_record(cx, &self.plan.clone())? else {
            return Ok(Check::Done(format!(
                "left as it is: the environment on the cluster is not the one planned, so {} has nothing to describe",
                lock::FILE
            )));
        };
        let want = Lock::from_record(&self.plan.site, &rec);
        let dir = file.parent().map(PathBuf::from).unwrap_or_default();
        let have = lock::read(&dir);
        // What `hpcinit jupyter` added on this site stays an interactive extra: never locked.
        let want = match &have {
            Ok(Some(h)) if h.origin.site == want.origin.site => want.with_interactive(&h.interactive),
            _ => want,
        };
        self.want = Some(want.clone());
        Ok(match have {
            Ok(Some(h)) if h.same_environment(&want) => Check::Done(format!(
                "{} describes this environment (Python {}, {})",
                cx.env.tilde(&file),
                want.python.version,
                crate::local::lock::packages_phrase(want.packages.len())
            )),
            Ok(Some(h)) if h.origin.site != want.origin.site => {
                Check::Needed(format!("it describes the environment on {}", h.origin.name))
            }
            Ok(Some(h)) => {
                let side = |l: &Lock, label: &str| Side {
                    label: label.into(),
                    python: l.python.version.clone(),
                    modules: l.modules.clone(),
                    freeze: l.packages.clone(),
                };
                let diffs = compare(side(&h, "the lock"), side(&want, "the environment")).differences();
                Check::Needed(format!(
                    "{} differs from the environment{}",
                    cx.env.tilde(&file),
                    if diffs.is_empty() { String::new() } else { format!(": {}", diffs.join("; ")) }
                ))
            }
            Ok(None) => Check::Needed(format!("{} does not exist", cx.env.tilde(&file))),
            Err(e) => Check::Needed(format!("it cannot be read ({e})")),
        })
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let file = PathBuf::from(&self.plan.path);
        let Some(want) = self.want.clone() else {
            return Ok(Applied::Unchanged("nothing to write".into()));
        };
        crate::local::atomic::write(&file, want.render().as_bytes(), 0o644)
            .map_err(|e| StepError::Write { path: file.clone(), source: e })?;
        let modules: Vec<&str> = want.modules.iter().map(|m| m.exact.as_str()).collect();
        Ok(Applied::Changed(format!(
            "wrote {}: Python {}{}, {}",
            cx.env.tilde(&file),
            want.python.version,
            if modules.is_empty() { String::new() } else { format!(" ({})", modules.join(", ")) },
            crate::local::lock::packages_phrase(want.packages.len())
        )))
    }
}
