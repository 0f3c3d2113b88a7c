//! One step's behaviour, as the executor drives it: check, apply, check again.

use super::context::Context;
use super::error::StepError;

/// Whether a step still has something to do.
#[derive(Debug)]
pub enum Check {
    /// Nothing to do; what was found.
    Done(String),
    /// Something to do; why.
    Needed(String),
}

/// What applying did.
#[derive(Debug)]
pub enum Applied {
    /// Changed something; what.
    Changed(String),
    /// Left for the person to finish (the run goes on); what is left.
    Pending(String),
    /// Found nothing to change after all (a check that needed the apply's round trip); what.
    Unchanged(String),
}

/// One step's behaviour.
pub trait Task {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError>;
    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError>;
    /// Starts the step's slow, unattended part before its turn, in the background, when what
    /// it needs is already done and it will not need to ask anything; `true` when it did. Its
    /// turn then collects the work and reports, verifies and fails as usual. Nothing is shown
    /// meanwhile (except with `-v`).
    fn head_start(&mut self, _cx: &mut Context) -> bool {
        false
    }
}
