//! The sign-in step: open the run's one authenticated connection. With OpenSSH the person
//! answers ssh's own prompts and the ControlMaster it leaves behind carries every later command;
//! an open master from an earlier run is reused with no sign-in at all.

use super::{Applied, Check, Context, StepError, Task};
use crate::exit::Diagnostic;
use crate::plan::ConnectPlan;
use crate::profile::raw::RegistrationMode;
use crate::remote::RemoteError;

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
        if cx.remote().is_open() {
            let how = if self.connected { "signed in" } else { "reusing the connection of an earlier run" };
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
        let (remote, prompter) = cx.remote_and_prompter();
        let result = remote.connect(prompter);
        match result {
            Ok(_) => {
                self.connected = true;
                let shared = cx.options.transport == super::Transport::Ssh;
                Ok(Applied::Changed(match &self.plan.persist {
                    _ if !shared => "signed in once; every later step of this run uses the same session".to_string(),
                    Some(persist) => format!(
                        "signed in once; the connection stays open {persist} after its last use, so the next steps (and `ssh {}`) ask nothing",
                        self.plan.alias
                    ),
                    None => "signed in".to_string(),
                }))
            }
            Err(e) => {
                let hint = connect_hint(cx, &e);
                Err(StepError::Remote { error: e, hint })
            }
        }
    }
}

/// What the person can do about a failed sign-in, from the site's rules.
pub fn connect_hint(cx: &Context, e: &RemoteError) -> String {
    let c = &cx.plan.connection;
    let rule = c.network.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
    match e {
        RemoteError::Resolve { host } => {
            format!("check the host name {host} and your network connection.{rule}")
        }
        RemoteError::Refused { host, port } | RemoteError::Timeout { host, port } => {
            format!("check that {host} port {port} can be reached from this network.{rule}")
        }
        RemoteError::Denied { host, methods } if c.gateway.as_ref().is_some_and(|g| &g.host == host) => {
            let g = c.gateway.as_ref().expect("matched");
            let asks =
                if g.auth.is_empty() { String::new() } else { format!(" and what it asks for: {}", g.auth) };
            format!(
                "the gateway {} ({host}) accepts {methods}. Check your username there ({}){asks}",
                g.alias, g.user
            )
        }
        RemoteError::Denied { methods, .. } => {
            let key = cx
                .key
                .as_ref()
                .map(|k| format!("ssh offered the key {} ({}); ", cx.env.tilde(&k.path), k.fingerprint))
                .unwrap_or_default();
            let register = match c.key_registration {
                RegistrationMode::Portal
                    if methods.contains("publickey") && !methods.contains("password") =>
                {
                    format!(
                        "register it at {} and wait for it to take effect; ",
                        c.portal_url.as_deref().unwrap_or("the site's portal")
                    )
                }
                _ => String::new(),
            };
            format!(
                "{key}{register}the server accepts {methods}. Check your username ({}) and what {} asks for: {}",
                cx.plan.user, cx.plan.display_name, c.auth
            )
        }
        RemoteError::HostKeyRejected { .. } => {
            "the server's key is not the one hpcinit recorded; run hpcinit again to see both fingerprints"
                .into()
        }
        RemoteError::Prompt(p) => p.hint().unwrap_or_default(),
        _ => format!("run `ssh -v {}` to see where it stops.{rule}", c.alias),
    }
}
