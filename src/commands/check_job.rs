//! `hpcinit check-job`: proof that a job runs. Signs in (or reuses the open connection),
//! probes the cluster, and submits the test job from the template; touches nothing on this
//! machine and nothing on the cluster but the job and its log files.

use super::Session;
use crate::cli::SetupArgs;
use crate::error::Error;
use crate::exec;
use crate::exit::Exit;
use crate::plan::StepId;
use crate::prompt::Prompter;
use std::io::Write;

pub fn run(s: &mut Session, args: &SetupArgs) -> Result<Exit, Error> {
    let (set, cli, env, style) = (s.set, s.cli, s.env, &s.style);
    let out: &mut dyn Write = &mut *s.out;
    let prompter: &mut dyn Prompter = &mut *s.prompter;
    let quiet = cli.quiet;
    let mut args = args.clone();
    args.check_job = true;
    let inputs = super::plan::inputs(set, &args, env)?;
    let ids = [StepId::Connect, StepId::Probe, StepId::CheckJob];
    super::with_context(&inputs, cli, env, style, out, &mut *prompter, |cx| Ok(exec::run(cx, &ids)?))?;
    if !quiet {
        writeln!(
            out,
            "\n{} a job runs on {} with your environment.",
            style.ok("Works:"),
            inputs.profile.raw.display_name
        )
        .map_err(Error::Output)?;
    }
    Ok(Exit::Ok)
}
