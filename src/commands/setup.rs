//! `hpcinit --site S`: the bootstrap. Shows the plan, asks once to go ahead (or takes `--yes`),
//! then carries out the steps on the person's machine (SSH key, ssh config, host key) and on
//! the cluster (sign-in, key registration, probe, directories, Python environment, job
//! templates, and with `--check-job` a test job), and says what is left.

use super::inputs::Listing;
use super::session::Session;
use super::wizard::Ask;
use crate::cli::{Cli, SetupArgs};
use crate::env::Env;
use crate::error::Error;
use crate::exec;
use crate::exit::Exit;
use crate::local::state;
use crate::prompt::Prompter;
use crate::ui;

pub fn run(s: &mut Session, args: &SetupArgs) -> Result<Exit, Error> {
    let (set, cli, env) = (s.set, s.cli, s.env);
    let p = &mut *s.printer;
    let style = &p.style();
    let prompter: &mut dyn Prompter = &mut *s.prompter;
    let run = &cli.run;
    // In a terminal without --yes this is the wizard: questions, the plan as a table, then
    // Proceed / Show every detail / Customize / Cancel. Otherwise the answers come from flags
    // and --answers (a terminal still asks for what a run cannot go without).
    let wizard = prompter.interactive() && !run.yes;
    check_user_config(env, run.fix_config, wizard, &mut *prompter, p)?;
    let mut args = args.clone();
    super::wizard::ask(set, env, &mut *prompter, &mut args, if wizard { Ask::Unset } else { Ask::Missing })?;
    let (inputs, plan) = 'plan: loop {
        let inputs = super::inputs::Inputs::resolve(set, cli, env, &args, Listing::Now)?;
        let plan = inputs.plan(None)?;
        if !wizard {
            // The short table; every detail with -v (or `hpcinit plan --details`).
            let text = if p.verbose() {
                ui::render_plan(&plan, style)
            } else {
                ui::render_plan_table(&plan, style) + "\n"
            };
            if !p.quiet() {
                p.out().write_all(text.as_bytes()).map_err(Error::Output)?;
            }
            if !run.yes {
                // Only reached without a terminal: the error names --yes.
                let question =
                    format!("Carry out these {} steps now?", exec::step_ids(&plan, run.ssh_only).len());
                if !prompter.confirm(&question, true, "--yes").map_err(confirm_error)? {
                    p.line("Cancelled; nothing was changed.").map_err(Error::Output)?;
                    return Ok(Exit::Ok);
                }
            }
            break (inputs, plan);
        }
        p.out().write_all(ui::render_plan_table(&plan, style).as_bytes()).map_err(Error::Output)?;
        let choices =
            ["Proceed".to_string(), "Show every detail".into(), "Customize".into(), "Cancel".into()];
        loop {
            match prompter.select("Go ahead?", &choices, 0, false, "--yes").map_err(confirm_error)? {
                0 => break 'plan (inputs, plan),
                1 => p.out().write_all(ui::render_plan(&plan, style).as_bytes()).map_err(Error::Output)?,
                2 => {
                    // New answers, then a new plan and the same question.
                    super::wizard::ask(set, env, &mut *prompter, &mut args, Ask::All)?;
                    break;
                }
                _ => {
                    p.line("Cancelled; nothing was changed.").map_err(Error::Output)?;
                    return Ok(Exit::Ok);
                }
            }
        }
    };
    let profile = inputs.profile;
    let ids = exec::step_ids(&plan, run.ssh_only);
    let (pending, plan) = super::with_context(&inputs, cli, env, p, &mut *prompter, |cx| {
        exec::run(cx, &ids)?;
        Ok((cx.pending.clone(), cx.plan.clone()))
    })?;
    let mut remembered = state::remembered(env, profile.name().as_str()).unwrap_or_default();
    remembered.user = plan.user.clone();
    remembered.account = plan.account.clone();
    remembered.projects.insert(plan.project_dir.clone(), plan.project.clone());
    if let Err(e) = state::remember(env, profile.name().as_str(), &remembered) {
        p.warn(&format!("could not record the answers for later commands: {e}")).map_err(Error::Output)?;
    }
    summary(profile, &plan, &pending, &args, cli, p)?;
    Ok(Exit::Ok)
}

