//! The plan itself: every step of a bootstrap and what it will change, decided by one pure
//! function ([`build`]) from the profile, the person's answers and the facts found on both
//! machines, with typed look-ups of its steps.

use super::error::PlanError;
use super::facts::{LocalFacts, RemoteFacts};
use super::job_parts::{self, JobParts};
use super::module_choice::ModuleChoice;
use super::snapshot::SyncPlan;
use super::step::*;
use super::{check_job_step, lock_step, probe_step, templates_step};
use super::{layout, python, snapshot, snapshot_step, ssh_steps, windows_ssh};
use crate::answers::Answers;
use crate::exchange::Script;
use crate::profile::raw::SchedulerKind;
use crate::profile::Profile;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub site: String,
    pub display_name: String,
    pub organisation: String,
    pub profile_source: String,
    pub user: String,
    pub account: Option<String>,
    pub project: String,
    pub project_dir: String,
    /// No project here: a general environment, no code copied, no lock file.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_project: bool,
    pub python: String,
    /// How every step that talks to the cluster reaches it.
    pub connection: Connection,
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
    /// Every profile value the plan relies on that the site's documentation did not confirm.
    pub unverified: Vec<Unverified>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unverified {
    pub field: String,
    pub why: String,
}

pub fn build(
    profile: &Profile,
    answers: &Answers,
    local: &LocalFacts,
    remote: Option<&RemoteFacts>,
) -> Result<Plan, PlanError> {
    let raw = &profile.raw;
    let site = profile.name().as_str();
    let fill = |t: &str| {
        t.replace("{user}", &answers.user)
            .replace("{account}", answers.account.as_deref().unwrap_or("<account>"))
            .replace("{project}", &answers.project_name)
    };
    let scratch = fill(raw.storage.scratch.path.value.as_str());
    let snapshots = format!("~/scratch/code-snapshots/{}", answers.project_name);
    let venv = fill(raw.python.venv.location.value.as_str());
    let reproduce = python::reproducing(profile, answers, local)?;
    let wanted = python::Wanted::new(profile, answers.python.as_ref(), local, reproduce.as_ref());
    let module = python::choose(profile, &wanted, remote)?;
    let mut steps = Vec::new();

    steps.extend(ssh_steps::steps(profile, &answers.user, local));
    if let Some(home) = local.windows_home.as_ref().filter(|_| answers.windows_ssh) {
        windows_ssh::insert(&mut steps, windows_ssh::step(profile, &answers.user, local, home));
    }
    let files = job_parts::template_paths(answers);
    steps.push(probe_step::probe_step(
        profile,
        &scratch,
        &venv,
        &files,
        &snapshots,
        answers.course_data.as_ref(),
    ));
    // A key registered after the sign-in waits for the probe: the venv build, the longest step,
    // starts right after the probe (on a channel of its own) and need not wait for it.
    if let Some(at) = steps.iter().position(|s| s.id == StepId::RegisterKey) {
        let connect = steps.iter().position(|s| s.id == StepId::Connect);
        if connect.is_some_and(|c| c < at) {
            let register = steps.remove(at);
            steps.push(register);
        }
    }
    let layout = layout::step(profile, &scratch, remote, answers.course_data.as_ref())?;
    steps.push(layout.step);
    let py = python::step(profile, &wanted, &module, &venv, local, remote, reproduce.as_ref())?;
    let job = JobParts {
        log_dir: &layout.log_dir,
        // Without a project, jobs run where they are submitted: there is no code snapshot.
        snapshots: (!answers.no_project).then_some(snapshots.as_str()),
        loads: &py.loads,
        activate: &py.activate,
        venv: &venv,
    };
    // The templates name the venv and the snapshots but need neither to exist: written first,
    // while the venv builds on a channel of its own (see `exec::run`).
    steps.push(templates_step::templates_step(profile, answers, &job, &files, remote));
    let lock = (reproduce.is_none() && answers.lock != crate::answers::LockUse::Never && !answers.no_project)
        .then(|| lock_step::lock_step(profile, answers, local, &py.plan));
    steps.push(Step::new("Python environment", py.summary, Action::Python(py.plan)));
    steps.extend(lock);
    // After the lock: the snapshot holds the lock of the environment its jobs run in, and a
    // re-run finds nothing new to copy.
    let slurm = raw.scheduler.kind == SchedulerKind::Slurm;
    if !answers.no_project {
        let route = snapshot::CopyRoute::of(local.transport);
        steps.push(snapshot_step::step(site, &answers.project_name, local, &answers.sync, slurm, route));
    }
    if answers.check_job {
        steps.push(check_job_step::smoke_step(profile, answers, &job));
    }

    Ok(Plan {
        site: site.to_string(),
        display_name: raw.display_name.clone(),
        organisation: raw.organisation.clone(),
        profile_source: profile.source.to_string(),
        user: answers.user.clone(),
        account: answers.account.clone(),
        project: answers.project_name.clone(),
        project_dir: answers.project_dir.display().to_string(),
        no_project: answers.no_project,
        python: wanted.label(),
        connection: ssh_steps::connection(profile, &answers.user, local),
        steps,
        notes: notes(profile, answers, local),
        unverified: unverified(profile, &module),
    })
}

