//! The key-registration step, by the profile's mode. `authorized-keys`: append the public key
//! over the open connection (`~/.ssh` 0700, the file 0600, only if absent; a group-writable home,
//! which makes sshd ignore the key, is fixed only with consent), then prove the server accepts
//! the key. `portal`: show the key and the URL, then wait, bounded, trying the key; the person may
//! stop and re-run later. Sites whose logins never use keys have no such step.

use super::{Applied, Check, Context, StepError, Task};
use crate::exchange::Script;
use crate::plan::register_key::KeyReport;
use crate::plan::RegisterKeyPlan;
use crate::profile::raw::RegistrationMode;
use std::time::Instant;

pub struct RegisterKeyTask {
    plan: RegisterKeyPlan,
    /// The server accepted the key during apply: the verifying check need not log in again.
    proven: bool,
    /// Key login is being proven beside the next steps ([`super::Proof`]).
    deferred: bool,
}

impl RegisterKeyTask {
    pub fn new(plan: &RegisterKeyPlan) -> RegisterKeyTask {
        RegisterKeyTask { plan: plan.clone(), proven: false, deferred: false }
    }
}

fn public(cx: &Context) -> String {
    let k = cx.key.as_ref().expect("the key step ran first");
    // The comment stays; type and key are what sshd compares.
    k.public.trim().to_string()
}

/// Whether the gateway `g` takes hpcinit's key (a fresh key-only login there).
fn gateway_accepts(cx: &mut Context, g: &str) -> Result<bool, StepError> {
    let path = cx.key.as_ref().expect("the key step ran first").path.clone();
    let (remote, prompter) = cx.remote_and_prompter();
    let result = remote.gateway_key_accepted(&path, prompter);
    result.unwrap_or_else(|| Err(crate::remote::RemoteError::NoMaster { alias: g.into() })).map_err(|e| {
        let hint = cx.connect_hint(&e);
        StepError::Remote { error: e, hint }
    })
}

fn accepted(cx: &mut Context) -> Result<bool, StepError> {
    let path = cx.key.as_ref().expect("the key step ran first").path.clone();
    let (remote, prompter) = cx.remote_and_prompter();
    remote.key_accepted(&path, prompter).map_err(|e| {
        let hint = cx.connect_hint(&e);
        StepError::Remote { error: e, hint }
    })
}

impl RegisterKeyTask {
    /// The plan's script for `authorized-keys` sites, with the key as its argument (on the
    /// gateway, named so in messages).
    fn script(&self, cx: &Context, script: &Option<Script>, gateway: bool) -> Script {
        let s = script.clone().unwrap_or_default().arg(public(cx));
        if gateway {
            let purpose = format!("{} on the gateway", s.purpose);
            s.with_purpose(purpose)
        } else {
            s
        }
    }

    fn remote_state(&self, cx: &mut Context) -> Result<(bool, bool), StepError> {
        let script = self.script(cx, &self.plan.check_script, false);
        let out = cx.run_script(&script, &mut |_| {})?;
        let (present, home) = KeyReport::read(&out.stdout);
        Ok((present, home.is_some_and(|(_, writable)| writable)))
    }
}

