//! `hpcinit code` and `hpcinit shell`: VS Code or a shell on a compute node, reached through the
//! login node's shared connection. Signs in (or reuses the open connection), makes sure the ssh
//! config has the nodes' entry, plans the job from the site's interactive defaults and the
//! flags, and runs the session (`exec::node_session`). With `--list`, `--stop` and `--job` it
//! works on the sessions recorded on this machine; with `--dry-run` it prints the plan and
//! touches nothing.

use super::inputs::{Inputs, Listing};
use super::Session;
use crate::cli::{InteractiveArgs, NodeSessionArgs, SetupArgs};
use crate::error::Error;
use crate::exec::node_session::{self, NodeOptions};
use crate::exec::StepFailed;
use crate::exit::Exit;
use crate::local::servers;
use crate::plan::jupyter::JupyterRequest;
use crate::plan::node::{self, Purpose, RouteKind};
use crate::plan::StepId;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct NodeArgs {
    pub purpose: Purpose,
    pub resources: InteractiveArgs,
    pub session: NodeSessionArgs,
    /// VS Code's settings: allowed, refused, or asked.
    pub settings: Option<bool>,
    pub path: Option<String>,
    pub command: Vec<String>,
}

fn kind(p: Purpose) -> &'static str {
    match p {
        Purpose::Code => "code",
        Purpose::Shell => "shell",
    }
}

pub fn run(s: &mut Session, setup: &SetupArgs, a: &NodeArgs) -> Result<Exit, Error> {
    let cmd = kind(a.purpose);
    let request = super::jupyter::request_with_course(&a.resources, a.session.here, cmd, setup, s.env)?;
    for w in a.command.iter().chain(a.path.iter()) {
        if w.contains(['\n', '\r', '\0']) {
            return Err(Error::Usage {
                message: format!("`{}` holds a line break", w.escape_debug()),
                hint: "give the command and the path on one line each".into(),
            });
        }
    }
    if let Some(p) = &a.path {
        if p.starts_with('-') {
            return Err(Error::Usage {
                message: format!("PATH `{p}` starts with `-`"),
                hint: "give the folder on the cluster as an absolute path or one under ~/".into(),
            });
        }
    }
    let sess = &a.session;
    if sess.list {
        return list(s, setup, a.purpose);
    }
    // `--stop` and `--job` know their site from the record when --site is not given.
    let recorded = servers::of_kind(s.env, cmd);
    let setup = super::interactive::with_recorded_site(setup, &recorded, &sess.stop, &sess.job);
    let inputs = Inputs::resolve(s.set, s.cli, s.env, &setup, Listing::Now)?;
    let site = inputs.profile.name().to_string();
    let stop_id =
        super::interactive::stop_id(&recorded, &site, &sess.stop, cmd, &format!("`hpcinit {cmd}` session"))?;
    if sess.dry_run {
        let plan = inputs.plan(None)?;
        let np = node::plan(&plan, inputs.profile, &request, a.purpose, node::block_of(&plan));
        let text = crate::ui::render_node_plan(&np, &s.printer.style());
        s.printer.out().write_all(text.as_bytes()).map_err(Error::Output)?;
        return Ok(Exit::Ok);
    }
    let options = NodeOptions {
        persist: sess.persist,
        wait_timeout: Duration::from_secs(sess.wait_timeout.max(1)),
        job: sess.job.clone(),
        project: inputs.answers.project_name.clone(),
        path: a.path.clone(),
        command: a.command.clone(),
        settings: a.settings,
    };
    let (cli, env) = (s.cli, s.env);
    let prompter: &mut dyn crate::prompt::Prompter = &mut *s.prompter;
    let status = super::with_context(&inputs, cli, env, s.printer, prompter, |cx| {
        let np = node::plan(&cx.plan, inputs.profile, &request, a.purpose, node::block_of(&cx.plan));
        // The nodes' entry in the ssh config (an older hpcinit wrote none): checked, written
        // where missing; then the sign-in (or the open connection). No look at the cluster first.
        let steps: &[StepId] = if np.route.kind == RouteKind::SshNode && stop_id.is_none() {
            &[StepId::SshConfig, StepId::Connect]
        } else {
            &[StepId::Connect]
        };
        crate::exec::run(cx, steps)?;
        let title = if stop_id.is_some() { "Stop" } else { a.purpose.command() };
        let failed = |e| Error::from(StepFailed { title: title.into(), error: Box::new(e) });
        match &stop_id {
            Some(id) => node_session::stop(cx, &np, id).map(|_| 0).map_err(failed),
            None => node_session::run(cx, &np, &options).map_err(failed),
        }
    })?;
    Ok(match status {
        0 => Exit::Ok,
        130 => Exit::Interrupted,
        // The shell's (or its command's) own status, as ssh passes it on.
        n => Exit::Relayed(n),
    })
}

/// The recorded sessions: site, job, project, until when, kept or not; with --site, the job's
/// state there too.
fn list(s: &mut Session, setup: &SetupArgs, purpose: Purpose) -> Result<Exit, Error> {
    let cmd = kind(purpose);
    let recorded = servers::of_kind(s.env, cmd);
    if recorded.is_empty() {
        s.printer
            .line(&format!("No `hpcinit {cmd}` session is recorded on this machine."))
            .map_err(Error::Output)?;
        return Ok(Exit::Ok);
    }
    let mut states: Vec<Option<String>> = vec![None; recorded.len()];
    if setup.site.is_some() {
        let inputs = Inputs::resolve(s.set, s.cli, s.env, setup, Listing::Now)?;
        let site = inputs.profile.name().to_string();
        let (cli, env) = (s.cli, s.env);
        let prompter: &mut dyn crate::prompt::Prompter = &mut *s.prompter;
        super::with_context(&inputs, cli, env, s.printer, prompter, |cx| {
            crate::exec::run(cx, &[StepId::Connect])?;
            let np = node::plan(&cx.plan, inputs.profile, &JupyterRequest::default(), purpose, None);
            for (i, r) in recorded.iter().enumerate().filter(|(_, r)| r.site == site) {
                let place = node_session::place_of(cx, &np, &r.job)
                    .map_err(|e| Error::from(StepFailed { title: "List".into(), error: Box::new(e) }))?;
                states[i] = Some(place.map(|w| w.to_string()).unwrap_or_else(|| "ended".into()));
            }
            Ok(())
        })?;
    }
    for line in super::interactive::rows(&recorded, states) {
        s.printer.line(&line).map_err(Error::Output)?;
    }
    Ok(Exit::Ok)
}
