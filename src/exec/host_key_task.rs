//! The host-key step: before any credential is sent, read each host's key (libssh2 key
//! exchange, no authentication) and compare it with the fingerprints the profile pins. A match,
//! or a key the person trusts on first use, is recorded in hpcinit's known_hosts under the
//! site's alias; a mismatch or a changed key stops the run with nothing sent.

use super::{Applied, Check, Context, StepError, Task};
use crate::local::{atomic, known_hosts};
use crate::plan::ssh_config::KNOWN_HOSTS_FILE;
use crate::plan::{HostKeyPlan, HostKeyTarget};
use crate::remote::host_key::{self, ServerKey};
use std::time::Duration;

/// One host to verify, and its key once read.
struct Target {
    plan: HostKeyTarget,
    server: Option<ServerKey>,
}

pub struct HostKeyTask {
    targets: Vec<Target>,
    source: Option<String>,
}

impl HostKeyTask {
    pub fn new(p: &HostKeyPlan) -> HostKeyTask {
        HostKeyTask {
            targets: p.targets.iter().map(|t| Target { plan: t.clone(), server: None }).collect(),
            source: p.source.clone(),
        }
    }
}

impl Task for HostKeyTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        let file = cx.home(&format!("~/{KNOWN_HOSTS_FILE}"));
        let known = std::fs::read_to_string(&file).unwrap_or_default();
        let mut found = Vec::new();
        let mut needed = None;
        for Target { plan: t, server } in &mut self.targets {
            let recorded: Vec<&str> = known_hosts::keys_for(&known, &t.alias);
            if let Some(via) = &t.via {
                // Behind a gateway: read in apply, through the gateway, once its key is
                // recorded; after that OpenSSH checks it on every connection (strict).
                if recorded.is_empty() {
                    needed
                        .get_or_insert(format!("no host key recorded for {} (read through {via})", t.alias));
                } else {
                    found.push(format!("{} as recorded (checked by ssh through {via})", t.alias));
                }
                continue;
            }
            if server.is_none() {
                let types: Vec<&str> = if !recorded.is_empty() {
                    recorded.iter().filter_map(|k| k.split_whitespace().next()).collect()
                } else {
                    t.pins.iter().map(|p| p.algorithm.as_str()).collect()
                };
                let timeout = Duration::from_secs(if t.optional { 3 } else { 20 });
                // A room of students meets MaxStartups here first: retried as the sign-in is.
                let read = || host_key::read(&t.host, t.port, &types, timeout);
                match super::busy_retry::retrying(&mut *cx.reporter, read) {
                    Ok(key) => *server = Some(key),
                    Err(e) if t.optional && e.is_network() => {
                        found.push(format!("{} not read ({e}): needed only from outside", t.alias));
                        continue;
                    }
                    Err(e) => {
                        let hint = cx.connect_hint(&e);
                        return Err(StepError::Remote { error: e, hint });
                    }
                }
            }
            let Some(server) = server.as_ref() else { continue };
            if recorded.is_empty() {
                needed.get_or_insert(format!("no host key recorded for {}", t.alias));
                continue;
            }
            if !recorded.iter().any(|r| known_hosts::same_key(r, &server.openssh)) {
                return Err(StepError::HostKeyChanged {
                    alias: t.alias.clone(),
                    host: t.host.clone(),
                    server: format!("{} {}", server.algorithm, server.fingerprint),
                    recorded: recorded.join(", "),
                    file: file.clone(),
                });
            }
            found.push(format!("{} ({}) {}", t.alias, server.algorithm, server.fingerprint));
        }
        Ok(match needed {
            Some(why) => Check::Needed(why),
            None => Check::Done(format!("{} as recorded", found.join("; "))),
        })
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let file = cx.home(&format!("~/{KNOWN_HOSTS_FILE}"));
        let mut known = std::fs::read_to_string(&file).unwrap_or_default();
        let site = cx.plan.display_name.clone();
        let mut lines = Vec::new();
        let dir = file.parent().expect("known_hosts file has a directory").to_path_buf();
        atomic::ensure_dir(&dir, 0o700).map_err(|source| StepError::Write { path: dir, source })?;
        for i in 0..self.targets.len() {
            let t = self.targets[i].plan.clone();
            if !known_hosts::keys_for(&known, &t.alias).is_empty() {
                continue;
            }
            let server = match (&self.targets[i].server, &t.via) {
                (Some(s), _) => s.clone(),
                (None, Some(via)) => self.read_through(cx, &t, via)?,
                // The check reads every direct host's key before apply runs.
                (None, None) => continue,
            };
            lines.push(self.accept(cx, &t, &server, &site)?);
            known = known_hosts::with_key(&known, &t.alias, &server.openssh);
            // Recorded at once: a host behind this one is reached through it next.
            atomic::write(&file, known.as_bytes(), 0o600)
                .map_err(|source| StepError::Write { path: file.clone(), source })?;
        }
        lines.push(format!("recorded in ~/{KNOWN_HOSTS_FILE}"));
        Ok(Applied::Changed(lines.join("; ")))
    }
}

