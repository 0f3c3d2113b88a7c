//! The job templates step: the job script, the environment snippet and the dask-jobqueue
//! config, written on the cluster in one round trip (temporary file, mode, rename), then
//! re-probed in the same trip. A file someone edited is never overwritten: hpcinit's version
//! goes beside it as `<file>.hpcinit-new` and the run says so.

use super::probe_task::change_and_reprobe;
use super::{Applied, Check, Context, StepError, Task};
use crate::plan::templates::{new_path, FileDecision, RemoteFile};
use crate::plan::JobTemplatesPlan;

pub struct JobTemplatesTask {
    plan: JobTemplatesPlan,
}

impl JobTemplatesTask {
    pub fn new(plan: &JobTemplatesPlan) -> JobTemplatesTask {
        JobTemplatesTask { plan: plan.clone() }
    }

    /// The files as the newest plan decides them: after writing, the re-probe's facts say
    /// whether each is now as planned.
    fn files(&self, cx: &Context) -> Vec<RemoteFile> {
        cx.plan.job_templates().unwrap_or(&self.plan).files.clone()
    }
}

impl Task for JobTemplatesTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        if cx.facts.is_none() {
            return Ok(Check::Needed("the cluster was not probed".into()));
        }
        let files = self.files(cx);
        let todo: Vec<&RemoteFile> = files.iter().filter(|f| !f.is_done()).collect();
        Ok(if todo.is_empty() {
            let kept: Vec<String> = files
                .iter()
                .filter(|f| f.decision == FileDecision::KeptWithNew)
                .map(|f| format!("{} (yours, kept; hpcinit's is {})", f.path, new_path(&f.path)))
                .collect();
            let mut line = files
                .iter()
                .filter(|f| f.decision == FileDecision::Same)
                .map(|f| f.path.clone())
                .collect::<Vec<_>>()
                .join(", ");
            if !kept.is_empty() {
                line.push_str(&format!("; {}", kept.join(", ")));
            }
            Check::Done(line)
        } else {
            Check::Needed(todo.iter().map(|f| f.path.clone()).collect::<Vec<_>>().join(", "))
        })
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let plan = cx.plan.job_templates().unwrap_or(&self.plan).clone();
        let files = plan.files;
        change_and_reprobe(
            cx,
            &plan.script,
            "writing the job templates",
            "check that ~/sbatch and ~/.config on the cluster are writable (and not over quota)",
        )?;
        let mut wrote = Vec::new();
        for f in files.iter().filter(|f| !f.is_done()) {
            match f.decision {
                FileDecision::KeepEdited => {
                    let note = format!(
                        "{} was edited since hpcinit wrote it, so it was kept; hpcinit's new version is {} (compare, then move it over yours)",
                        f.path,
                        new_path(&f.path)
                    );
                    cx.reporter.detail(&note);
                    cx.pending.push(note);
                }
                _ => wrote.push(f.path.clone()),
            }
        }
        Ok(Applied::Changed(if wrote.is_empty() {
            "your edited files were kept".to_string()
        } else {
            format!("wrote {}", wrote.join(", "))
        }))
    }
}
