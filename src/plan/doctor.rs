//! The cluster half of `hpcinit doctor`, as one read-only script: does the scheduler answer,
//! what does the site's quota command say, and does the environment import every requirement
//! with the modules jobs load. Pure: the profile and the plan's Python step in, script text out.

use super::plan::Plan;
use super::script_text::heredoc;
use crate::exchange::{tags, Script, Tagged};
use crate::profile::raw::{RegistrationMode, SchedulerKind};
use crate::profile::Profile;
use serde::Serialize;

/// Lines of the quota command's output passed back (the rest is cut).
pub const QUOTA_LINES: usize = 30;

/// The functions doctor runs on the cluster.
pub const DOCTOR_SH: &str = include_str!("doctor.sh");

/// What the script reported, read from its tagged lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// `Ok(jobs queued or running)` or `Err(what the scheduler said)`; `None`: no answer.
    pub scheduler: Option<Result<String, String>>,
    /// The quota command's lines and exit status.
    pub quota: Vec<String>,
    pub quota_exit: Option<i32>,
    /// What the environment imported, what failed, and the import check's exit status.
    pub imports: Vec<String>,
    pub import_errors: Vec<String>,
    pub venv_exit: Option<i32>,
}

/// One line of the script's answer (`doctor.sh`).
enum Report {
    SchedulerOk(String),
    SchedulerFail(String),
    QuotaLine(String),
    QuotaExit(Option<i32>),
    Import(String),
    ImportError(String),
    VenvMissing(String),
    VenvExit(Option<i32>),
}

impl Tagged for Report {
    fn from_tag(tag: &str, payload: &str) -> Option<Report> {
        let p = payload.to_string();
        let code = || payload.trim().parse::<i32>().ok();
        Some(match tag {
            "scheduler-ok" => Report::SchedulerOk(p),
            "scheduler-fail" => Report::SchedulerFail(p),
            "quota-line" => Report::QuotaLine(payload.trim_end().to_string()),
            "quota-exit" => Report::QuotaExit(code()),
            "import" => Report::Import(p),
            "import-error" => Report::ImportError(p),
            "venv-missing" => Report::VenvMissing(p),
            "venv-exit" => Report::VenvExit(code()),
            _ => return None,
        })
    }
}

impl Answer {
    pub fn parse(stdout: &str) -> Answer {
        let mut a = Answer::default();
        for report in tags::<Report>(stdout) {
            match report {
                Report::SchedulerOk(n) => a.scheduler = Some(Ok(n)),
                Report::SchedulerFail(said) => a.scheduler = Some(Err(said)),
                Report::QuotaLine(l) => a.quota.push(l),
                Report::QuotaExit(c) => a.quota_exit = c,
                Report::Import(i) => a.imports.push(i),
                Report::ImportError(e) => a.import_errors.push(e),
                Report::VenvMissing(v) => a.import_errors.push(format!("{v} has no bin/python")),
                Report::VenvExit(c) => a.venv_exit = c,
            }
        }
        a
    }
}

/// What `hpcinit doctor` checks, in its order, and what it sends to the cluster for each
/// (`hpcinit doctor --plan`; `--details` prints every text). Nothing changes on either side.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorPlan {
    pub checks: Vec<DoctorCheck>,
    /// The scheduler, quota and imports script.
    pub script: Script,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorCheck {
    pub area: &'static str,
    pub check: &'static str,
    /// How, in words.
    pub how: String,
    /// The script it sends to the cluster, if it sends one of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sends: Option<Script>,
}

