//! The host-key step: before any credential is sent, read each host's key (libssh2 key
//! exchange, no authentication) and compare it with the fingerprints the profile pins. A match,
//! or a key the person trusts on first use, is recorded in hpcinit's known_hosts under the
//! site's alias; a mismatch or a changed key stops the run with nothing sent.

use super::{Applied, Check, Context, StepError, Task};
use crate::local::{atomic, known_hosts};
use crate::plan::ssh_config::{HostBlock, KNOWN_HOSTS_FILE};
use crate::plan::Action;
use crate::remote::host_key::{self, ServerKey};
use std::time::Duration;

/// One host to verify: the `Host` block's alias, host name and port.
struct Target {
    alias: String,
    host: String,
    port: u16,
    /// Whether the profile's pins apply (its login host).
    pinned: bool,
    server: Option<ServerKey>,
}

#[derive(Default)]
pub struct HostKeyTask {
    targets: Option<Vec<Target>>,
}

fn targets(cx: &Context) -> Vec<Target> {
    let blocks: Vec<HostBlock> = cx
        .plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::SshConfig { blocks, .. } => Some(blocks.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let site = cx.profile.name().as_str();
    blocks
        .iter()
        // A host behind a jump host cannot be reached directly; OpenSSH checks it on the way.
        .filter(|b| b.options.iter().all(|(k, _)| k != "ProxyJump"))
        .filter_map(|b| {
            let get = |k: &str| b.options.iter().find(|(o, _)| o == k).map(|(_, v)| v.clone());
            Some(Target {
                alias: b.alias.clone(),
                host: get("HostName")?,
                port: get("Port").and_then(|p| p.parse().ok()).unwrap_or(22),
                pinned: b.alias == site,
                server: None,
            })
        })
        .collect()
}

impl Task for HostKeyTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        let file = cx.home(&format!("~/{KNOWN_HOSTS_FILE}"));
        let known = std::fs::read_to_string(&file).unwrap_or_default();
        if self.targets.is_none() {
            self.targets = Some(targets(cx));
        }
        let mut found = Vec::new();
        let mut needed = None;
        for t in self.targets.as_mut().expect("set above") {
            let recorded: Vec<&str> = known_hosts::keys_for(&known, &t.alias);
            if t.server.is_none() {
                let types: Vec<&str> = if !recorded.is_empty() {
                    recorded.iter().filter_map(|k| k.split_whitespace().next()).collect()
                } else if t.pinned {
                    cx.profile.raw.ssh.host_keys.iter().map(|k| k.algorithm.as_str()).collect()
                } else {
                    Vec::new()
                };
                let key = host_key::read(&t.host, t.port, &types, Duration::from_secs(20)).map_err(|e| {
                    let hint = super::connect_task::connect_hint(cx, &e);
                    StepError::Remote { error: e, hint }
                })?;
                t.server = Some(key);
            }
            let server = t.server.as_ref().expect("read above");
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
        let ssh = &cx.profile.raw.ssh;
        let mut lines = Vec::new();
        for t in self.targets.as_ref().expect("check ran first") {
            if !known_hosts::keys_for(&known, &t.alias).is_empty() {
                continue;
            }
            let server = t.server.as_ref().expect("check read it");
            let pins: Vec<_> = if t.pinned { ssh.host_keys.iter().collect() } else { Vec::new() };
            if !pins.is_empty() {
                let ok = pins.iter().any(|p| {
                    p.algorithm.as_str() == server.algorithm
                        && p.fingerprint.to_string() == server.fingerprint
                });
                if !ok {
                    return Err(StepError::HostKeyMismatch {
                        site: cx.profile.raw.display_name.clone(),
                        host: t.host.clone(),
                        port: t.port,
                        server: format!("{} {}", server.algorithm, server.fingerprint),
                        pins: pins
                            .iter()
                            .map(|p| format!("{} {}", p.algorithm.as_str(), p.fingerprint))
                            .collect(),
                        source_url: ssh.host_keys_source.as_ref().map(|u| u.to_string()),
                    });
                }
                lines.push(format!(
                    "{}: {} {} matches the fingerprint {} publishes",
                    t.alias, server.algorithm, server.fingerprint, cx.profile.raw.display_name
                ));
            } else {
                cx.reporter.detail(&format!(
                    "{} ({}:{}) presents the {} host key {}.\n{} publishes no fingerprint hpcinit could compare it with; check it against the site's documentation or support if you can.",
                    t.alias, t.host, t.port, server.algorithm, server.fingerprint, cx.profile.raw.display_name
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
