//! The directories step: `~/sbatch`, the `~/scratch` link, `~/scratch/logs` and
//! `~/scratch/code-snapshots` on the cluster, created by one command (followed by a re-probe in
//! the same round trip). An existing `~/scratch` is never replaced; the scratch purge policy is
//! shown when the layout is first created.

use super::probe_task::change_and_reprobe;
use super::{Applied, Check, Context, StepError, Task};
use crate::plan::{layout, RemoteLayoutPlan};

pub struct RemoteLayoutTask {
    plan: RemoteLayoutPlan,
}

impl RemoteLayoutTask {
    pub fn new(plan: &RemoteLayoutPlan) -> RemoteLayoutTask {
        RemoteLayoutTask { plan: plan.clone() }
    }
}

impl Task for RemoteLayoutTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        let Some(facts) = &cx.facts else { return Ok(Check::Needed("the cluster was not probed".into())) };
        Ok(match layout::check(facts, self.plan.course_data.as_ref()) {
            Ok(found) => Check::Done(found),
            Err(missing) => Check::Needed(missing),
        })
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let RemoteLayoutPlan { script, purge, notes, log_dir, .. } = self.plan.clone();
        for n in &notes {
            cx.reporter.detail(&format!("note: {n}"));
        }
        change_and_reprobe(
            cx,
            &script,
            "creating the directories",
            "check that your home and scratch on the cluster are writable (and not over quota)",
        )?;
        // Shown once: only when the layout is first made.
        cx.reporter.detail(&format!("scratch purge policy: {purge}"));
        Ok(Applied::Changed(format!(
            "created ~/sbatch and ~/scratch with logs/ ({log_dir}) and code-snapshots/"
        )))
    }
}
