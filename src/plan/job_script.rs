//! The text of a job-script template for Slurm (`#SBATCH`) or LSF (`#BSUB`). Pure.

use crate::profile::raw::SchedulerKind;
use crate::quote::sh_path;
use std::fmt::Write;

pub struct JobScript<'a> {
    pub kind: SchedulerKind,
    pub site: &'a str,
    pub job_name: &'a str,
    /// `Some((flag, value))` when an account is written; `None` with an example when optional.
    pub account: AccountLine<'a>,
    pub time: String,
    pub directives: &'a [String],
    /// Absolute directory for `--output`/`-o` (`.`: the directory the job is submitted from).
    pub log_dir: &'a str,
    pub reset: &'a str,
    pub modules: &'a [String],
    /// A line that makes the environment's Python the one on PATH.
    pub activate: String,
    /// What the job does once its environment is ready, one line each.
    pub body: Vec<String>,
    pub submit_hint: &'a str,
    /// A template the person keeps and edits (`~/sbatch/<project>.sh`), not a job hpcinit
    /// submits itself (the test job, the Jupyter job).
    pub template: bool,
}

pub enum AccountLine<'a> {
    None,
    Set { flag: &'a str, value: &'a str },
    Optional { flag: &'a str, example: &'a str, why: &'a str },
}

impl JobScript<'_> {
    fn value_sep(&self) -> &'static str {
        match self.kind {
            SchedulerKind::Slurm => "=",
            SchedulerKind::Lsf => " ",
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::from("#!/bin/bash\n");
        let (d, name_opt) = match self.kind {
            SchedulerKind::Slurm => ("#SBATCH", "--job-name="),
            SchedulerKind::Lsf => ("#BSUB", "-J "),
        };
        let _ = writeln!(s, "{d} {name_opt}{}", self.job_name);
        match self.account {
            AccountLine::None => {}
            // `--account=X` for Slurm; LSF's options take their value as the next word (`-P X`).
            AccountLine::Set { flag, value } => {
                let _ = writeln!(s, "{d} {flag}{}{value}", self.value_sep());
            }
            AccountLine::Optional { flag, example, why } => {
                let _ = writeln!(s, "# {why}: remove one `#` below and put yours.");
                let _ = writeln!(s, "#{d} {flag}{}{example}", self.value_sep());
            }
        }
        match self.kind {
            SchedulerKind::Slurm => {
                let _ = writeln!(s, "{d} --time={}", self.time);
            }
            SchedulerKind::Lsf => {
                let _ = writeln!(s, "{d} -W {}", self.time);
            }
        }
        for dir in self.directives {
            let _ = writeln!(s, "{d} {dir}");
        }
        match self.kind {
            SchedulerKind::Slurm => {
                let _ = writeln!(s, "{d} --output={}/%x-%j.out", self.log_dir);
                let _ = writeln!(s, "{d} --error={}/%x-%j.err", self.log_dir);
            }
            SchedulerKind::Lsf => {
                let _ = writeln!(s, "{d} -o {}/{}-%J.out", self.log_dir, self.job_name);
                let _ = writeln!(s, "{d} -e {}/{}-%J.err", self.log_dir, self.job_name);
            }
        }
        if self.template {
            let _ =
                writeln!(s, "#\n# Written by hpcinit for {}. Submit with: {}", self.site, self.submit_hint);
            s.push_str("# hpcinit replaces this file only while it is as hpcinit wrote it; edit freely.\n");
        } else {
            let _ = writeln!(s, "#\n# Submitted by hpcinit for {} ({}).", self.site, self.submit_hint);
        }
        s.push_str("set -eo pipefail\nexport PYTHONUNBUFFERED=1\n");
        if !self.reset.is_empty() || !self.modules.is_empty() {
            let _ = writeln!(s, "{}", super::modules::MODULE_INIT);
        }
        if !self.reset.is_empty() {
            let _ = writeln!(s, "{}", self.reset);
        }
        if !self.modules.is_empty() {
            let _ = writeln!(s, "{}", super::modules::load_command(self.modules).unwrap_or_default());
        }
        let _ = writeln!(s, "{}", self.activate);
        for line in &self.body {
            let _ = writeln!(s, "{line}");
        }
        s
    }
}

/// The template's body: run from a frozen copy of the code. With Slurm, the snapshot that was
/// `latest` when the job was submitted (found from the job's submit time, as snapshots are
/// named by their UTC time), so a `hpcinit sync` while the job waits in the queue does not
/// change what it runs; `HPCINIT_SNAPSHOT` names another.
/// The job's body without a project: it runs in the directory it was submitted from.
pub fn no_project_body() -> Vec<String> {
    [
        "# No project was set up with hpcinit: the job runs in the directory it was submitted from.",
        "# Run `hpcinit --site SITE` in your project's folder to get a template that runs its code",
        "# from a frozen snapshot.",
        "python --version  # your command here",
    ]
    .map(String::from)
    .to_vec()
}

pub fn snapshot_body(kind: SchedulerKind, snapshots_dir: &str) -> Vec<String> {
    let dir = sh_path(snapshots_dir).replace("\"$HOME\"", "$HOME");
    let mut v: Vec<String> = Vec::new();
    match kind {
        SchedulerKind::Slurm => {
            v.extend(
                [
                    "# Run from a frozen copy of the code: the snapshot that was latest when this job was",
                    "# submitted, so a later `hpcinit sync` never changes a queued job (HPCINIT_SNAPSHOT=DIR",
                    "# picks another).",
                ]
                .map(String::from),
            );
            v.push(format!("snapshots={dir}"));
            v.extend(
                [
                    "if [ -z \"${HPCINIT_SNAPSHOT:-}\" ]; then",
                    "  HPCINIT_SNAPSHOT=$snapshots/latest",
                    "  submitted=$(SLURM_TIME_FORMAT=standard squeue -h -j \"${SLURM_JOB_ID:-0}\" -o %V 2>/dev/null || true)",
                    "  if [ -n \"$submitted\" ] && submitted=$(date -u -d \"$submitted\" +%Y%m%dT%H%M%SZ 2>/dev/null); then",
                    "    for marker in \"$snapshots\"/2*/.hpcinit-snapshot; do",
                    "      [ -e \"$marker\" ] || continue",
                    "      name=${marker%/.hpcinit-snapshot}",
                    "      name=${name##*/}",
                    "      [[ ${name:0:16} > $submitted ]] || HPCINIT_SNAPSHOT=$snapshots/$name",
                    "    done",
                    "  fi",
                    "fi",
                ]
                .map(String::from),
            );
        }
        SchedulerKind::Lsf => {
            v.push("# Run from a frozen copy of the code: the latest snapshot when the job starts".into());
            v.push("# (HPCINIT_SNAPSHOT=DIR picks another).".into());
            v.push(format!("snapshots={dir}"));
            v.push("HPCINIT_SNAPSHOT=${HPCINIT_SNAPSHOT:-$snapshots/latest}".into());
        }
    }
    v.push("cd \"$HPCINIT_SNAPSHOT\"".into());
    v.push("echo \"hpcinit: code snapshot $(pwd -P)\"".into());
    v.push("python main.py  # your command here".into());
    v
}