/// The doctor's checks for this plan.
pub fn plan(profile: &Profile, plan: &Plan) -> DoctorPlan {
    let script = script(profile, plan);
    let mut checks = Vec::new();
    let mut add = |area: &'static str, check: &'static str, how: String, sends: Option<Script>| {
        checks.push(DoctorCheck { area, check, how, sends })
    };
    let here = "this machine";
    if let Some(k) = plan.key() {
        add(here, "SSH key", format!("{} exists, readable by you alone", k.path), None);
    }
    add(here, "your ~/.ssh/config", "OpenSSH reads it (`ssh -G -F ~/.ssh/config`)".into(), None);
    if let Some(c) = plan.ssh_config() {
        add(
            here,
            "ssh config",
            format!(
                "`{}` is the first line of {}; this site's section of {} is as planned and `ssh -G` agrees",
                c.include_line, c.user_config, c.file
            ),
            None,
        );
    }
    if let Some(h) = plan.host_key() {
        add(here, "host key", format!("each host's key is recorded in {}", h.known_hosts), None);
        add(
            here,
            "host key pin",
            "the recorded key is one of the fingerprints the site publishes".into(),
            None,
        );
    }
    if let Some(g) = &plan.connection.gateway {
        add(
            "gateway",
            "sign-in",
            format!(
                "signing in to {} ({}:{}); no credential before its key is checked",
                g.alias, g.host, g.port
            ),
            None,
        );
    }
    add(
        "cluster",
        "sign-in",
        format!("the shared connection to {}, opened (one sign-in) or reused", plan.connection.alias),
        None,
    );
    if let Some(r) = plan.register_key() {
        let sends = r.check_script.clone().map(|s| s.arg(r.public_key.clone()));
        let how = match r.mode {
            RegistrationMode::AuthorizedKeys => {
                "the key's line is in ~/.ssh/authorized_keys and the server accepts it"
            }
            RegistrationMode::Portal => "the server accepts the key registered at the site's portal",
            RegistrationMode::NotForLogin => "nothing to check: the site asks for its password and code",
        };
        add("cluster", "key registration", how.into(), sends);
    }
    if let Some(p) = plan.probe() {
        add(
            "cluster",
            "cluster",
            "the probe: $HOME, scratch, modules, rsync, the scheduler's commands".into(),
            Some(Script::new("look at the cluster", p.request.body(true))),
        );
    }
    add(
        "cluster",
        "directories",
        "from the probe: ~/sbatch, ~/scratch and its logs/ and code-snapshots/".into(),
        None,
    );
    if let Some(p) = plan.python() {
        add(
            "cluster",
            "Python environment",
            format!("from the probe: {} carries the marker of the inputs planned", p.venv),
            None,
        );
    }
    if let Some(l) = plan.lock() {
        add(here, "lock file", format!("{} describes the environment", l.path), None);
    }
    if plan.job_templates().is_some() {
        add(
            "cluster",
            "job templates",
            "from the probe: each file's hash is the planned text's (an edited one is kept)".into(),
            None,
        );
    }
    if let Some(s) = plan.sync() {
        add(
            "cluster",
            "code snapshot",
            format!("{}/latest: its files match its manifest", s.snapshots),
            Some(s.scripts.verify.clone()),
        );
    }
    add("cluster", "scheduler, quota, imports", "the scheduler answers, the quota command runs, the environment imports every requirement with the jobs' modules (`imports` appended once the environment's check passed)".into(), Some(script.clone()));
    DoctorPlan { checks, script }
}

/// `hpcinit doctor`'s own exchange with the cluster: `doctor.sh` with the site's quota command
/// and the jobs' modules as functions and the import check as a variable, called with `"$@"`:
/// the scheduler, the quota lines to keep, the environment and its module load line (from the
/// plan's Python step; empty without one). The run appends `imports` when the environment's
/// own check passed. Its reply is [`Answer`].
pub fn script(profile: &Profile, plan: &Plan) -> Script {
    let sched = match profile.raw.scheduler.kind {
        SchedulerKind::Slurm => "slurm",
        SchedulerKind::Lsf => "lsf",
    };
    let quota = profile.raw.storage.quota_command.as_str();
    let mut body = format!("{DOCTOR_SH}hpcinit_quota() {{\n{quota}\n}}\n");
    let (venv, load) = match plan.python() {
        Some(p) => {
            let reset = profile.raw.python.modules.reset.as_str();
            body.push_str(&super::modules::modules_function(reset, &p.loads));
            (p.venv.clone(), super::modules::load_command(&p.loads).unwrap_or_default())
        }
        None => (String::new(), String::new()),
    };
    let (open, text) = heredoc(super::venv_build::VERIFY);
    body.push_str(&format!("hpcinit_verify_py=$(cat {open}\n{text}\n)\nhpcinit_doctor \"$@\""));
    Script::new("scheduler, quota and imports", body).with_args(vec![
        sched.into(),
        QUOTA_LINES.to_string(),
        venv,
        load,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileSet;

    #[test]
    fn asks_the_sites_scheduler_and_quota_command_and_imports_with_the_jobs_modules() {
        let set = ProfileSet::builtin().unwrap();
        let saga = set.get("saga").unwrap();
        let local = crate::plan::LocalFacts { home: "/home/a".into(), ..Default::default() };
        let answers = crate::answers::Answers {
            user: "alice".into(),
            account: Some("nn1234k".into()),
            project_dir: "/home/a/proj".into(),
            project_name: "proj".into(),
            python: None,
            check_job: false,
            sync: Default::default(),
            lock: Default::default(),
            allow_upgrades: false,
            no_project: false,
            windows_ssh: false,
            job_directives: Vec::new(),
            course_data: None,
        };
        let plan = crate::plan::build(saga, &answers, &local, None).unwrap();
        let s = script(saga, &plan);
        assert!(s.body().ends_with("\nhpcinit_doctor \"$@\""), "a fixed call: {}", s.body());
        assert_eq!(s.args()[..2], ["slurm", "30"]);
        assert_eq!(s.args()[2], "~/venvs/proj");
        // A function: a quota command of several commands has all its output captured.
        assert!(s.body().contains("hpcinit_quota() {\ndusage\n}\n"), "{}", s.body());
        assert!(s.body().contains("  module load "), "{}", s.body());
    }
}
