//! What the job texts share (the templates and the test job): the files' paths, where logs and
//! snapshots are, the modules and the environment, the account line, the submit hint. Pure.

use super::job_script::AccountLine;
use crate::answers::Answers;
use crate::profile::Profile;

/// The remote files the templates step writes: job script, environment snippet, dask config.
pub struct TemplatePaths {
    pub job: String,
    pub env: String,
    pub dask: String,
}

pub fn template_paths(answers: &Answers) -> TemplatePaths {
    TemplatePaths {
        job: format!("~/sbatch/{}.sh", answers.project_name),
        env: env_snippet(&answers.project_name),
        dask: "~/.config/dask/jobqueue.yaml".into(),
    }
}

/// The environment snippet of `project`'s jobs (modules and venv), which other scripts source.
pub fn env_snippet(project: &str) -> String {
    format!("~/sbatch/{project}-env.sh")
}

/// What the job texts share: where logs and snapshots are, the modules and the environment.
pub struct JobParts<'a> {
    pub log_dir: &'a str,
    /// `None`: no project, so no code snapshot; jobs run where they are submitted.
    pub snapshots: Option<&'a str>,
    pub loads: &'a [String],
    pub activate: &'a str,
    pub venv: &'a str,
}

pub(super) fn submit_hint(profile: &Profile, path: &str) -> String {
    let sched = &profile.raw.scheduler;
    if sched.submit_from_scratch {
        format!("cd ~/scratch && {} {path}", sched.submit.value)
    } else {
        format!("{} {path}", sched.submit.value)
    }
}

pub(super) fn account_line<'a>(profile: &'a Profile, answers: &'a Answers) -> AccountLine<'a> {
    match (&profile.raw.scheduler.account, &answers.account) {
        (Some(a), Some(v)) => AccountLine::Set { flag: &a.flag, value: v },
        (Some(a), None) => AccountLine::Optional {
            flag: &a.flag,
            example: &a.example.value,
            why: "Needed when you belong to more than one allocation",
        },
        (None, _) => AccountLine::None,
    }
}
