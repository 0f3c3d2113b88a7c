//! `hpcinit doctor`: every check of the bootstrap, and nothing else. On this machine: the key
//! (present, 0600), the ssh config (parsed by `ssh -G`, Include at the top), the recorded host key
//! (the server's, and the fingerprint the site publishes). On the cluster, over one sign-in: key
//! registration, the probe, the directories, the environment (its marker, then importing every
//! requirement with the jobs' modules), the job templates, the code snapshot, the scheduler and
//! the quota command. Changes nothing on either side (signing in opens the shared connection).
//! A table, or `--json`; exit 1 when a check fails.

use super::inputs::Listing;
use super::Session;
use crate::cli::SetupArgs;
use crate::error::Error;
use crate::exec::sync::{self, Verified};
use crate::exec::{self, Check, Context, StepError};
use crate::exit::Diagnostic;
use crate::exit::Exit;
use crate::plan::facts::ProbePath;
use crate::plan::{HostKeyPlan, StepId};
use crate::profile::Profile;
use crate::prompt::Prompter;
use crate::ui::{Style, Table};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Fail,
    /// Not checked, because a check it depends on failed.
    Skipped,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub area: &'static str,
    pub check: String,
    pub status: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    site: &'a str,
    ok: bool,
    checks: &'a [Row],
}

pub fn run(s: &mut Session, args: &SetupArgs, json: bool) -> Result<Exit, Error> {
    let (set, cli, env) = (s.set, s.cli, s.env);
    let prompter: &mut dyn Prompter = &mut *s.prompter;
    let p = &mut *s.printer;
    p.set_json(json);
    let inputs = super::inputs::Inputs::resolve(set, cli, env, args, Listing::InTheStep)?;
    let site = inputs.profile.name().to_string();
    // The steps' own progress lines are not the doctor's output: shown with -v only.
    let mut steps_output = Vec::new();
    let profile = inputs.profile;
    let rows =
        super::with_context(&inputs, cli, env, &mut p.capture(&mut steps_output), &mut *prompter, |cx| {
            Ok(checks(cx, profile, &site))
        })?;
    if p.verbose() {
        p.out().write_all(&steps_output).map_err(Error::Output)?;
    }
    let ok = rows.iter().all(|r| r.status == Verdict::Ok);
    let style = p.style();
    if json {
        p.json(&Report { site: &site, ok, checks: &rows }).map_err(Error::Output)?;
    } else {
        p.out().write_all(render(&rows, &style).as_bytes()).map_err(Error::Output)?;
        let failed = rows.iter().filter(|r| r.status == Verdict::Fail).count();
        let line = if ok {
            style.ok(&format!("All {} checks passed for {site}.", rows.len()))
        } else {
            style.error(&format!("{failed} of {} checks failed for {site}.", rows.len()))
        };
        p.line(&format!("\n{line}")).map_err(Error::Output)?;
    }
    Ok(if ok { Exit::Ok } else { Exit::Failed })
}

/// `hpcinit doctor --plan`: the checks and what each sends, with no sign-in.
pub fn show_plan(s: &mut Session, args: &SetupArgs, json: bool, details: bool) -> Result<Exit, Error> {
    let inputs = super::inputs::Inputs::resolve(s.set, s.cli, s.env, args, Listing::InTheStep)?;
    let plan = inputs.plan(None)?;
    let doctor = crate::plan::doctor::plan(inputs.profile, &plan);
    let p = &mut *s.printer;
    p.set_json(json);
    if json {
        p.json(&doctor).map_err(Error::Output)?;
    } else {
        let text = crate::ui::render_doctor_plan(&plan.site, &doctor, details || p.verbose());
        p.out().write_all(text.as_bytes()).map_err(Error::Output)?;
    }
    Ok(Exit::Ok)
}

fn render(rows: &[Row], style: &Style) -> String {
    let mut t = Table::new(["", "WHERE", "CHECK", "FOUND"]);
    for r in rows {
        let mark = match r.status {
            Verdict::Ok => style.ok("✓"),
            Verdict::Fail => style.error("✗"),
            Verdict::Skipped => "-".into(),
        };
        t.row([mark, r.area.to_string(), r.check.clone(), r.detail.replace('\n', " ")]);
        if let Some(h) = &r.hint {
            t.row([String::new(), String::new(), String::new(), format!("{} {h}", style.hint("hint:"))]);
        }
    }
    t.render()
}

struct Rows {
    rows: Vec<Row>,
    site: String,
}

impl Rows {
    fn push(
        &mut self,
        area: &'static str,
        check: &str,
        status: Verdict,
        detail: String,
        hint: Option<String>,
    ) {
        self.rows.push(Row { area, check: check.into(), status, detail, hint });
    }

