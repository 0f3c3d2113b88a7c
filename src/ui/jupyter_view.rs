//! `hpcinit jupyter --dry-run`: the job, where it runs, how it is reached and why, and the
//! exchanges the session sends (their calls; the job script in full).

use super::doctor_view::call_line;
use super::style::Style;
use crate::plan::jupyter::{Chosen, JupyterPlan, Resources};
use std::fmt::Write;

pub(super) fn from<T: std::fmt::Display>(c: &Chosen<T>) -> String {
    let whose = match c.from {
        "flag" => "your flag",
        "course" => "the course file",
        "profile" => "the site's default",
        _ => "hpcinit's default (the profile names none)",
    };
    format!("{} ({whose})", c.value)
}

/// The job's resources, each with where its value came from.
pub(super) fn resource_lines(out: &mut String, r: &Resources) {
    let _ = writeln!(out, "  time       {}", from(&r.time));
    let _ = writeln!(out, "  memory     {}", from(&r.memory));
    let _ = writeln!(out, "  cpus       {}", from(&r.cpus));
    let _ = writeln!(out, "  gpus       {}", from(&r.gpus));
    if let Some(p) = &r.partition {
        let _ = writeln!(out, "  partition  {}", from(p));
    }
    if let Some(a) = &r.account {
        let _ = writeln!(out, "  account    {a}");
    }
}

pub fn render_jupyter_plan(jp: &JupyterPlan, style: &Style) -> String {
    let r = &jp.resources;
    let mut out = format!(
        "{} hpcinit jupyter --site {}: submits nothing now (--dry-run).\n\n",
        style.heading("Plan:"),
        jp.site
    );
    resource_lines(&mut out, r);
    let _ =
        writeln!(out, "  venv       {} (Jupyter Lab is added from the site's index where missing)", jp.venv);
    let _ = writeln!(out, "  starts in  {}", jp.workdir);
    let _ = writeln!(out, "  private    {} (0700: runtime files and the job's log)", jp.private_dir);
    let _ = writeln!(out, "  reached by {}: {}", jp.reach.kind, jp.reach.why);
    for n in &jp.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    for u in &jp.unverified {
        let _ = writeln!(out, "  unverified {}: {}", u.field, u.why);
    }
    let _ = writeln!(out, "\nThe job ({}):", jp.scheduler.human());
    for line in jp.job.lines() {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "\nExchanges (each one round trip over the shared connection):");
    let s = &jp.scripts;
    for (script, appended) in [
        (&s.start, " + SECONDS (the job above on its standard input; then followed that long)"),
        (&s.wait, " + ID LAST SECONDS, until the server's runtime file is there"),
        (&s.cancel, " + ID, on Ctrl-C unless --persist"),
    ] {
        let _ = writeln!(out, "  {}{appended}", call_line(script));
    }
    out
}
