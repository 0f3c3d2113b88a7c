//! The script of `hpcinit course check --probe` (`course_probe.sh`) and its rows: what a
//! course needs on a site, checked there as the teaching assistant without installing anything
//! (the modules load, the Python module of the course's version, the account and the
//! reservation exist, each requirement resolves with the site's pip). Pure.

use super::script_text::heredoc;
use crate::exchange::{Script, Tagged};

use crate::profile::raw::{SchedulerKind, VenvRecipe};
use crate::profile::Profile;

const PROBE_SH: &str = include_str!("course_probe.sh");

/// What the course asks of one site.
pub struct CourseNeeds<'a> {
    pub python: Option<String>,
    pub account: Option<&'a str>,
    pub reservation: Option<&'a str>,
    pub requirements: &'a [String],
}

pub fn script(profile: &Profile, needs: &CourseNeeds) -> Script {
    let raw = &profile.raw;
    let loads: Vec<String> = raw.python.modules.prerequisites.iter().map(|m| m.to_string()).collect();
    let base = super::python::module_base(profile);
    // A container-wrapper site brings its own Python: no module of the course's version to find.
    let python = match &needs.python {
        Some(v) if raw.python.venv.recipe != VenvRecipe::ContainerWrapper => (base, v.clone()),
        _ => ("-".into(), "-".into()),
    };
    let sched = match raw.scheduler.kind {
        SchedulerKind::Slurm => "slurm",
        SchedulerKind::Lsf => "lsf",
    };
    let (open, body) = heredoc(&needs.requirements.join("\n"));
    Script::new(
        "check what the course needs",
        format!("{PROBE_SH}hpcinit_course_probe \"$@\" {open}\n{body}\n"),
    )
    .and_args([
        sched.to_string(),
        raw.python.modules.reset.to_string(),
        loads.join(","),
        python.0,
        python.1,
        needs.account.unwrap_or("-").to_string(),
        needs.reservation.unwrap_or("-").to_string(),
    ])
}

/// One row the script printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRow {
    /// `ok`, `fail` or `skip` (a check the site cannot answer).
    pub verdict: String,
    pub what: String,
    pub fix: String,
}

impl Tagged for ProbeRow {
    fn from_tag(tag: &str, payload: &str) -> Option<ProbeRow> {
        if tag != "row" {
            return None;
        }
        let (verdict, rest) = payload.split_once(' ')?;
        let (what, fix) = rest.split_once('|').unwrap_or((rest, ""));
        Some(ProbeRow { verdict: verdict.into(), what: what.into(), fix: fix.into() })
    }
}
