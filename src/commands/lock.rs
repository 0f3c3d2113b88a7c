//! `hpcinit lock [--site S]`: writes the project's `hpcinit.lock` from the environment on a
//! site as it is now (Python, the modules it was built with, the recipe, `pip freeze`), over
//! the shared connection: one read-only round trip on the cluster, one atomic write in the
//! project. The site defaults to the lock's own; naming another moves the lock's origin there.

use super::inputs::Listing;
use super::Session;
use crate::cli::{Cli, SetupArgs};
use crate::env::Env;
use crate::error::Error;
use crate::exec::{self, StepError};
use crate::exit::Exit;
use crate::local::lock::{self, Lock};
use crate::local::state::EnvironmentRecord;
use crate::plan::StepId;
use crate::prompt::Prompter;
use crate::ui::Printer;

pub fn run(s: &mut Session, args: &SetupArgs) -> Result<Exit, Error> {
    let (set, cli, env) = (s.set, s.cli, s.env);
    let prompter: &mut dyn Prompter = &mut *s.prompter;
    let mut args = args.clone();
    let dir = super::inputs::project_dir(args.project_dir.as_deref(), env)?;
    let old = lock::read(&dir)?;
    if args.site.is_none() {
        args.site = old.as_ref().map(|l| l.origin.site.clone());
    }
    // The environment is read as it is; the lock's own rules (stale, other site) do not apply.
    args.no_lock = true;
    args.project_dir = Some(dir.clone());
    let inputs = super::inputs::Inputs::resolve(set, cli, env, &args, Listing::InTheStep)?;
    let name = inputs.profile.raw.display_name.clone();
    let rec = environment_on(&inputs, cli, env, s.printer, prompter)?;
    let tick = s.printer.style().ok("✓");
    let new = Lock::from_record(&crate::plan::lock_site(inputs.profile), &rec);
    let path = dir.join(lock::FILE);
    let shown = env.tilde(&path);
    if old.as_ref().is_some_and(|o| o.same_environment(&new)) {
        let text =
            format!("{tick} {shown} already describes the environment on {name}; nothing was changed.");
        s.printer.line(&text).map_err(Error::Output)?;
        return Ok(Exit::Ok);
    }
    crate::local::atomic::write(&path, new.render().as_bytes(), 0o644).map_err(|e| Error::Step {
        title: "Lock file".into(),
        error: Box::new(StepError::Write { path: path.clone(), source: e }),
    })?;
    let moved = match &old {
        Some(o) if o.origin.site != new.origin.site => format!(" (it described {} before)", o.origin.name),
        _ => String::new(),
    };
    let text = format!(
        "{tick} wrote {shown} from {} on {name}{moved}: Python {}, {}.",
        rec.venv,
        new.python.version,
        crate::local::lock::packages_phrase(new.packages.len())
    );
    s.printer.line(&text).map_err(Error::Output)?;
    Ok(Exit::Ok)
}

/// The project's environment on the site of `inputs`, read over the shared connection (signing
/// in first if needed; one read-only round trip). The steps' progress is shown with -v only.
pub(super) fn environment_on(
    inputs: &super::inputs::Inputs,
    cli: &Cli,
    env: &Env,
    printer: &mut Printer,
    prompter: &mut dyn Prompter,
) -> Result<EnvironmentRecord, Error> {
    let mut steps_output = Vec::new();
    let rec = super::with_context(
        inputs,
        cli,
        env,
        &mut printer.capture(&mut steps_output),
        &mut *prompter,
        |cx| {
            let step_error =
                |title: &str, e: StepError| Error::Step { title: title.into(), error: Box::new(e) };
            for (id, title) in [(StepId::Connect, "Sign in"), (StepId::Probe, "Look at the cluster")] {
                if let Some(Err(e)) = exec::ensure(cx, id) {
                    return Err(step_error(title, e));
                }
            }
            let Some(py) = cx.plan.python().cloned() else {
                return Err(Error::Usage {
                    message: format!("the plan for {} builds no Python environment", cx.plan.display_name),
                    hint: format!("`hpcinit plan --site {}` shows what it does", cx.plan.site),
                });
            };
            let venv = py.venv;
            let requirements = if py.from_lock.is_none() { py.requirements } else { Vec::new() };
            let rec = exec::lock_task::read_on_cluster(cx, &venv, &py.read_script, &requirements)
                .map_err(|e| step_error("Read the environment", e))?;
            rec.ok_or_else(|| Error::Usage {
                message: format!("there is no environment at {venv} on {}", cx.plan.display_name),
                hint: format!("`hpcinit --site {}` builds it", cx.plan.site),
            })
        },
    );
    if printer.verbose() {
        printer.out().write_all(&steps_output).map_err(Error::Output)?;
    }
    rec
}
