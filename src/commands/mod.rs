//! One function per command; each reads the world through `Env` and prints through the
//! session's `Printer`.

pub mod answers;
pub mod check_job;
pub mod diff;
pub mod doctor;
pub mod lock;
pub mod man;
pub mod plan;
pub mod profiles;
pub mod setup;
pub mod sync;
pub mod uninstall;
pub mod wizard;

use crate::cli::Cli;
use crate::env::Env;
use crate::error::Error;
use crate::profile::ProfileSet;

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
    inputs: &plan::Inputs,
    cli: &Cli,
    env: &Env,
    printer: &mut crate::ui::Printer,
    prompter: &mut dyn crate::ui::Prompter,
    body: impl FnOnce(&mut crate::exec::Context) -> Result<T, Error>,
) -> Result<T, Error> {
    let plan = inputs.plan(None)?;
    // The client that carries the run is the one the plan shows (`Inputs::with_transport`).
    let options = crate::exec::Options { transport: inputs.local.transport, ..setup::options(&cli.run, env) };
    let mut reporter = printer.reporter();
    let replan = Box::new(|facts: Option<&crate::plan::RemoteFacts>| inputs.plan(facts));
    let mut cx = crate::exec::Context::new(env, plan, replan, &options, prompter, &mut reporter);
    body(&mut cx)
}
