//! The plan's steps on the cluster that follow the probe and name the run's files: the probe
//! itself, the job templates, the lock file and the test job. Pure: the profile, the answers
//! and the facts in; steps with every text they send out.

use super::facts::ProbePath;
use super::job_script::{self, AccountLine, JobScript};
use super::probe::{ModuleQuery, ProbeRequest};
use super::step::{Action, CheckJobPlan, JobTemplatesPlan, LockPlan, ProbePlan, PythonPlan, Step};
use super::templates::{self, RemoteFile};
use super::{python, script_text, smoke, LocalFacts, RemoteFacts};
use crate::answers::Answers;
use crate::exchange::Script;
use crate::local::lock::{LockSite, LockedRecipe};
use crate::profile::raw::{SchedulerKind, VenvRecipe};
use crate::profile::Profile;

/// What a lock made on this site records of it.
pub fn lock_site(profile: &Profile) -> LockSite {
    let py = &profile.raw.python;
    LockSite {
        site: profile.name().to_string(),
        name: profile.raw.display_name.clone(),
        python_base: python::module_base(profile),
        prerequisites: py.modules.prerequisites.iter().map(|m| m.to_string()).collect(),
        recipe: LockedRecipe {
            kind: py.venv.recipe,
            system_site_packages: py.venv.system_site_packages,
            pip_no_index: py.venv.pip_no_index,
        },
    }
}

/// The lock step describes the environment the Python step builds.
pub fn lock_step(profile: &Profile, answers: &Answers, local: &LocalFacts, python: &PythonPlan) -> Step {
    let path = answers.project_dir.join(crate::local::lock::FILE).display().to_string();
    let exists = local.lock.is_some();
    Step::new(
        "Lock file",
        format!(
            "{} {path} from the environment: Python, modules, recipe and the exact package versions (pip freeze), so that `hpcinit --site OTHER` rebuilds the same environment on another cluster.{}",
            if exists { "Refresh" } else { "Write" },
            if exists { " Unchanged when the environment is." } else { "" }
        ),
        Action::Lock(LockPlan {
            path,
            origin: profile.name().to_string(),
            exists,
            venv: python.venv.clone(),
            loads: python.loads.clone(),
            inputs_sha: python.inputs_sha.clone(),
            requirements: python.requirements.clone(),
            read_script: python.read_script.clone(),
            site: lock_site(profile),
        }),
    )
}

/// The remote files the templates step writes: job script, environment snippet, dask config.
pub struct TemplatePaths {
    job: String,
    env: String,
    dask: String,
}

pub fn template_paths(answers: &Answers) -> TemplatePaths {
    TemplatePaths {
        job: format!("~/sbatch/{}.sh", answers.project_name),
        env: format!("~/sbatch/{}-env.sh", answers.project_name),
        dask: "~/.config/dask/jobqueue.yaml".into(),
    }
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

fn submit_hint(profile: &Profile, path: &str) -> String {
    let sched = &profile.raw.scheduler;
    if sched.submit_from_scratch {
        format!("cd ~/scratch && {} {path}", sched.submit.value)
    } else {
        format!("{} {path}", sched.submit.value)
    }
}

fn account_line<'a>(profile: &'a Profile, answers: &'a Answers) -> AccountLine<'a> {
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
    let directives: Vec<String> = sched.job.directives.iter().map(|d| d.to_string()).collect();
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

pub fn smoke_step(profile: &Profile, answers: &Answers, job: &JobParts) -> Step {
    let raw = &profile.raw;
    let sched = &raw.scheduler;
    let mut directives: Vec<String> = sched.job.directives.iter().map(|d| d.to_string()).collect();
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

pub fn probe_step(
    profile: &Profile,
    scratch: &str,
    venv: &str,
    files: &TemplatePaths,
    snapshots: &str,
) -> Step {
    let raw = &profile.raw;
    let st = &raw.storage.scratch;
    let mut paths = vec![
        (ProbePath::HomeScratch, "~/scratch".to_string()),
        (ProbePath::SiteScratch, scratch.to_string()),
        (ProbePath::Sbatch, "~/sbatch".into()),
        (ProbePath::Logs, "~/scratch/logs".into()),
        (ProbePath::Snapshots, "~/scratch/code-snapshots".into()),
        (ProbePath::Venv, venv.to_string()),
        (ProbePath::VenvParent, venv.rsplit_once('/').map(|(p, _)| p).unwrap_or("~").to_string()),
        (ProbePath::SnapshotLatest, format!("{snapshots}/latest")),
    ];
    let mut env = Vec::new();
    if let Some(v) = &st.env {
        paths.push((ProbePath::EnvScratch, format!("${v}")));
        env.push(v.clone());
    }
    let mut file_list = Vec::new();
    for f in [&files.job, &files.env, &files.dask] {
        file_list.push(f.clone());
        file_list.push(templates::new_path(f));
    }
    // The latest snapshot's manifest: equal to the project's, there is nothing to copy.
    file_list.push(format!("{snapshots}/latest/.hpcinit-manifest"));
    let quota_command = raw.storage.quota_command.as_str().split_whitespace().next().map(String::from);
    let scheduler: Vec<String> =
        scheduler_commands(raw.scheduler.kind).iter().map(|c| c.to_string()).collect();
    let mut commands = vec!["rsync".to_string(), "sha256sum".into()];
    commands.extend(quota_command.clone());
    commands.extend(scheduler.iter().cloned());
    let request = ProbeRequest {
        env,
        paths,
        files: file_list,
        venv_marker: Some(format!("{venv}/.hpcinit-ok")),
        commands,
        modules: ModuleQuery {
            name: python::module_base(profile),
            reset: raw.python.modules.reset.to_string(),
            prerequisites: raw.python.modules.prerequisites.iter().map(|m| m.to_string()).collect(),
        },
    };
    Step::new(
        "Look at the cluster",
        format!(
            "One round trip in a login shell, changing nothing: $HOME, scratch, the module system and its Python modules, rsync, {} and the quota command.",
            scheduler.join("/")
        ),
        Action::Probe(ProbePlan { request, scheduler_commands: scheduler, quota_command }),
    )
}

/// The commands a scheduler's smoke job uses.
pub fn scheduler_commands(kind: SchedulerKind) -> &'static [&'static str] {
    match kind {
        SchedulerKind::Slurm => &["sbatch", "squeue", "scontrol", "scancel"],
        SchedulerKind::Lsf => &["bsub", "bjobs", "bkill"],
    }
}