    /// A row from a step's check: done → ok; needed → fail, fixed by running the bootstrap.
    fn step(&mut self, area: &'static str, check: &str, result: Option<Result<Check, StepError>>) -> bool {
        let Some(result) = result else { return true };
        let fix = format!("run `hpcinit --site {}` to set it up again", self.site);
        match result {
            Ok(Check::Done(found)) => self.push(area, check, Verdict::Ok, found, None),
            Ok(Check::Needed(why)) => self.push(area, check, Verdict::Fail, why, Some(fix)),
            Err(e) => {
                let hint = e.hint().or(Some(fix));
                self.push(area, check, Verdict::Fail, e.to_string(), hint)
            }
        }
        self.rows.last().is_some_and(|r| r.status == Verdict::Ok)
    }

    fn skip(&mut self, area: &'static str, checks: &[&str], why: &str) {
        for c in checks {
            self.push(area, c, Verdict::Skipped, why.into(), None);
        }
    }
}

const REMOTE_AFTER_SIGN_IN: &[&str] = &[
    "key registration",
    "cluster",
    "directories",
    "Python environment",
    "imports",
    "job templates",
    "code snapshot",
    "scheduler",
    "quota",
];

fn checks(cx: &mut Context, profile: &Profile, site: &str) -> Vec<Row> {
    let mut r = Rows { rows: Vec::new(), site: site.to_string() };
    let key_ok = r.step("this machine", "SSH key", exec::check_only(cx, StepId::Key));
    if key_ok {
        key_mode(cx, &mut r);
    }
    user_config(cx, &mut r);
    r.step("this machine", "ssh config", exec::check_only(cx, StepId::SshConfig));
    if !r.step("this machine", "host key", exec::check_only(cx, StepId::HostKey)) {
        // No credential goes to a host whose key is not the one recorded.
        let skipped = [&["sign-in"][..], REMOTE_AFTER_SIGN_IN].concat();
        r.skip("cluster", &skipped, "the host key check failed");
        return r.rows;
    }
    pin(cx, &mut r);
    if !gateway(cx, &mut r) {
        r.skip(
            "cluster",
            &[&["sign-in"][..], REMOTE_AFTER_SIGN_IN].concat(),
            "the gateway did not let hpcinit in",
        );
        return r.rows;
    }
    on_cluster(cx, profile, &mut r);
    r.rows
}

/// The checks from the sign-in on, each row added to `r`: every exchange with the cluster the
/// doctor makes (the fake-remote test runs these).
pub fn cluster_rows(cx: &mut Context, profile: &Profile) -> Vec<Row> {
    let mut r = Rows { rows: Vec::new(), site: cx.plan.site.clone() };
    on_cluster(cx, profile, &mut r);
    r.rows
}

fn on_cluster(cx: &mut Context, profile: &Profile, r: &mut Rows) {
    match exec::ensure(cx, StepId::Connect) {
        Some(Ok((_, found))) => r.push("cluster", "sign-in", Verdict::Ok, found, None),
        Some(Err(e)) => {
            let hint = e.hint();
            r.push("cluster", "sign-in", Verdict::Fail, e.to_string(), hint);
            r.skip("cluster", REMOTE_AFTER_SIGN_IN, "not signed in");
            return;
        }
        None => {}
    }
    r.step("cluster", "key registration", exec::check_only(cx, StepId::RegisterKey));
    match exec::ensure(cx, StepId::Probe) {
        Some(Ok((_, found))) => r.push("cluster", "cluster", Verdict::Ok, found, None),
        Some(Err(e)) => {
            let hint = e.hint();
            r.push("cluster", "cluster", Verdict::Fail, e.to_string(), hint);
            r.skip("cluster", &REMOTE_AFTER_SIGN_IN[2..], "the probe failed");
            return;
        }
        None => {}
    }
    r.step("cluster", "directories", exec::check_only(cx, StepId::RemoteLayout));
    let venv_ok = r.step("cluster", "Python environment", exec::check_only(cx, StepId::Python));
    if venv_ok {
        r.step("this machine", "lock file", exec::check_only(cx, StepId::Lock));
    }
    r.step("cluster", "job templates", exec::check_only(cx, StepId::JobTemplates));
    snapshot(cx, r);
    remote_script(cx, profile, r, venv_ok);
}

