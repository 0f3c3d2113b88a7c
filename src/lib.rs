//! hpcinit: from a fresh laptop to a working setup on a university HPC cluster.
//!
//! The flow: command line → answers → (probe) → a pure [`plan::Plan`] → confirm → executor.
//! `main` only calls [`run`]; nothing below it exits the process.

pub mod answers;
pub mod answers_file;
pub mod cli;
pub mod commands;
pub mod course_file;
pub mod env;
pub mod error;
pub mod exchange;
pub mod exec;
pub mod exit;
pub mod local;
pub mod plan;
pub mod platform;
pub mod profile;
pub mod prompt;
pub mod quote;
pub mod remote;
pub mod settings;
pub mod ssh_command;
pub mod ui;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command, ProfilesCommand, SetupArgs};
use env::Env;
use error::Error;
use exit::Diagnostic;
use exit::Exit;
use std::io::Write;
use ui::Style;

/// Runs hpcinit with these arguments (the first is the program name) and returns the exit code.
pub fn run<I, T>(args: I, env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code();
            let text = if env.color() { e.render().ansi().to_string() } else { e.render().to_string() };
            let _ = if code == 0 { write!(out, "{text}") } else { write!(err, "{text}") };
            return code;
        }
    };
    let verbosity = ui::Verbosity::from_flags(cli.quiet, cli.verbose);
    let mut printer = ui::Printer::new(out, err, Style::new(env.color()), verbosity, ui::stderr_is_term());
    let result = commands::answers::with_file(cli, env).and_then(|cli| dispatch(&cli, env, &mut printer));
    match result {
        Ok(exit) => exit.code(),
        Err(e) => {
            let text = e.render(&printer.style());
            let _ = write!(printer.err(), "{text}");
            e.exit().code()
        }
    }
}

/// What a command that changes the person's files is, in words (for a run that has to wait for
/// it); `None` for commands that only read.
fn writes(cli: &Cli) -> Option<String> {
    let (name, setup) = match &cli.command {
        None => ("", &cli.setup),
        Some(Command::Sync { setup, .. }) => ("sync ", setup),
        Some(Command::Uninstall { setup, .. }) => ("uninstall ", setup),
        Some(Command::Reproduce { setup }) => ("reproduce ", setup),
        Some(Command::Lock { setup }) => ("lock ", setup),
        _ => return None,
    };
    let site = setup.site.as_ref().or(cli.setup.site.as_ref());
    Some(match site {
        Some(s) => format!("hpcinit {name}--site {s}"),
        None => format!("hpcinit {name}").trim_end().to_string(),
    })
}

