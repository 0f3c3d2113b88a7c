//! The plan as a person reads it: numbered steps, each with the exact files and commands.

use super::style::Style;
use crate::plan::{
    Action, CheckJobPlan, ConnectPlan, HostKeyPlan, JobTemplatesPlan, KeyPlan, LockPlan, NoKeyPlan, Plan,
    ProbePlan, PythonPlan, RegisterKeyPlan, RemoteLayoutPlan, SshConfigPlan,
};
use crate::profile::raw::RegistrationMode;
use std::fmt::Write;

fn block(out: &mut String, label: &str, text: &str) {
    let _ = writeln!(out, "     {label}");
    for line in text.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "       {line}");
        }
    }
}

pub fn render_plan(plan: &Plan, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}: {}, {}",
        style.heading("Plan for"),
        style.heading(&plan.site),
        plan.display_name,
        plan.organisation
    );
    let mut who = format!("user {}", plan.user);
    if let Some(a) = &plan.account {
        let _ = write!(who, " · account {a}");
    }
    let _ = writeln!(
        out,
        "  {who} · {} · Python {} · profile {}\n",
        project_text(plan),
        plan.python,
        plan.profile_source
    );
    for (i, step) in plan.steps.iter().enumerate() {
        let _ = writeln!(out, "{:>2}. {} — {}", i + 1, style.heading(&step.title), step.summary);
        details(&mut out, &step.action);
        out.push('\n');
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out, "{}", style.heading("Good to know"));
        for n in &plan.notes {
            let _ = writeln!(out, "  - {n}");
        }
        out.push('\n');
    }
    if !plan.unverified.is_empty() {
        let _ = writeln!(
            out,
            "{} the site's documentation did not confirm these values; hpcinit checks what it can on the cluster:",
            style.warn("UNVERIFIED:")
        );
        for u in &plan.unverified {
            let _ = writeln!(out, "  - {}: {}", u.field, u.why);
        }
        out.push('\n');
    }
    out
}

/// The plan in a few lines, for the wizard's Proceed / Customize / Cancel: who and where, then
/// one row per step. `hpcinit plan` (or "Show every detail") prints the files and commands.
/// `project demo (/home/a/demo)`, or what happens without one.
fn project_text(plan: &Plan) -> String {
    if plan.no_project {
        let venv = plan.python().map(|p| p.venv.as_str()).unwrap_or("a venv");
        format!("no project here: a general environment {venv}, no code copied (run hpcinit in a project's folder to add one)")
    } else {
        format!("project {} ({})", plan.project, plan.project_dir)
    }
}