impl HostKeyTask {
    /// Signs in to the gateway (its key is recorded by now) and reads `t`'s key through it, on
    /// the run's own connection (which keeps the gateway open for the sign-in that follows).
    fn read_through(&self, cx: &mut Context, t: &HostKeyTarget, via: &str) -> Result<ServerKey, StepError> {
        let gateway = self.targets.iter().map(|g| &g.plan).find(|g| g.alias == via);
        let host = gateway.map(|g| g.host.clone()).unwrap_or_else(|| via.to_string());
        cx.reporter.detail(&format!(
            "signing in to the gateway {via} ({host}) to read {}'s key through it",
            t.alias
        ));
        let types: Vec<&str> = t.pins.iter().map(|p| p.algorithm.as_str()).collect();
        let (remote, prompter) = cx.remote_and_prompter();
        remote.key_through_gateway(&t.host, t.port, &types, prompter).map_err(|e| {
            let hint = cx.connect_hint(&e);
            StepError::Remote { error: e, hint }
        })
    }

    /// Compares `server` with `t`'s pins (or asks the person when there are none); the line
    /// that says which.
    fn accept(
        &self,
        cx: &mut Context,
        t: &HostKeyTarget,
        server: &ServerKey,
        site: &str,
    ) -> Result<String, StepError> {
        let pins = &t.pins;
        if !pins.is_empty() {
            let ok =
                pins.iter().any(|p| p.algorithm == server.algorithm && p.fingerprint == server.fingerprint);
            if !ok {
                return Err(StepError::HostKeyMismatch {
                    site: site.to_string(),
                    host: match &t.via {
                        Some(via) => format!("the login node {} (read through {via})", t.host),
                        None if self.targets.iter().any(|o| o.plan.via.as_ref() == Some(&t.alias)) => {
                            format!("the gateway {}", t.host)
                        }
                        None => t.host.clone(),
                    },
                    port: t.port,
                    server: format!("{} {}", server.algorithm, server.fingerprint),
                    pins: pins.iter().map(|p| format!("{} {}", p.algorithm, p.fingerprint)).collect(),
                    source_url: t.source.clone().or_else(|| self.source.clone()),
                });
            }
            return Ok(format!(
                "{}: {} {} matches the fingerprint {} publishes",
                t.alias, server.algorithm, server.fingerprint, site
            ));
        }
        if cx.options.accept_new_host_key {
            return Ok(format!(
                "{}: trusted {} {} on first use (--accept-new-host-key; {site} publishes no fingerprint to compare it with)",
                t.alias, server.algorithm, server.fingerprint
            ));
        }
        cx.reporter.detail(&format!(
            "{} ({}:{}) presents the {} host key {}; {} publishes no fingerprint to compare it with: check it against the site's documentation or support if you can.",
            t.alias, t.host, t.port, server.algorithm, server.fingerprint, site
        ));
        let question = format!("Trust this host key for {}?", t.alias);
        if !cx.prompter.confirm(&question, false, "--accept-new-host-key")? {
            return Err(StepError::HostKeyDeclined { host: t.host.clone() });
        }
        Ok(format!("{}: trusted {} {} on first use", t.alias, server.algorithm, server.fingerprint))
    }
}
