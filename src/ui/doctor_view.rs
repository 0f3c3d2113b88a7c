//! `hpcinit doctor --plan` and `hpcinit uninstall --dry-run`: what they would check or remove,
//! and every script they send to the cluster (in full with `--details`).

use super::table::Table;
use crate::exchange::Script;
use crate::plan::doctor::DoctorPlan;
use std::fmt::Write;

/// The doctor's checks in order, each with the script it sends.
pub fn render_doctor_plan(site: &str, d: &DoctorPlan, details: bool) -> String {
    let mut out = format!(
        "hpcinit doctor --site {site}: every check, in this order; nothing changes on either side.\n\n"
    );
    let mut t = Table::new(["  WHERE", "CHECK", "HOW"]);
    for c in &d.checks {
        t.row([format!("  {}", c.area), c.check.to_string(), c.how.clone()]);
        if let Some(s) = &c.sends {
            t.row([String::new(), String::new(), format!("sends: {}", call_line(s))]);
        }
    }
    out.push_str(&t.render());
    if details {
        for c in d.checks.iter().filter(|c| c.sends.is_some()) {
            let s = c.sends.as_ref().expect("filtered");
            let _ = write!(out, "\n{}", script_text(s));
        }
    }
    out
}

/// One script as it is sent: its purpose, the call with its arguments, the text.
pub fn script_text(s: &Script) -> String {
    let mut out = format!(
        "{} ({}, one round trip): {}\n",
        s.purpose,
        if s.login { "bash -l" } else { "bash" },
        call_line(s)
    );
    for line in s.body().lines() {
        let _ = writeln!(out, "    {line}");
    }
    out
}

/// `purpose: hpcinit_main ARGS…`, the arguments quoted as they are sent.
pub fn call_line(s: &Script) -> String {
    format!("{}: {}", s.purpose, s.call())
}
