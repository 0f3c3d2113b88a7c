//! The sign-in step: open the run's one authenticated connection. With OpenSSH the person
//! answers ssh's own prompts and the ControlMaster it leaves behind carries every later command;
//! an open master from an earlier run is reused with no sign-in at all.

use super::context::Context;
use super::error::StepError;
use super::task::{Applied, Check, Task};
use crate::plan::ConnectPlan;

pub struct ConnectTask {
    plan: ConnectPlan,
    connected: bool,
}

impl ConnectTask {
    pub fn new(plan: &ConnectPlan) -> ConnectTask {
        ConnectTask { plan: plan.clone(), connected: false }
    }
}

impl Task for ConnectTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        let alias = self.plan.alias.clone();
        let name = cx.remote().name();
        let open =
            if cx.lazy_proof && !self.connected { cx.remote().is_running() } else { cx.remote().is_open() };
        if open {
            cx.open = true;
            let how = match (self.connected, cx.lazy_proof) {
                (true, _) => "signed in",
                (false, false) => "reusing the connection of an earlier run",
                (false, true) => "reusing the connection of an earlier run (the copy proves it answers)",
            };
            return Ok(Check::Done(format!("{how}: `ssh {alias}` rides on it ({name})")));
        }
        if self.connected {
            // No multiplexing for this site: the connection worked but is not kept.
            return Ok(Check::Done(format!("signed in to {alias}")));
        }
        Ok(Check::Needed(format!("no open connection to {alias}")))
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        cx.reporter.detail(&format!("Sign in to {}: {}.", cx.plan.display_name, self.plan.prompts));
        if let Some(dir) = cx
            .plan
            .connection
            .control_dir
            .clone()
            .filter(|_| cx.options.transport == crate::settings::Transport::Ssh)
        {
            crate::local::control_dir::ensure(std::path::Path::new(&dir)).map_err(|e| StepError::Local {
                what: "the shared connection's socket".into(),
                detail: e.to_string(),
                hint: crate::exit::Diagnostic::hint(&e).unwrap_or_default(),
            })?;
            cx.reporter.detail(&format!(
                "The shared connection's socket goes in {dir} (private to you): your home's path is too long for a Unix socket."
            ));
        }
        match super::busy_retry::connect(cx) {
            Ok(_) => {
                self.connected = true;
                let shared = cx.options.transport == crate::settings::Transport::Ssh;
                Ok(Applied::Changed(match &self.plan.persist {
                    _ if !shared => "signed in once; every later step of this run uses the same session".to_string(),
                    Some(persist) => format!(
                        "signed in once; the connection stays open {persist} after its last use, so the next steps (and `ssh {}`) ask nothing",
                        self.plan.alias
                    ),
                    None => "signed in".to_string(),
                }))
            }
            Err(e) => Err(e),
        }
    }
}
