//! `hpcinit plan`: the inputs resolved, the pure plan built from them, printed; nothing on this
//! machine or the cluster changes.

use super::inputs::{Inputs, Listing};
use super::session::Session;
use crate::cli::SetupArgs;
use crate::error::Error;
use crate::plan::Plan;

/// Checks the answers and builds the plan (before the probe).
pub fn make(s: &Session, args: &SetupArgs) -> Result<Plan, Error> {
    Ok(Inputs::resolve(s.set, s.cli, s.env, args, Listing::Now)?.plan(None)?)
}

/// Prints `plan`: as JSON, in full (`--details`, `-v`), or as the short table.
pub fn print(plan: &Plan, json: bool, details: bool, p: &mut crate::ui::Printer) -> Result<(), Error> {
    if json {
        return p.json(plan).map_err(Error::Output);
    }
    let text = if details || p.verbose() {
        crate::ui::render_plan(plan, &p.style())
    } else {
        crate::ui::render_plan_table(plan, &p.style())
    };
    p.out().write_all(text.as_bytes()).map_err(Error::Output)
}
