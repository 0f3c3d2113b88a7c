//! `hpcinit --site S`: the bootstrap. Shows the plan, asks once to go ahead (or takes `--yes`),
//! then carries out the steps this version builds — SSH key, ssh config, host key, sign-in, key
//! registration — on the person's machine and on the cluster, and says what is left.

use crate::cli::{RunArgs, SetupArgs};
use crate::env::Env;
use crate::error::{Error, EXIT_OK};
use crate::exec::{self, Context, Options, Transport};
use crate::profile::ProfileSet;
use crate::ui::{self, Prompter, Style, SystemPrompter, TextReporter};
use std::io::Write;
use std::time::Duration;

pub fn run(
    set: &ProfileSet,
    args: &SetupArgs,
    run: &RunArgs,
    quiet: bool,
    env: &Env,
    style: &Style,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let plan = super::plan::make(set, args, env)?;
    let profile = set.get(&plan.site)?;
    if !quiet {
        out.write_all(ui::render_plan(&plan, style).as_bytes()).map_err(Error::Output)?;
    }
    let steps: Vec<_> = plan.steps.iter().filter(|s| exec::is_built(s)).collect();
    let mut prompter = SystemPrompter::new(env);
    if !run.yes {
        let question = format!("Carry out steps 1–{} (SSH) now?", steps.len());
        match prompter.confirm(&question, true, "--yes") {
            Ok(true) => {}
            Ok(false) => {
                writeln!(out, "Cancelled; nothing was changed.").map_err(Error::Output)?;
                return Ok(EXIT_OK);
            }
            Err(e) => return Err(Error::Step { title: "Confirm".into(), error: Box::new(e.into()) }),
        }
    }
    let options = Options {
        transport: run.transport.unwrap_or_else(|| Transport::detect(env)),
        accept_new_host_key: run.accept_new_host_key,
        no_passphrase: run.no_passphrase,
        passphrase_file: run.key_passphrase_file.clone(),
        wait_for_key: Duration::from_secs(run.wait_for_key),
        poll: Duration::from_secs(run.key_poll.max(1)),
    };
    let pending = {
        let spinner = ui::stderr_is_term();
        let mut reporter = TextReporter::new(out, *style, spinner, quiet);
        let mut cx = Context::new(env, profile, &plan, &options, &mut prompter, &mut reporter);
        exec::run(&mut cx, &steps)?;
        cx.pending.clone()
    };
    let site = profile.name();
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
    if !quiet {
        writeln!(
            out,
            "{} this version stops after the SSH steps; directories, code snapshot, Python environment and job template (the rest of the plan) come in a later version.",
            style.warn("note:")
        )
        .map_err(Error::Output)?;
    }
    Ok(EXIT_OK)
}
