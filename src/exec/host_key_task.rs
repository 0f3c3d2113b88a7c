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
            if server.is_none() {
                let types: Vec<&str> = if !recorded.is_empty() {
                    recorded.iter().filter_map(|k| k.split_whitespace().next()).collect()
                } else {
                    t.pins.iter().map(|p| p.algorithm.as_str()).collect()
                };
                let key = host_key::read(&t.host, t.port, &types, Duration::from_secs(20)).map_err(|e| {
                    let hint = super::connect_task::connect_hint(cx, &e);
                    StepError::Remote { error: e, hint }
                })?;
                *server = Some(key);
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
        for Target { plan: t, server } in &self.targets {
            if !known_hosts::keys_for(&known, &t.alias).is_empty() {
                continue;
            }
            // The check reads every host's key before apply runs.
            let Some(server) = server else { continue };
            let pins = &t.pins;
            if !pins.is_empty() {
                let ok = pins
                    .iter()
                    .any(|p| p.algorithm == server.algorithm && p.fingerprint == server.fingerprint);
                if !ok {
                    return Err(StepError::HostKeyMismatch {
                        site,
                        host: t.host.clone(),
                        port: t.port,
                        server: format!("{} {}", server.algorithm, server.fingerprint),
                        pins: pins.iter().map(|p| format!("{} {}", p.algorithm, p.fingerprint)).collect(),
                        source_url: self.source.clone(),
                    });
                }
                lines.push(format!(
                    "{}: {} {} matches the fingerprint {} publishes",
                    t.alias, server.algorithm, server.fingerprint, site
                ));
            } else {
                cx.reporter.detail(&format!(
                    "{} ({}:{}) presents the {} host key {}.\n{} publishes no fingerprint hpcinit could compare it with; check it against the site's documentation or support if you can.",
                    t.alias, t.host, t.port, server.algorithm, server.fingerprint, site
                ));
                let trusted = cx.options.accept_new_host_key
                    || cx.prompter.confirm(
                        &format!("Trust this host key for {}?", t.alias),
                        false,
                        "--accept-new-host-key",
                    )?;
                if !trusted {
                    return Err(StepError::HostKeyDeclined { host: t.host.clone() });
                }
                lines.push(format!(
                    "{}: trusted {} {} on first use",
                    t.alias, server.algorithm, server.fingerprint
                ));
            }
            known = known_hosts::with_key(&known, &t.alias, &server.openssh);
        }
        let dir = file.parent().expect("known_hosts file has a directory").to_path_buf();
        atomic::ensure_dir(&dir, 0o700).map_err(|source| StepError::Write { path: dir, source })?;
        atomic::write(&file, known.as_bytes(), 0o600)
            .map_err(|source| StepError::Write { path: file.clone(), source })?;
        lines.push(format!("recorded in ~/{KNOWN_HOSTS_FILE}"));
        Ok(Applied::Changed(lines.join("; ")))
    }
}
