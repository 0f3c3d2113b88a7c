//! The job-templates step, planned: the job script, the environment snippet and the
//! dask-jobqueue config, each decided against what the cluster has, and the script that writes
//! them. Pure.

use super::job_parts::{account_line, submit_hint, JobParts, TemplatePaths};
use super::job_script::{self, JobScript};
use super::step::{Action, JobTemplatesPlan, Step};
use super::templates::{self, RemoteFile};
use super::{script_text, RemoteFacts};
use crate::answers::Answers;
use crate::exchange::Script;
use crate::profile::raw::{SchedulerKind, VenvRecipe};
use crate::profile::Profile;

pub fn templates_step(
    profile: &Profile,
    answers: &Answers,
    job: &JobParts,
    paths: &TemplatePaths,
    remote: Option<&RemoteFacts>,
) -> Step {
    let raw = &profile.raw;
    let sched = &raw.scheduler;
    let submit = submit_hint(profile, &paths.job);
    let files = template_files(profile, answers, job, paths, remote, &submit);
    let snapshot_note = match sched.kind {
        SchedulerKind::Slurm => "the code snapshot that was latest when the job was submitted",
        SchedulerKind::Lsf => "the latest code snapshot",
    };
    let venv_note =
        if raw.python.venv.recipe == VenvRecipe::ContainerWrapper { "container environment" } else { "venv" };
    Step::new(
        "Job templates",
        format!(
            "Write {} (logs go to {}, which exists; it loads the modules and the {venv_note} and runs from {snapshot_note}), {} to `source`, and {}; files you edited are kept. {} jobs may run at most {}{}.",
            paths.job,
            job.log_dir,
            paths.env,
            paths.dask,
            raw.display_name,
            sched.max_walltime.human(),
            if profile.unverified("scheduler.max_walltime").is_some() { " (UNVERIFIED)" } else { "" }
        ),
        Action::JobTemplates(JobTemplatesPlan {
            script: Script::new("write the job templates", templates::write_script(&files)),
            files,
            submit,
            log_dir: job.log_dir.to_string(),
        }),
    )
}

/// The job template, the environment snippet and the dask-jobqueue config, each decided
/// against what the cluster has (`remote`).
fn template_files(
    profile: &Profile,
    answers: &Answers,
    job: &JobParts,
    paths: &TemplatePaths,
    remote: Option<&RemoteFacts>,
    submit: &str,
) -> Vec<RemoteFile> {
    let raw = &profile.raw;
    let sched = &raw.scheduler;
    let time = match sched.kind {
        SchedulerKind::Slurm => sched.job.time.value.slurm(),
        SchedulerKind::Lsf => sched.job.time.value.lsf(),
    };
    // The course's replace the profile's of the same kind (`directives::merged`).
    let directives = super::directives::merged(
        sched.kind,
        sched.job.directives.iter().map(|d| d.as_str()),
        &answers.job_directives,
    );
    let reset = raw.python.modules.reset.as_str();
    let job_text = JobScript {
        kind: sched.kind,
        site: &raw.display_name,
        job_name: &answers.project_name,
        account: account_line(profile, answers),
        time: time.clone(),
        directives: &directives,
        log_dir: job.log_dir,
        reset,
        modules: job.loads,
        activate: job.activate.to_string(),
        body: match job.snapshots {
            Some(dir) => job_script::snapshot_body(sched.kind, dir),
            None => job_script::no_project_body(),
        },
        submit_hint: submit,
        template: true,
    }
    .render();
    let env_text = templates::env_snippet(
        &raw.display_name,
        &answers.project_name,
        reset,
        job.loads,
        job.activate,
        job.log_dir,
    );
    let mut prologue = vec![reset.to_string()];
    if !job.loads.is_empty() {
        prologue.extend(super::modules::load_command(job.loads));
    }
    prologue.push(job.activate.to_string());
    prologue.push("export PYTHONUNBUFFERED=1".into());
    let dask_text = templates::Dask {
        kind: sched.kind,
        site: &raw.display_name,
        project: &answers.project_name,
        account: answers.account.as_deref(),
        walltime: match sched.kind {
            SchedulerKind::Slurm => time,
            SchedulerKind::Lsf => sched.job.time.value.lsf(),
        },
        log_dir: job.log_dir,
        directives: &directives,
        prologue,
    }
    .render();
    vec![
        RemoteFile::new(
            paths.job.clone(),
            "job template",
            "0755",
            script_text::stamped(&job_text, 1),
            remote,
        ),
        RemoteFile::new(paths.env.clone(), "environment snippet", "0644", env_text, remote),
        RemoteFile::new(paths.dask.clone(), "dask-jobqueue config", "0644", dask_text, remote),
    ]
}
