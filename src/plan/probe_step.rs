//! The probe step, planned: every path, file, variable and command the later steps decide on,
//! asked in one round trip. Pure.

use super::facts::ProbePath;
use super::job_parts::TemplatePaths;
use super::probe::{ModuleQuery, ProbeRequest};
use super::python;
use super::step::{Action, ProbePlan, Step};
use super::templates;
use crate::profile::raw::SchedulerKind;
use crate::profile::Profile;

pub fn probe_step(
    profile: &Profile,
    scratch: &str,
    venv: &str,
    files: &TemplatePaths,
    snapshots: &str,
    course_data: Option<&crate::answers::CourseData>,
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
    if let Some(d) = course_data {
        paths.push((ProbePath::CourseData, d.link.clone()));
    }
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