fn key_mode(cx: &Context, r: &mut Rows) {
    let Some(k) = &cx.key else { return };
    // (Windows has no mode bits: the key's ACL is set when it is made.)
    let Some(mode) = crate::local::atomic::mode_of(&k.path).map(|m| m & 0o777) else { return };
    let shown = cx.env.tilde(&k.path);
    if mode & 0o077 == 0 {
        r.push("this machine", "key permissions", Verdict::Ok, format!("{shown} is {mode:04o}"), None);
    } else {
        r.push(
            "this machine",
            "key permissions",
            Verdict::Fail,
            format!("{shown} is {mode:04o}: others may read it, and ssh refuses such a key"),
            Some(format!("chmod 600 {shown}")),
        );
    }
}

/// Whether OpenSSH reads the person's own `~/.ssh/config` (every ssh they run needs it to).
fn user_config(cx: &Context, r: &mut Rows) {
    let config = cx.env.home.join(".ssh/config");
    match crate::local::user_config::check(&config, &cx.env.vars) {
        None => r.push("this machine", "your ~/.ssh/config", Verdict::Ok, "OpenSSH reads it".into(), None),
        Some(rej) => {
            let at = rej.line.map(|l| format!(" line {l}")).unwrap_or_default();
            let found = format!("OpenSSH rejects {}{at}: {}", cx.env.tilde(&rej.file), rej.words);
            r.push("this machine", "your ~/.ssh/config", Verdict::Fail, found, Some(rej.hint()));
        }
    }
}

/// Signing in to the gateway, where the run goes through one: `false` when it failed (the
/// row says how, naming the gateway).
fn gateway(cx: &mut Context, r: &mut Rows) -> bool {
    let Some(hop) = cx.plan.connection.gateway.clone() else { return true };
    let (remote, prompter) = cx.remote_and_prompter();
    match remote.sign_in_gateway(prompter) {
        None => true,
        Some(Ok(open)) => {
            let how = if open { "a connection was open" } else { "signed in" };
            r.push(
                "gateway",
                "sign-in",
                Verdict::Ok,
                format!("{} ({}:{}): {how}", hop.alias, hop.host, hop.port),
                None,
            );
            true
        }
        Some(Err(e)) => {
            let hint = cx.connect_hint(&e);
            r.push(
                "gateway",
                "sign-in",
                Verdict::Fail,
                format!("the gateway {} ({}): {e}", hop.alias, hop.host),
                Some(hint),
            );
            false
        }
    }
}

/// Each recorded host key against the fingerprints the site publishes for that host (the
/// login host's, and the gateway's where it has its own).
fn pin(cx: &Context, r: &mut Rows) {
    let Some(HostKeyPlan { targets, .. }) = cx.plan.host_key().cloned() else { return };
    let file = cx.home(&format!("~/{}", crate::plan::ssh_config::KNOWN_HOSTS_FILE));
    let known = std::fs::read_to_string(file).unwrap_or_default();
    let site = cx.plan.site.clone();
    for t in targets.iter().filter(|t| t.alias == site || !t.pins.is_empty()) {
        let check =
            if t.alias == site { "host key pin".to_string() } else { format!("host key pin ({})", t.alias) };
        if t.pins.is_empty() {
            let found = "the site publishes no fingerprints: the key was trusted on first use".into();
            r.push("this machine", &check, Verdict::Ok, found, None);
            continue;
        }
        let recorded: Vec<String> = crate::local::known_hosts::keys_for(&known, &t.alias)
            .into_iter()
            .filter_map(|k| ssh_key::PublicKey::from_openssh(k).ok())
            .map(|k| k.fingerprint(ssh_key::HashAlg::Sha256).to_string())
            .collect();
        let source = t.source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
        match recorded.iter().find(|f| t.pins.iter().any(|p| &p.fingerprint == *f)) {
            Some(f) => r.push("this machine", &check, Verdict::Ok, format!("{f} is a fingerprint the site publishes{source}"), None),
            None => r.push(
                "this machine",
                &check,
                Verdict::Fail,
                format!("the recorded key of {} ({}) is none of the published fingerprints", t.alias, recorded.join(", ")),
                Some(format!(
                    "compare with the site's page{source}; if the site changed its key, remove the old one with `hpcinit uninstall --site {site}` and run setup again"
                )),
            ),
        }
    }
}

