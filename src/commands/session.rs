//! What every command works with (the profiles, the command line, the environment, the printer
//! and the prompter) and the run's context over a plan, with the options the run flags set.

use crate::cli::Cli;
use crate::cli::RunArgs;
use crate::env::Env;
use crate::error::Error;
use crate::exec::{Options, Transport};
use crate::profile::ProfileSet;
use std::time::Duration;

/// What every command works with: the profiles, the parsed command line, the ambient state,
/// the printer (streams, colour, verbosity, JSON) and the prompter.
pub struct Session<'a, 'p> {
    pub set: &'a ProfileSet,
    pub cli: &'a Cli,
    pub env: &'a Env,
    pub printer: &'a mut crate::ui::Printer<'p>,
    /// How the run asks the person (a terminal, `SSH_ASKPASS`, or not at all).
    pub prompter: Box<dyn crate::prompt::Prompter + 'a>,
}

/// Built-ins, the user's profile directory, then `--profile` files.
pub fn load_profiles(cli: &Cli, env: &Env) -> Result<ProfileSet, Error> {
    Ok(ProfileSet::load(Some(&env.user_profiles_dir()), &cli.profiles)?)
}

/// Runs `body` with the run's context over `inputs` (planned before the probe): the options
/// from the run flags, the printer's reporter, the plan rebuilt from the probe's facts. Every
/// command that acts on the cluster goes through here.
pub fn with_context<T>(
    inputs: &super::inputs::Inputs,
    cli: &Cli,
    env: &Env,
    printer: &mut crate::ui::Printer,
    prompter: &mut dyn crate::ui::Prompter,
    body: impl FnOnce(&mut crate::exec::Context) -> Result<T, Error>,
) -> Result<T, Error> {
    let plan = inputs.plan(None)?;
    // The client that carries the run is the one the plan shows (`Inputs::resolve`).
    let options = crate::exec::Options { transport: inputs.local.transport, ..options(&cli.run, env) };
    let mut reporter = printer.reporter();
    let replan = Box::new(|facts: Option<&crate::plan::RemoteFacts>| inputs.plan(facts));
    let mut cx = crate::exec::Context::new(env, plan, replan, &options, prompter, &mut reporter);
    body(&mut cx)
}

/// The run flags as the executor's options.
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
