//! `hpcinit check-job`: proof that a job runs. Signs in (or reuses the open connection),
//! probes the cluster, and submits the test job from the template; touches nothing on this
//! machine and nothing on the cluster but the job and its log files.

use super::inputs::Listing;
use super::Session;
use crate::cli::SetupArgs;
use crate::error::Error;
use crate::exec;
use crate::exit::Exit;
use crate::plan::StepId;
use crate::prompt::Prompter;

pub fn run(s: &mut Session, args: &SetupArgs) -> Result<Exit, Error> {
    let (set, cli, env) = (s.set, s.cli, s.env);
    let prompter: &mut dyn Prompter = &mut *s.prompter;
    let mut args = args.clone();
    args.check_job = true;
    let inputs = super::inputs::Inputs::resolve(set, cli, env, &args, Listing::Now)?;
    let ids = [StepId::Connect, StepId::Probe, StepId::CheckJob];
    super::with_context(&inputs, cli, env, s.printer, &mut *prompter, |cx| Ok(exec::run(cx, &ids)?))?;
    let works = s.printer.style().ok("Works:");
    let text = format!("\n{works} a job runs on {} with your environment.", inputs.profile.raw.display_name);
    s.printer.note(&text).map_err(Error::Output)?;
    Ok(Exit::Ok)
}