/// `latest`, and whether its files still match its manifest (the full check a sync leaves to
/// rsync's own checksums): one round trip when there is a snapshot.
fn snapshot(cx: &mut Context, r: &mut Rows) {
    let Some(facts) = &cx.facts else { return };
    let Some(p) = cx.plan.sync().cloned() else { return };
    let site = cx.plan.site.clone();
    if facts.path(ProbePath::SnapshotLatest).target.is_none() {
        let hint = Some(format!("hpcinit sync --site {site}"));
        r.push("cluster", "code snapshot", Verdict::Fail, "no snapshot of this project yet".into(), hint);
        return;
    }
    let scan = match crate::local::project::scan(std::path::Path::new(&p.root), &p.excludes) {
        Ok(s) => s,
        Err(e) => return r.push("cluster", "code snapshot", Verdict::Fail, e.to_string(), e.hint()),
    };
    match sync::verify(cx, &p, &scan) {
        Ok(Verified::Intact { name, current }) => r.push(
            "cluster",
            "code snapshot",
            Verdict::Ok,
            format!(
                "latest → {name}: its {} files match its manifest{}",
                scan.files(),
                if current { "" } else { " (the project changed since; `hpcinit sync` sends it)" }
            ),
            None,
        ),
        Ok(Verified::Damaged { name, differences }) => r.push(
            "cluster",
            "code snapshot",
            Verdict::Fail,
            format!("latest → {name}: {} file(s) differ from its manifest", differences.len()),
            Some(format!(
                "`hpcinit sync --site {site} --verify` lists them and says how to make a fresh snapshot"
            )),
        ),
        Ok(Verified::None) => {
            r.push("cluster", "code snapshot", Verdict::Fail, "no snapshot yet".into(), None)
        }
        Err(e) => {
            let hint = e.hint();
            r.push("cluster", "code snapshot", Verdict::Fail, e.to_string(), hint)
        }
    }
}

/// Scheduler, quota and imports: one round trip.
fn remote_script(cx: &mut Context, profile: &Profile, r: &mut Rows, venv_ok: bool) {
    let venv = match cx.plan.python() {
        Some(p) if venv_ok => Some((p.venv.clone(), p.loads.clone())),
        _ => None,
    };
    let mut script = crate::plan::doctor::script(profile, &cx.plan);
    if venv.is_some() {
        script = script.arg("imports");
    }
    let out = match cx.run_script(&script, &mut |_| {}) {
        Ok(o) => o,
        Err(e) => {
            let hint = e.hint();
            r.push("cluster", "scheduler", Verdict::Fail, e.to_string(), hint);
            return;
        }
    };
    let answer = crate::plan::doctor::Answer::parse(&out.stdout);
    let scheduler = profile.raw.scheduler.kind.human();
    match &answer.scheduler {
        Some(Ok(jobs)) => r.push(
            "cluster",
            "scheduler",
            Verdict::Ok,
            format!("{scheduler} answers ({jobs} job(s) of yours queued or running)"),
            None,
        ),
        Some(Err(said)) => r.push(
            "cluster",
            "scheduler",
            Verdict::Fail,
            format!("{scheduler} did not answer: {said}"),
            Some("the scheduler may be down for maintenance; check the site's status page".into()),
        ),
        None => {}
    }
    quota_row(profile, &answer, r);
    match venv {
        Some((venv, _)) => imports_row(&cx.plan.site, &venv, &answer, r),
        None => r.skip("cluster", &["imports"], "no working environment to import from"),
    }
}

fn quota_row(profile: &Profile, answer: &crate::plan::doctor::Answer, r: &mut Rows) {
    let (quota, quota_exit) = (&answer.quota, answer.quota_exit);
    let command = profile.raw.storage.quota_command.as_str().to_string();
    let usage: Vec<&String> = quota.iter().filter(|l| !l.trim().is_empty()).collect();
    match quota_exit {
        Some(0) => r.push(
            "cluster",
            "quota",
            Verdict::Ok,
            format!("`{command}`: {}", usage.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" | ")),
            None,
        ),
        other => r.push(
            "cluster",
            "quota",
            Verdict::Fail,
            format!(
                "`{command}` {}: {}",
                other.map(|c| format!("exited {c}")).unwrap_or_else(|| "did not run".into()),
                usage.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" | ")
            ),
            Some(format!("run `{command}` on the cluster yourself; if it is gone, the site's storage page names its replacement")),
        ),
    }
}

fn imports_row(site: &str, venv_path: &str, answer: &crate::plan::doctor::Answer, r: &mut Rows) {
    let (imports, import_errors, venv_exit) = (&answer.imports, &answer.import_errors, answer.venv_exit);
    if import_errors.is_empty() && venv_exit == Some(0) {
        let shown = if imports.is_empty() { "no requirements to import".into() } else { imports.join(", ") };
        r.push("cluster", "imports", Verdict::Ok, format!("{venv_path}: {shown}"), None);
    } else {
        let detail = if import_errors.is_empty() {
            format!(
                "{venv_path}: the import check exited {}",
                venv_exit.map(|c| c.to_string()).unwrap_or("?".into())
            )
        } else {
            format!("{venv_path}: {}", import_errors.join("; "))
        };
        r.push(
            "cluster",
            "imports",
            Verdict::Fail,
            detail,
            Some(format!("rebuild it: `hpcinit --site {site} --on-existing replace`")),
        );
    }
}