/// The profile's notes, and how to reach the cluster from Windows too when this is WSL.
fn notes(profile: &Profile, answers: &Answers, local: &LocalFacts) -> Vec<String> {
    let wsl = (local.wsl && !answers.windows_ssh).then(|| {
        format!(
            "This is WSL: `--windows-ssh` sets up Windows' own ssh and VS Code for {} too.",
            profile.name()
        )
    });
    profile.raw.notes.iter().cloned().chain(wsl).collect()
}

/// Every unverified value of the profile, except listed modules the plan does not load.
fn unverified(profile: &Profile, module: &ModuleChoice) -> Vec<Unverified> {
    let chosen = match module {
        ModuleChoice::Known { name } => {
            profile.raw.python.modules.known.iter().position(|m| m.as_str() == name)
        }
        _ => None,
    };
    profile
        .unverified_fields()
        // An interactive job's defaults are the jupyter plan's to show, not the bootstrap's.
        .filter(|(f, _)| *f != "interactive" && !f.starts_with("interactive."))
        .filter(|(f, _)| match f.strip_prefix("python.modules.known[") {
            Some(rest) => chosen.is_some_and(|i| rest == format!("{i}]")),
            None => true,
        })
        .map(|(f, w)| Unverified { field: f.into(), why: w.into() })
        .collect()
}

impl Plan {
    pub fn step(&self, id: StepId) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// Typed look-ups of a plan's steps: `plan.python()` is the Python step's plan, if the plan
/// has that step.
macro_rules! accessors {
    ($($name:ident: $variant:ident => $ty:ty;)*) => {
        impl Plan {
            $(
                pub fn $name(&self) -> Option<&$ty> {
                    self.steps.iter().find_map(|s| match &s.action {
                        Action::$variant(p) => Some(p),
                        _ => None,
                    })
                }
            )*
        }
    };
}

accessors! {
    key: Key => KeyPlan;
    ssh_config: SshConfig => SshConfigPlan;
    host_key: HostKey => HostKeyPlan;
    register_key: RegisterKey => RegisterKeyPlan;
    connect: Connect => ConnectPlan;
    probe: Probe => ProbePlan;
    remote_layout: RemoteLayout => RemoteLayoutPlan;
    job_templates: JobTemplates => JobTemplatesPlan;
    python: Python => PythonPlan;
    lock: Lock => LockPlan;
    sync: Sync => SyncPlan;
    check_job: CheckJob => CheckJobPlan;
}

impl Plan {
    /// A step's script followed by the probe's look (without the module listing): what a step
    /// that changes the cluster sends, so that one round trip both changes and re-reads it.
    pub fn then_probe(&self, script: &Script) -> Script {
        let probe = self.probe().map(|p| p.request.body(false)).unwrap_or_default();
        Script::new(script.purpose.clone(), format!("{}\n{probe}", script.body()))
            .with_args(script.args().to_vec())
    }
}