pub fn render_plan_table(plan: &Plan, style: &Style) -> String {
    let mut out = String::new();
    let account = plan.account.as_ref().map(|a| format!(" · account {a}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "{} {}: {}, {} · user {}{account} · {} · Python {}",
        style.heading("Plan for"),
        plan.site,
        plan.display_name,
        plan.organisation,
        plan.user,
        project_text(plan),
        plan.python
    );
    let mut t = super::table::Table::new(["  STEP", "WHAT IT CHANGES, WHERE"]);
    for (i, step) in plan.steps.iter().enumerate() {
        t.row([format!("  {:>2}. {}", i + 1, step.title), super::plan_brief::brief(&step.action)]);
    }
    out.push_str(&t.render());
    if !plan.unverified.is_empty() {
        let _ = writeln!(
            out,
            "\n  {} {} value(s) of this profile are not confirmed by the site's documentation (see details)",
            style.warn("UNVERIFIED:"),
            plan.unverified.len()
        );
    }
    out
}

fn details(out: &mut String, action: &Action) {
    match action {
        Action::Key(p) => key_details(out, p),
        Action::NoKey(p) => no_key_details(out, p),
        Action::SshConfig(p) => ssh_config_details(out, p),
        Action::HostKey(p) => host_key_details(out, p),
        Action::Connect(p) => connect_details(out, p),
        Action::RegisterKey(p) => register_key_details(out, p),
        Action::Probe(p) => probe_details(out, p),
        Action::RemoteLayout(p) => remote_layout_details(out, p),
        Action::Sync(p) => sync_details(out, p),
        Action::Python(p) => python_details(out, p),
        Action::Lock(p) => lock_details(out, p),
        Action::JobTemplates(p) => job_templates_details(out, p),
        Action::CheckJob(p) => check_job_details(out, p),
        Action::WindowsSsh(p) => windows_ssh_details(out, p),
    }
}

fn windows_ssh_details(out: &mut String, p: &crate::plan::WindowsSshPlan) {
    let w = &p.home.windows;
    block(
        out,
        &format!("this site's section of {w}\\.ssh\\config.d\\hpcinit (other sites there are kept):"),
        &p.text,
    );
    block(out, &format!("added as the first line of {w}\\.ssh\\config (backed up once):"), &p.include_line);
    let _ = writeln!(out, "     host keys of {} → {w}\\.ssh\\known_hosts.d\\hpcinit", p.aliases.join(", "));
    if let Some(k) = &p.key {
        let to = crate::local::wsl::windows_path(&p.home, &k.to);
        let _ = writeln!(
            out,
            "     {} → {to} (and .pub); then `icacls.exe {to} /inheritance:r /grant:r {}:F`",
            k.from, p.home.user
        );
    }
}

fn key_details(out: &mut String, p: &KeyPlan) {
    let KeyPlan { path, public_key, exists, passphrase_required, .. } = p;
    let _ = writeln!(out, "     private key {path} (never leaves this machine), public key {public_key}");
    if !exists {
        let _ = writeln!(
            out,
            "     passphrase: {}",
            if *passphrase_required {
                "required, asked twice, never shown"
            } else {
                "optional, asked twice, never shown"
            }
        );
    }
}

fn no_key_details(out: &mut String, p: &NoKeyPlan) {
    let NoKeyPlan { reason } = p;
    let _ = writeln!(out, "     {reason}");
}

fn ssh_config_details(out: &mut String, p: &SshConfigPlan) {
    let SshConfigPlan { file, text, user_config, include_line, .. } = p;
    block(out, &format!("this site's section of {file} (other sites there are kept):"), text);
    block(
        out,
        &format!("added as the first line of {user_config} (created if missing; backed up once):"),
        include_line,
    );
}

fn host_key_details(out: &mut String, p: &HostKeyPlan) {
    let HostKeyPlan { known_hosts, targets, .. } = p;
    for t in targets {
        let at = if t.port == 22 { t.host.clone() } else { format!("[{}]:{}", t.host, t.port) };
        let how = match &t.via {
            Some(via) => format!("read through {via}, after signing in there"),
            None => "read directly".to_string(),
        };
        let _ = writeln!(out, "     {} ({at}): {how}", t.alias);
        for p in &t.pins {
            let _ = writeln!(out, "       pinned {} {}", p.algorithm, p.fingerprint);
        }
        if let Some(s) = &t.source {
            let _ = writeln!(out, "       published at {s}");
        }
        if t.pins.is_empty() {
            let _ = writeln!(out, "       nothing published to compare with: shown and asked");
        }
    }
    let _ = writeln!(out, "     verified keys go to {known_hosts}, under each alias");
}

fn connect_details(out: &mut String, p: &ConnectPlan) {
    match &p.command {
        Some(command) => {
            let _ = writeln!(out, "     $ {command}");
        }
        None => {
            let _ = writeln!(out, "     client: hpcinit's own (libssh2), one session; no ssh command runs");
        }
    }
}

fn register_key_details(out: &mut String, p: &RegisterKeyPlan) {
    let RegisterKeyPlan { mode, portal_url, prerequisite, propagation, remote_script, public_key, .. } = p;
    if let Some(p) = prerequisite {
        let _ = writeln!(out, "     first: {p}");
    }
    match mode {
        RegistrationMode::Portal => {
            if let Some(u) = portal_url {
                let _ = writeln!(out, "     open {u} and paste the line in {public_key}");
            }
            if let Some(p) = propagation {
                let _ = writeln!(out, "     takes effect: {p}");
            }
        }
        _ => {
            if let Some(s) = remote_script {
                block(out, "on the cluster ($1 = the line in the .pub file, passed quoted):", s.body());
            }
        }
    }
}

fn probe_details(out: &mut String, p: &ProbePlan) {
    let ProbePlan { request, .. } = p;
    let paths: Vec<&str> = request.paths.iter().map(|(_, p)| p.as_str()).collect();
    let _ = writeln!(out, "     looks at: {}", paths.join(", "));
    let _ = writeln!(
        out,
        "     lists: `module -t avail {}` after `{}`; finds: {}",
        request.modules.name,
        request.modules.reset,
        request.commands.join(", ")
    );
}

fn remote_layout_details(out: &mut String, p: &RemoteLayoutPlan) {
    let RemoteLayoutPlan { dirs, script, purge, notes, .. } = p;
    for d in dirs {
        let mut line = d.path.clone();
        if let Some(t) = &d.link_to {
            let _ = write!(line, " → {t}");
        }
        if let Some(n) = &d.note {
            let _ = write!(line, "  ({n})");
        }
        let _ = writeln!(out, "     {line}");
    }
    for n in notes {
        let _ = writeln!(out, "     note: {n}");
    }
    let _ = writeln!(out, "     scratch purge: {purge}");
    let label = match script.args() {
        [] => "on the cluster:".to_string(),
        args => format!("on the cluster ($1 = {}):", crate::quote::sh_words(args)),
    };
    block(out, &label, script.body());
}

fn sync_details(out: &mut String, p: &crate::plan::snapshot::SyncPlan) {
    match p.route {
        crate::plan::snapshot::CopyRoute::Rsync => {
            let _ = writeln!(out, "     $ {} < exclude rules", crate::quote::sh_words(&p.rsync));
            let _ = writeln!(
                out,
                "     {} = this copy's manifest and finishing script; for the progress bar, {} after --stats",
                crate::plan::snapshot::SIDECAR,
                crate::plan::snapshot::PROGRESS
            );
        }
        crate::plan::snapshot::CopyRoute::Sftp => {
            let _ = writeln!(
                out,
                "     over SFTP on the run's connection: the cluster lists {}/.hpcinit-incoming (hard links to latest), hpcinit sends only new and changed files, each under a temporary name",
                p.snapshots
            );
        }
    }
    let _ = writeln!(out, "     then {}/latest → the new snapshot", p.snapshots);
    if !p.venvs.is_empty() {
        let _ = writeln!(out, "     left out (virtual environments): {}", p.venvs.join(", "));
    }
    if !p.excludes.is_empty() {
        let _ = writeln!(out, "     left out (--exclude): {}", p.excludes.join(" "));
    }
    let s = &p.scripts;
    let _ = writeln!(out, "     on the cluster (plain bash; each one round trip, or on rsync's connection):");
    for (script, later) in [
        (&s.check, "[with_manifest]"),
        (&s.prepare, ""),
        (&s.fix, "REMOVE LINKS"),
        (&s.finish, "SHA SUFFIX MARKER…"),
        (&s.finalize, "SHA SUFFIX REMOVE LINKS PUTS [PATH MODE MTIME CONTENT]… MARKER…"),
        (&s.verify, ""),
    ] {
        let call = script.body().lines().last().unwrap_or_default().replace("\"$@\"", "");
        let line = format!("{}: {}{} {later}", script.purpose, call, crate::quote::sh_words(script.args()));
        let _ = writeln!(out, "       {}", line.trim_end());
    }
    block(out, "with the functions of snapshot.sh:", crate::plan::snapshot::FUNCTIONS);
}

fn python_details(out: &mut String, p: &PythonPlan) {
    let PythonPlan { loads, venv, requirements, skipped, version_from, from_lock, .. } = p;
    let _ = writeln!(out, "     version from: {version_from}");
    if let Some(l) = from_lock {
        let _ = writeln!(
                out,
                "     from hpcinit.lock, made on {} with Python {}{}: each pin is checked against this site's pip before anything is installed{}",
                l.origin_name,
                l.python,
                l.module.as_deref().map(|m| format!(" ({m})")).unwrap_or_default(),
                if l.upgrades { "; missing versions → the closest newer (--allow-upgrades)" } else { "" }
            );
    }
    if !loads.is_empty() {
        let _ = writeln!(out, "     modules: {}", loads.join(" "));
    }
    if requirements.is_empty() {
        let _ = writeln!(out, "     requirements: none");
    } else {
        block(out, &format!("requirements ({}):", requirements.len()), &requirements.join("\n"));
    }
    for s in skipped {
        let _ = writeln!(out, "     left out `{}`: {}", s.line, s.why);
    }
    let _ = writeln!(
            out,
            "     built beside it as {venv}'s sibling .<name>.hpcinit-<time>, proven by imports, marked, then {venv} → it"
        );
}

fn lock_details(out: &mut String, p: &LockPlan) {
    let LockPlan { origin, .. } = p;
    let _ = writeln!(
            out,
            "     holds: origin {origin}, Python and module names (logical and exact), recipe, requirement lines, pip freeze"
        );
}

fn job_templates_details(out: &mut String, p: &JobTemplatesPlan) {
    let JobTemplatesPlan { files, submit, .. } = p;
    for f in files {
        block(out, &format!("{} ({}, {}):", f.path, f.what, f.mode), &f.text);
    }
    let _ = writeln!(out, "     submit: {submit}");
}

fn check_job_details(out: &mut String, p: &CheckJobPlan) {
    let CheckJobPlan { job, submit, log_dir, .. } = p;
    block(out, &format!("submitted with `{submit}`, logs in {log_dir}:"), job);
}
