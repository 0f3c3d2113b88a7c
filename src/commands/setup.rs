//! `hpcinit --site S`: the bootstrap. Shows the plan, asks once to go ahead (or takes `--yes`),
//! then carries out the steps on the person's machine (SSH key, ssh config, host key) and on
//! the cluster (sign-in, key registration, probe, directories, Python environment, job
//! templates, and with `--check-job` a test job), and says what is left.

use crate::cli::{Cli, RunArgs, SetupArgs};
use crate::env::Env;
use crate::error::{Error, EXIT_OK};
use crate::exec::{self, Context, Options, Transport};
use crate::profile::ProfileSet;
use crate::ui::{self, Prompter, Style, SystemPrompter, TextReporter};
use std::io::Write;
use std::time::Duration;

pub fn options(run: &RunArgs, env: &Env) -> Options {
    Options {
        transport: run.transport.unwrap_or_else(|| Transport::detect(env)),
        accept_new_host_key: run.accept_new_host_key,
        no_passphrase: run.no_passphrase,
        passphrase_file: run.key_passphrase_file.clone(),
        wait_for_key: Duration::from_secs(run.wait_for_key),
        poll: Duration::from_secs(run.key_poll.max(1)),
        on_existing: run.on_existing,
        job_timeout: Duration::from_secs(run.job_timeout),
    }
}

pub fn run(
    set: &ProfileSet,
    args: &SetupArgs,
    cli: &Cli,
    env: &Env,
    style: &Style,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let (run, quiet, verbose) = (&cli.run, cli.quiet, cli.verbose);
    let inputs = super::plan::inputs(set, args, env)?;
    let plan = inputs.plan(None)?;
    let profile = inputs.profile;
    if !quiet {
        out.write_all(ui::render_plan(&plan, style).as_bytes()).map_err(Error::Output)?;
    }
    let ids = exec::built_ids(&plan, run.ssh_only);
    let mut prompter = SystemPrompter::new(env);
    if !run.yes {
        let question = format!("Carry out these {} steps now?", ids.len());
        match prompter.confirm(&question, true, "--yes") {
            Ok(true) => {}
            Ok(false) => {
                writeln!(out, "Cancelled; nothing was changed.").map_err(Error::Output)?;
                return Ok(EXIT_OK);
            }
            Err(e) => return Err(Error::Step { title: "Confirm".into(), error: Box::new(e.into()) }),
        }
    }
    let options = options(run, env);
    let (pending, plan) = {
        let spinner = ui::stderr_is_term();
        let mut reporter = TextReporter::new(out, *style, spinner, quiet).verbose(verbose);
        let replan = Box::new(|facts: Option<&crate::plan::RemoteFacts>| inputs.plan(facts));
        let mut cx = Context::new(env, profile, plan, replan, &options, &mut prompter, &mut reporter);
        exec::run(&mut cx, &ids)?;
        (cx.pending.clone(), cx.plan.clone())
    };
    let site = profile.name();
    if run.ssh_only {
        writeln!(
            out,
            "\n{} `ssh {site}` now signs you in to {}.",
            style.ok("SSH is ready:"),
            profile.raw.display_name
        )
        .map_err(Error::Output)?;
        for p in &pending {
            writeln!(out, "{} {p}", style.warn("to do:")).map_err(Error::Output)?;
        }
        return Ok(EXIT_OK);
    }
    writeln!(out, "\n{} `ssh {site}` signs you in to {}.", style.ok("Ready:"), profile.raw.display_name)
        .map_err(Error::Output)?;
    if let Some(crate::plan::Step {
        action: crate::plan::Action::Templates { submit, log_dir, .. }, ..
    }) = plan.step("job-templates")
    {
        writeln!(out, "  Submit your job: ssh {site}, then `{submit}`; its logs go to {log_dir}.")
            .map_err(Error::Output)?;
    }
    if !args.check_job && !quiet {
        writeln!(out, "  Prove it with a test job: hpcinit check-job --site {site} --user {}", plan.user)
            .map_err(Error::Output)?;
    }
    for p in &pending {
        writeln!(out, "{} {p}", style.warn("to do:")).map_err(Error::Output)?;
    }
    if !quiet {
        writeln!(out, "  After editing your code: hpcinit sync --site {site} (jobs run from the snapshot that was latest when you submitted them)")
            .map_err(Error::Output)?;
    }
    Ok(EXIT_OK)
}
