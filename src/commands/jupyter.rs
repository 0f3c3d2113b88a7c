//! `hpcinit jupyter`: Jupyter Lab on a compute node, reached through the login node's shared
//! connection. Signs in (or reuses the open connection), plans the job from the site's
//! interactive defaults and the flags, and runs the session (`exec::jupyter_session`). With
//! `--list`, `--stop` and `--job` it works on the servers recorded on this machine; with
//! `--dry-run` it prints the job and the exchanges and touches nothing.

use super::inputs::{Inputs, Listing};
use super::Session;
use crate::cli::{InteractiveArgs, SetupArgs};
use crate::error::Error;
use crate::exec::jupyter_session::{self, SessionOptions};
use crate::exec::StepFailed;
use crate::exit::Exit;
use crate::local::servers;
use crate::plan::jupyter::{self, JupyterRequest};
use crate::plan::StepId;
use crate::profile::scalar::{Memory, Walltime};
use std::time::Duration;

/// The command's own flags.
#[derive(Debug, Clone)]
pub struct JupyterArgs {
    pub resources: InteractiveArgs,
    pub here: bool,
    pub no_browser: bool,
    pub persist: bool,
    pub port: Option<u16>,
    pub wait_timeout: u64,
    pub job: Option<String>,
    pub list: bool,
    pub stop: Option<String>,
    pub dry_run: bool,
}

/// The job's request: the interactive flags, with the course file's `interactive` defaults
/// where they are not given (the flags win; the profile's defaults come after both).
pub fn request_with_course(
    r: &InteractiveArgs,
    here: bool,
    command: &str,
    setup: &SetupArgs,
    env: &crate::env::Env,
) -> Result<JupyterRequest, Error> {
    let Some(c) = super::inputs::course(setup, env)? else { return request(r, here, command) };
    let i = &c.interactive;
    let mut from_course = Vec::new();
    let mut take = |flag: bool, course: bool, what: &'static str| {
        if !flag && course {
            from_course.push(what);
        }
    };
    take(r.time.is_some(), i.time.is_some(), "time");
    take(r.mem.is_some(), i.memory.is_some(), "memory");
    take(r.cpus.is_some(), i.cpus.is_some(), "cpus");
    take(r.gpus.is_some(), i.gpus.is_some(), "gpus");
    let merged = InteractiveArgs {
        time: r.time.clone().or(i.time.clone()),
        mem: r.mem.clone().or(i.memory.clone()),
        cpus: r.cpus.or(i.cpus),
        gpus: r.gpus.or(i.gpus),
        ..r.clone()
    };
    Ok(JupyterRequest { from_course, ..request(&merged, here, command)? })
}

/// An interactive job's flags as the plan takes them; a malformed value is a usage error naming
/// its flag (`command`: the subcommand, for the hint).
pub fn request(r: &InteractiveArgs, here: bool, command: &str) -> Result<JupyterRequest, Error> {
    let bad = |flag: &str, why: String| Error::Usage {
        message: format!("--{flag}: {why}"),
        hint: format!("`hpcinit {command} --help` lists the forms each flag takes"),
    };
    let time = r.time.clone().map(Walltime::try_from).transpose().map_err(|e| bad("time", e))?;
    let memory = r.mem.clone().map(Memory::try_from).transpose().map_err(|e| bad("mem", e))?;
    if let Some(p) = r.partition.as_deref() {
        if p.is_empty()
            || p.starts_with('-')
            || !p.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(bad("partition", format!("`{p}` is not a partition name (letters, digits, `_-.`)")));
        }
    }
    Ok(JupyterRequest {
        time,
        memory,
        cpus: r.cpus,
        gpus: r.gpus,
        partition: r.partition.clone(),
        here,
        from_course: Vec::new(),
    })
}

pub fn run(s: &mut Session, setup: &SetupArgs, a: &JupyterArgs) -> Result<Exit, Error> {
    let request = request_with_course(&a.resources, a.here, "jupyter", setup, s.env)?;
    if a.list {
        return list(s, setup);
    }
    // `--stop` and `--job` know their site from the record when --site is not given.
    let recorded = servers::of_kind(s.env, "jupyter");
    let setup = super::interactive::with_recorded_site(setup, &recorded, &a.stop, &a.job);
    let inputs = Inputs::resolve(s.set, s.cli, s.env, &setup, Listing::Now)?;
    let site = inputs.profile.name().to_string();
    let stop_id = super::interactive::stop_id(&recorded, &site, &a.stop, "jupyter", "Jupyter server")?;
    if a.dry_run {
        let plan = inputs.plan(None)?;
        let jp = jupyter::plan(&plan, inputs.profile, &request);
        let text = crate::ui::render_jupyter_plan(&jp, &s.printer.style());
        s.printer.out().write_all(text.as_bytes()).map_err(Error::Output)?;
        return Ok(Exit::Ok);
    }
    let options = SessionOptions {
        persist: a.persist,
        no_browser: a.no_browser,
        wait_timeout: Duration::from_secs(a.wait_timeout.max(1)),
        port: a.port,
        job: a.job.clone(),
        project: inputs.answers.project_name.clone(),
        project_dir: (!inputs.answers.no_project).then(|| inputs.answers.project_dir.clone()),
    };
    let (cli, env) = (s.cli, s.env);
    let prompter: &mut dyn crate::prompt::Prompter = &mut *s.prompter;
    super::with_context(&inputs, cli, env, s.printer, prompter, |cx| {
        // No look at the cluster first: the job runs in the environment the bootstrap wrote.
        crate::exec::run(cx, &[StepId::Connect])?;
        let jp = jupyter::plan(&cx.plan, inputs.profile, &request);
        let title = if stop_id.is_some() { "Stop" } else { "Jupyter" };
        let failed = |e| Error::from(StepFailed { title: title.into(), error: Box::new(e) });
        match &stop_id {
            Some(id) => jupyter_session::stop(cx, &jp, id).map_err(failed),
            None => jupyter_session::run(cx, &jp, &options).map_err(failed),
        }
    })?;
    Ok(Exit::Ok)
}

/// The recorded servers: site, job, project, until when, kept or not; with --site, the job's
/// state there too (one sign-in, or none while the connection is open).
fn list(s: &mut Session, setup: &SetupArgs) -> Result<Exit, Error> {
    let recorded = servers::of_kind(s.env, "jupyter");
    if recorded.is_empty() {
        s.printer
            .line("No Jupyter server of hpcinit's is recorded on this machine.")
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
            let jp = jupyter::plan(&cx.plan, inputs.profile, &JupyterRequest::default());
            for (i, r) in recorded.iter().enumerate().filter(|(_, r)| r.site == site) {
                let place = jupyter_session::place(cx, &jp, &r.job)
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