impl Task for RegisterKeyTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        let site = cx.plan.display_name.clone();
        if self.proven {
            return Ok(Check::Done(format!("{site} accepts the key")));
        }
        if self.deferred {
            return Ok(Check::Done(format!(
                "the key is in ~/.ssh/authorized_keys on {site}; key login is checked beside the next steps"
            )));
        }
        match self.plan.mode {
            RegistrationMode::AuthorizedKeys => {
                if let Some(g) = self.plan.gateway.clone() {
                    if !self.on_gateway(cx, &g)? {
                        return Ok(Check::Needed(format!("the gateway {g} does not take the key yet")));
                    }
                }
                let (present, _) = self.remote_state(cx)?;
                if !present {
                    return Ok(Check::Needed("the key is not in ~/.ssh/authorized_keys".into()));
                }
                if !accepted(cx)? {
                    return Ok(Check::Needed(
                        "the key is installed but the server does not accept it".into(),
                    ));
                }
                Ok(Check::Done(format!("the key is in ~/.ssh/authorized_keys on {site} and key login works")))
            }
            RegistrationMode::Portal => Ok(if accepted(cx)? {
                Check::Done(format!("{site} accepts the key"))
            } else {
                Check::Needed(format!("{site} does not accept the key yet"))
            }),
            RegistrationMode::NotForLogin => Ok(Check::Done("keys are not used for login here".into())),
        }
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        match self.plan.mode {
            RegistrationMode::AuthorizedKeys => self.install(cx),
            RegistrationMode::Portal => self.wait_for_portal(cx),
            RegistrationMode::NotForLogin => Ok(Applied::Changed(String::new())),
        }
    }
}

impl RegisterKeyTask {
    /// Whether the gateway `g` has the key in its authorized_keys and takes it.
    fn on_gateway(&self, cx: &mut Context, g: &str) -> Result<bool, StepError> {
        let script = self.script(cx, &self.plan.check_script, true);
        let (present, _) = KeyReport::read(&self.gateway_run(cx, g, &script)?.stdout);
        Ok(present && gateway_accepts(cx, g)?)
    }

    fn gateway_run(
        &self,
        cx: &mut Context,
        g: &str,
        script: &Script,
    ) -> Result<crate::remote::RemoteOutput, StepError> {
        cx.round_trips += 1;
        cx.reporter.trace(&format!("remote, on the gateway {g}: {}", script.purpose));
        let result = cx.remote().gateway_script(script);
        let out = result.unwrap_or_else(|| Err(crate::remote::RemoteError::NoMaster { alias: g.into() }));
        out.map_err(|e| {
            let hint = cx.connect_hint(&e);
            StepError::Remote { error: e, hint }
        })
    }

    /// The key into the gateway's authorized_keys (first: the login host is reached through
    /// it), proven by a key login there.
    fn install_on_gateway(&self, cx: &mut Context, g: &str) -> Result<String, StepError> {
        let script = self.script(cx, &self.plan.remote_script, true);
        let out = self.gateway_run(cx, g, &script)?;
        if !out.success() {
            return Err(StepError::RemoteCommand {
                what: format!("adding the key to ~/.ssh/authorized_keys on the gateway {g}"),
                status: out.status,
                stderr: out.stderr.trim().to_string(),
            });
        }
        if !gateway_accepts(cx, g)? {
            return Err(StepError::KeyLoginFails {
                site: format!("the gateway {g}"),
                hint: "check that the gateway takes keys at all (some take only a password and a code); if it does not, the site's profile should say `key_registration: none` for it".into(),
            });
        }
        Ok(format!("added the key to ~/.ssh/authorized_keys on the gateway {g}; key login works there"))
    }

    fn install(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let gateway_line = match self.plan.gateway.clone() {
            Some(g) => Some(self.install_on_gateway(cx, &g)?),
            None => None,
        };
        let applied = self.install_on_login_host(cx)?;
        Ok(match (gateway_line, applied) {
            (Some(g), Applied::Changed(line)) => Applied::Changed(format!("{g}; {line}")),
            (_, applied) => applied,
        })
    }

