//! `hpcinit code --dry-run` and `hpcinit shell --dry-run`: the job, where the session opens, how
//! the node is reached and why (with the ssh entry that reaches it), and the exchanges the
//! session sends (their calls; the job script and the shell's start-up file in full).

use super::doctor_view::call_line;
use super::jupyter_view::resource_lines;
use super::style::Style;
use crate::plan::node::NodePlan;
use std::fmt::Write;

pub fn render_node_plan(np: &NodePlan, style: &Style) -> String {
    let r = &np.resources;
    let mut out = format!(
        "{} {} --site {}: submits nothing now (--dry-run).\n\n",
        style.heading("Plan:"),
        np.purpose.command(),
        np.site
    );
    resource_lines(&mut out, r);
    let _ = writeln!(out, "  venv       {}", np.venv);
    let _ = writeln!(out, "  opens in   {}", np.workdir);
    let _ = writeln!(out, "  private    {} (0700: the job's log, the shell's start-up file)", np.private_dir);
    let _ = writeln!(out, "  reached by {}: {}", serde_plain(&np.route.kind), np.route.why);
    if let Some(b) = &np.node_block {
        let _ = writeln!(out, "  ssh entry  Host {} (in ~/.ssh/config.d/hpcinit):", b.alias);
        for (k, v) in &b.options {
            let _ = writeln!(out, "               {k} {v}");
        }
    }
    if let Some(url) = &np.ondemand {
        let _ = writeln!(out, "  web        {url} (the site's Open OnDemand)");
    }
    for n in &np.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    for u in &np.unverified {
        let _ = writeln!(out, "  unverified {}: {}", u.field, u.why);
    }
    let _ = writeln!(out, "\nThe job ({}):", np.scheduler.human());
    for line in np.job.lines() {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "\nThe shell's start-up file ({}):", np.rc_path);
    for line in np.rc.lines() {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "\nExchanges (each one round trip over the shared connection):");
    let s = &np.scripts;
    for (script, appended) in [
        (&s.start, " + SECONDS (the job above on its standard input; then followed that long)"),
        (&s.wait, " + ID LAST SECONDS node, until it runs on a node"),
        (&s.look, " + NODE NEED FOLDER (the node's host key, read where none is recorded: on first use; FOLDER: hpcinit code's PATH, or -)"),
        (&s.cancel, " + ID, when the session ends, unless --persist"),
    ] {
        let _ = writeln!(out, "  {}{appended}", call_line(script));
    }
    out
}

fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}
