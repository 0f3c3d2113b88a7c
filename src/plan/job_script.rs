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
    /// Absolute directory for `--output`/`-o`.
    pub log_dir: &'a str,
    pub reset: &'a str,
    pub modules: &'a [String],
    /// A line that makes the environment's Python the one on PATH.
    pub activate: String,
    /// What the job does once its environment is ready, one line each.
    pub body: Vec<String>,
    pub submit_hint: &'a str,
}

pub enum AccountLine<'a> {
    None,
    Set { flag: &'a str, value: &'a str },
    Optional { flag: &'a str, example: &'a str, why: &'a str },
}

impl JobScript<'_> {
    pub fn render(&self) -> String {
        let mut s = String::from("#!/bin/bash\n");
        let (d, name_opt) = match self.kind {
            SchedulerKind::Slurm => ("#SBATCH", "--job-name="),
            SchedulerKind::Lsf => ("#BSUB", "-J "),
        };
        let _ = writeln!(s, "{d} {name_opt}{}", self.job_name);
        match self.account {
            AccountLine::None => {}
            AccountLine::Set { flag, value } => {
                let _ = writeln!(s, "{d} {flag}={value}");
            }
            AccountLine::Optional { flag, example, why } => {
                let _ = writeln!(s, "# {why}: remove one `#` below and put yours.");
                let _ = writeln!(s, "#{d} {flag}={example}");
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
        let _ = writeln!(s, "#\n# Written by hpcinit for {}. Submit with: {}", self.site, self.submit_hint);
        s.push_str("# hpcinit replaces this file only while it is as hpcinit wrote it; edit freely.\n");
        s.push_str("set -eo pipefail\nexport PYTHONUNBUFFERED=1\n");
        let _ = writeln!(s, "{}", self.reset);
        if !self.modules.is_empty() {
            let _ = writeln!(s, "module load {}", self.modules.join(" "));
        }
        let _ = writeln!(s, "{}", self.activate);
        for line in &self.body {
            let _ = writeln!(s, "{line}");
        }
        s
    }
}

/// The template's body: run from a frozen copy of the code.
pub fn snapshot_body(snapshots_dir: &str) -> Vec<String> {
    let snap = format!("{snapshots_dir}/latest");
    let default = sh_path(&snap).replace("\"$HOME\"", "$HOME");
    vec![
        "# Run from a frozen copy of the code: the newest snapshot unless HPCINIT_SNAPSHOT names one.".into(),
        format!("cd \"${{HPCINIT_SNAPSHOT:-{default}}}\""),
        "python main.py  # your command here".into(),
    ]
}