    fn install_on_login_host(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let site = cx.plan.display_name.clone();
        let script = self.script(cx, &self.plan.remote_script, false);
        let out = cx.run_script(&script, &mut |_| {})?;
        if !out.success() {
            return Err(StepError::RemoteCommand {
                what: "adding the key to ~/.ssh/authorized_keys".into(),
                status: out.status,
                stderr: out.stderr.trim().to_string(),
            });
        }
        let mut line = format!("added the key to ~/.ssh/authorized_keys on {site}; key login works");
        // A home others cannot write: sshd will take the key, and the proof (a connection of
        // its own) runs beside the next steps instead of before them.
        let safe_home = KeyReport::read(&out.stdout).1.is_some_and(|(dir, writable)| dir && !writable);
        let key = cx.key.as_ref().map(|k| k.path.clone());
        if let (true, Some(key)) = (safe_home, key) {
            if let Some(query) = cx.remote().start_key_query(&key) {
                cx.reporter.trace("key login is checked on a connection of its own, beside the next steps");
                let title = cx.plan.step(crate::plan::StepId::RegisterKey).map(|s| s.title.clone());
                cx.proofs.push(super::Proof {
                    title: title.unwrap_or_else(|| "Key registration".into()),
                    query,
                    refused: StepError::KeyLoginFails {
                        site: site.clone(),
                        hint: "the key is in ~/.ssh/authorized_keys, yet the server does not take it: ask the site whether it allows key login, and check the key line there".into(),
                    },
                });
                self.deferred = true;
                return Ok(Applied::Changed(format!(
                    "added the key to ~/.ssh/authorized_keys on {site}; key login is checked beside the next steps"
                )));
            }
        }
        if accepted(cx)? {
            self.proven = true;
            return Ok(Applied::Changed(line));
        }
        let (_, writable) = self.remote_state(cx)?;
        if writable {
            cx.reporter.detail(&format!(
                "Your home directory on {site} can be written by other users, so sshd ignores keys in it."
            ));
            let fix = cx.prompter.confirm(
                "Remove write permission for group and others from your home directory (chmod go-w ~)?",
                true,
                "nothing: fix it yourself with `chmod go-w ~` on the cluster",
            );
            if let Ok(true) = fix {
                let script = self.script(cx, &self.plan.fix_home_script, false);
                let out = cx.run_script(&script, &mut |_| {})?;
                if out.success() {
                    line.push_str("; removed group/other write permission from your home directory");
                }
            } else {
                return Err(StepError::KeyLoginFails {
                    site,
                    hint: "run `chmod go-w ~` on the cluster (sshd ignores keys in a home others can write), then run hpcinit again".into(),
                });
            }
        }
        Ok(Applied::Changed(line))
    }

    fn wait_for_portal(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let reg = &self.plan;
        let site = cx.plan.display_name.clone();
        let url = reg.portal_url.clone().unwrap_or_default();
        let mut text = format!("{site} takes keys through its web portal. Open {url}");
        if let Some(p) = &reg.prerequisite {
            text.push_str(&format!(" ({})", p.trim()));
        }
        text.push_str(" and add this public key:\n\n");
        text.push_str(&public(cx));
        text.push('\n');
        if let Some(p) = &reg.propagation {
            text.push_str(&format!("\nIt takes effect within {}.", p.trim()));
        }
        cx.reporter.detail(&text);
        let limit = cx.options.wait_for_key;
        let start = Instant::now();
        let mut wait = cx.reporter.wait(&format!(
            "waiting for {site} to accept the key (Ctrl-C stops; run hpcinit again later to continue)"
        ));
        loop {
            if accepted(cx)? {
                drop(wait);
                self.proven = true;
                return Ok(Applied::Changed(format!("{site} accepts the key")));
            }
            let waited = start.elapsed();
            if waited >= limit {
                break;
            }
            wait.update(&format!(
                "waiting for {site} to accept the key: {}s of at most {}s (Ctrl-C stops; run hpcinit again later)",
                waited.as_secs(),
                limit.as_secs()
            ));
            std::thread::sleep(cx.options.poll.min(limit.saturating_sub(waited)));
        }
        drop(wait);
        let again = format!("hpcinit --site {}", cx.plan.site);
        if reg.required_before_login {
            return Err(StepError::KeyNotRegistered {
                site: site.clone(),
                hint: format!("add the key at {url}; once {site} takes it, run `{again}` again"),
            });
        }
        Ok(Applied::Pending(format!(
            "add the key at {url}; `{again}` checks it again (until then {site} asks for your password)"
        )))
    }
}
