//! The cluster half of `hpcinit doctor`, as one read-only script: does the scheduler answer,
//! what does the site's quota command say, and does the environment import every requirement
//! with the modules jobs load. Pure: the profile and the plan's Python step in, script text out.

use super::script_text::heredoc;
use crate::exchange::{tags, Tagged};
use crate::profile::raw::SchedulerKind;
use crate::profile::Profile;
use crate::quote::{sh, sh_path};

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

/// The script: `doctor.sh`, the site's quota command and the jobs' modules as functions, then
/// one call per check; `venv` and `loads` come from the plan's Python step (`None`: no
/// environment to check).
pub fn script(profile: &Profile, venv: Option<(&str, &[String])>) -> String {
    let sched = match profile.raw.scheduler.kind {
        SchedulerKind::Slurm => "slurm",
        SchedulerKind::Lsf => "lsf",
    };
    let quota = profile.raw.storage.quota_command.as_str();
    let mut s = format!(
        "{DOCTOR_SH}hpcinit_quota() {{\n{quota}\n}}\nhpcinit_doctor_scheduler {sched}\nhpcinit_doctor_quota {QUOTA_LINES}\n"
    );
    if let Some((venv, loads)) = venv {
        let reset = profile.raw.python.modules.reset.as_str();
        s.push_str(&super::modules::modules_function(reset, loads));
        let load = super::modules::load_command(loads).unwrap_or_default();
        let (open, body) = heredoc(super::venv_build::VERIFY);
        s.push_str(&format!("hpcinit_doctor_imports {} {} {open}\n{body}\n", sh_path(venv), sh(&load)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileSet;

    #[test]
    fn asks_the_sites_scheduler_and_quota_command_and_imports_with_the_jobs_modules() {
        let set = ProfileSet::builtin().unwrap();
        let saga = set.get("saga").unwrap();
        let s = script(saga, Some(("~/venvs/proj", &["Python/3.11.3-GCCcore-12.3.0".to_string()])));
        assert!(s.contains("hpcinit_doctor_scheduler slurm\n"), "{s}");
        // A function: a quota command of several commands has all its output captured.
        assert!(s.contains("hpcinit_quota() {\ndusage\n}\n"), "{s}");
        assert!(s.contains("hpcinit_doctor_imports \"$HOME\"/venvs/proj "), "{s}");
        assert!(s.contains("  module load Python/3.11.3-GCCcore-12.3.0\n"), "{s}");
        let dtu = set.get("dtu").unwrap();
        let s = script(dtu, None);
        assert!(
            s.contains("hpcinit_doctor_scheduler lsf\n") && !s.contains("hpcinit_doctor_imports "),
            "{s}"
        );
    }
}