/// OpenSSH must read the person's own `~/.ssh/config` before hpcinit adds a line to it.
/// Where it does not, nothing is changed and the run stops with their line and the fix;
/// a keyword OpenSSH does not know is skipped with an `IgnoreUnknown` line when they say so
/// (`--fix-config`, or yes in the wizard), the original kept beside it.
fn check_user_config(
    env: &Env,
    fix: bool,
    wizard: bool,
    prompter: &mut dyn Prompter,
    p: &mut ui::Printer,
) -> Result<(), Error> {
    use crate::local::user_config;
    let config = env.home.join(".ssh/config");
    // One fix per unknown keyword; a file with more than a few is the person's to look at.
    for _ in 0..5 {
        let Some(r) = user_config::check(&config, &env.vars) else { return Ok(()) };
        let Some(k) = r.ignorable().map(str::to_string) else { return Err(Error::UserConfig(r)) };
        let question = format!(
            "OpenSSH does not know `{k}` (line {} of {}). Add `IgnoreUnknown {k}` as the file's first line? A copy of it is kept.",
            r.line.unwrap_or(0),
            env.tilde(&r.file)
        );
        let yes =
            fix || (wizard && prompter.confirm(&question, true, "--fix-config").map_err(confirm_error)?);
        if !yes {
            return Err(Error::UserConfig(r));
        }
        let backup = user_config::fix(&r.file, &k).map_err(|e| Error::Usage {
            message: format!("cannot add `IgnoreUnknown {k}` to {}: {e}", r.file.display()),
            hint: format!("add it yourself as the first line of {}", r.file.display()),
        })?;
        p.note(&format!(
            "added `IgnoreUnknown {k}` as the first line of {} (the original is {})",
            env.tilde(&r.file),
            env.tilde(&backup)
        ))
        .map_err(Error::Output)?;
    }
    Ok(())
}

fn confirm_error(e: crate::ui::PromptError) -> Error {
    Error::Step { title: "Confirm".into(), error: Box::new(e.into()) }
}

/// What is ready, how to use it, and what is left for the person.
fn summary(
    profile: &crate::profile::Profile,
    plan: &crate::plan::Plan,
    pending: &[String],
    args: &SetupArgs,
    cli: &Cli,
    p: &mut ui::Printer,
) -> Result<(), Error> {
    let site = profile.name();
    let name = &profile.raw.display_name;
    let (style, quiet) = (p.style(), p.quiet());
    let mut w = |line: String| p.line(&line).map_err(Error::Output);
    if cli.run.ssh_only {
        w(format!("\n{} `ssh {site}` now signs you in to {name}.", style.ok("SSH is ready:")))?;
        for p in pending {
            w(format!("{} {p}", style.warn("to do:")))?;
        }
        return Ok(());
    }
    if plan.no_project {
        let venv = plan.python().map(|p| p.venv.clone()).unwrap_or_default();
        w(format!(
            "\n{} {name} is set up for you, with a general environment {venv} (no project yet).",
            style.ok("Ready:")
        ))?;
    } else {
        w(format!("\n{} {name} is set up for {}.", style.ok("Ready:"), plan.project))?;
    }
    if quiet {
        for p in pending {
            w(format!("{} {p}", style.warn("to do:")))?;
        }
        return Ok(());
    }
    w(format!("  Log in:        ssh {site}"))?;
    if let Some(t) = plan.job_templates() {
        w(format!("  Submit a job:  ssh {site}, then `{}`", t.submit))?;
        w(format!("  Job logs:      {}", t.log_dir))?;
    }
    if plan.no_project {
        w(format!("  A project:     run `hpcinit --site {site}` in its folder (a git work tree, or one with requirements.txt or pyproject.toml): its own environment, code snapshots and job script"))?;
    } else {
        w(format!("  New code:      hpcinit sync --site {site} (a job runs the snapshot that was latest when it was submitted)"))?;
    }
    if !args.check_job {
        w(format!("  Test job:      hpcinit check-job --site {site}"))?;
    }
    w(format!("  Check it all:  hpcinit doctor --site {site}"))?;
    if let Some(lock) = plan.lock() {
        w(format!(
            "  Lock file:     {} (commit it: `hpcinit --site OTHER` rebuilds this environment there)",
            lock.path
        ))?;
    }
    if let Some(l) = plan.python().and_then(|p| p.from_lock.as_ref()) {
        w(format!(
            "  Reproduced:    hpcinit.lock from {}; `hpcinit diff --site {} --site {site}` compares the two",
            l.origin_name, l.origin
        ))?;
    }
    let scratch = &profile.raw.storage.scratch;
    let purge = scratch.purge.trim().trim_end_matches('.');
    w(format!(
        "{} ~/scratch is {}: {purge}.{}",
        style.warn("purge:"),
        scratch.path.value.to_string().replace("{user}", &plan.user),
        if scratch.backed_up {
            ""
        } else {
            " Not backed up: keep what matters in your home or project area."
        }
    ))?;
    for p in pending {
        w(format!("{} {p}", style.warn("to do:")))?;
    }
    Ok(())
}
