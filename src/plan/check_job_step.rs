//! The test-job step, planned: a tiny job from the template that imports the environment and
//! writes one line to its log, and the script that submits it and waits. Pure.

use super::job_parts::{account_line, JobParts};
use super::smoke;
use super::step::{Action, CheckJobPlan, Step};
use crate::answers::Answers;
use crate::exchange::Script;
use crate::profile::raw::SchedulerKind;
use crate::profile::Profile;

pub fn smoke_step(profile: &Profile, answers: &Answers, job: &JobParts) -> Step {
    let raw = &profile.raw;
    let sched = &raw.scheduler;
    let mut directives = super::directives::merged(
        sched.kind,
        sched.job.directives.iter().map(|d| d.as_str()),
        &answers.job_directives,
    );
    directives.extend(sched.job.smoke_test_directives.iter().map(|d| d.to_string()));
    let submit = match sched.kind {
        SchedulerKind::Slurm => "sbatch --parsable".to_string(),
        SchedulerKind::Lsf => "bsub <".to_string(),
    };
    let text = smoke::Smoke {
        kind: sched.kind,
        site: &raw.display_name,
        account: account_line(profile, answers),
        directives,
        log_dir: job.log_dir,
        reset: raw.python.modules.reset.as_str(),
        modules: job.loads,
        activate: job.activate.to_string(),
        venv: job.venv,
        submit_hint: &submit,
    }
    .job_text();
    Step::new(
        "Test job",
        format!(
            "Submit a 5-minute job from the template that imports the environment and writes one line to {}/{}-<job id>.out; wait for it and find the line.",
            job.log_dir,
            smoke::JOB_NAME
        ),
        Action::CheckJob(CheckJobPlan {
            kind: sched.kind,
            script: Script::new(
                "submit the test job and wait for it",
                smoke::remote_script(sched.kind, job.log_dir, &text),
            ),
            job: text,
            log_dir: job.log_dir.to_string(),
            submit,
        }),
    )
}