fn dispatch(cli: &Cli, env: &Env, printer: &mut ui::Printer) -> Result<Exit, Error> {
    // Commands that change files take the run lock: a second hpcinit waits for the first.
    let _lock = match writes(cli) {
        Some(what) => Some(local::run_lock::acquire(env, &what, &mut |holder| {
            let _ = printer.status(&format!("waiting for another hpcinit run to finish ({holder})…"));
        })?),
        None => None,
    };
    // Answers given after the subcommand, gaps filled by those given before it.
    let merged = |s: &SetupArgs| s.or(&cli.setup);
    // Every command but the two that read no profiles of their own loads them once.
    let set = match &cli.command {
        Some(Command::Rsh { command }) => {
            return Ok(Exit::Relayed(remote::rsh_relay::relay(command)));
        }
        Some(Command::Reach { host, port }) => {
            return Ok(if commands::inputs::reach(host, *port) { Exit::Ok } else { Exit::Failed });
        }
        Some(Command::Man) => {
            commands::man::render(&Cli::command(), printer.out()).map_err(Error::Output)?;
            return Ok(Exit::Ok);
        }
        Some(Command::Completions { shell }) => {
            clap_complete::generate(*shell, &mut Cli::command(), "hpcinit", printer.out());
            return Ok(Exit::Ok);
        }
        Some(Command::Profiles { command: ProfilesCommand::Validate { files } }) => {
            let ok = commands::profiles::validate(files, printer)?;
            return Ok(if ok { Exit::Ok } else { Exit::Usage });
        }
        _ => commands::load_profiles(cli, env)?,
    };
    let prompter = Box::new(ui::SystemPrompter::new(env));
    let mut session = commands::Session { set: &set, cli, env, printer, prompter };
    match &cli.command {
        // Answered above, before the profiles were loaded.
        Some(Command::Completions { .. })
        | Some(Command::Reach { .. })
        | Some(Command::Rsh { .. })
        | Some(Command::Man)
        | Some(Command::Profiles { command: ProfilesCommand::Validate { .. } }) => Ok(Exit::Ok),
        Some(Command::Profiles { command: ProfilesCommand::List { json } }) => {
            commands::profiles::list(&set, *json, session.printer)?;
            Ok(Exit::Ok)
        }
        Some(Command::Profiles { command: ProfilesCommand::Show { name } }) => {
            commands::profiles::show(&set, name, session.printer)?;
            Ok(Exit::Ok)
        }
        Some(Command::Plan { setup, json, details }) => {
            let plan = commands::plan::make(&session, &merged(setup))?;
            commands::plan::print(&plan, *json, *details, session.printer)?;
            Ok(Exit::Ok)
        }
        Some(Command::Sync { setup, dry_run, verify }) => {
            commands::sync::run(&mut session, &merged(setup), *dry_run, *verify)
        }
        Some(Command::CheckJob { setup }) => commands::check_job::run(&mut session, &merged(setup)),
        Some(Command::Doctor { setup, plan: true, json, details }) => {
            commands::doctor::show_plan(&mut session, &merged(setup), *json, *details)
        }
        Some(Command::Doctor { setup, json, .. }) => {
            commands::doctor::run(&mut session, &merged(setup), *json)
        }
        Some(Command::Uninstall { setup, remote, dry_run: true, details }) => {
            commands::uninstall::show_plan(&mut session, &merged(setup), *remote, *details)
        }
        Some(Command::Uninstall { setup, remote, .. }) => {
            commands::uninstall::run(&mut session, &merged(setup), *remote)
        }
        Some(Command::Reproduce { setup }) => {
            let setup = SetupArgs { reproduce: true, ..merged(setup) };
            commands::setup::run(&mut session, &setup)
        }
        Some(Command::Lock { setup }) => commands::lock::run(&mut session, &merged(setup)),
        Some(Command::Jupyter {
            setup,
            resources,
            here,
            no_browser,
            persist,
            port,
            wait_timeout,
            job,
            list,
            stop,
            dry_run,
        }) => {
            let args = commands::jupyter::JupyterArgs {
                resources: resources.clone(),
                here: *here,
                no_browser: *no_browser,
                persist: *persist,
                port: *port,
                wait_timeout: *wait_timeout,
                job: job.clone(),
                list: *list,
                stop: stop.clone(),
                dry_run: *dry_run,
            };
            commands::jupyter::run(&mut session, &merged(setup), &args)
        }
        Some(Command::Code {
            setup,
            resources,
            session: node,
            vscode_settings,
            no_vscode_settings,
            path,
        }) => {
            let args = commands::node::NodeArgs {
                purpose: crate::plan::node::Purpose::Code,
                resources: resources.clone(),
                session: node.clone(),
                settings: match (vscode_settings, no_vscode_settings) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                path: path.clone(),
                command: Vec::new(),
            };
            commands::node::run(&mut session, &merged(setup), &args)
        }
        Some(Command::Shell { setup, resources, session: node, command }) => {
            let args = commands::node::NodeArgs {
                purpose: crate::plan::node::Purpose::Shell,
                resources: resources.clone(),
                session: node.clone(),
                settings: None,
                path: None,
                command: command.clone(),
            };
            commands::node::run(&mut session, &merged(setup), &args)
        }
        Some(Command::Course {
            command: crate::cli::CourseCommand::Check { file, handout, json, probe, setup },
        }) => {
            let args = commands::course::CheckArgs {
                file: file.as_deref(),
                handout: handout.as_deref(),
                json: *json,
                probe: probe.then(|| merged(setup)),
            };
            commands::course::check(&mut session, &args)
        }
        Some(Command::Diff { sites, project_dir, json, exit_code }) => {
            let args = commands::diff::DiffArgs {
                sites,
                project_dir: project_dir.clone().or_else(|| cli.setup.project_dir.clone()),
                json: *json,
                exit_code: *exit_code,
            };
            commands::diff::run(&mut session, &args)
        }
        None => commands::setup::run(&mut session, &cli.setup),
    }
}
