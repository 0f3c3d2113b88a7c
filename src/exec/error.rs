//! Why a step failed, with what the person can do about it.

use crate::local::include::IncludeError;
use crate::local::key::KeyError;
use crate::remote::RemoteError;
use crate::ui::PromptError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error("{} {why}; hpcinit leaves it as it is", path.display())]
    ReadOnly { path: PathBuf, why: String, line: String },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot add the Include line to {}", path.display())]
    Include {
        path: PathBuf,
        #[source]
        source: IncludeError,
    },
    #[error("ssh reads `{option} {actual}` for {alias}, not hpcinit's `{expected}`")]
    Overridden { alias: String, option: String, expected: String, actual: String, config: PathBuf },
    #[error("`ssh -G {alias}` rejects the config: {message}")]
    ConfigRejected { alias: String, message: String },
    #[error(
        "SECURITY: {host} port {port} presents the host key {server}, which is not one of the fingerprints {site} publishes; nothing was sent to it"
    )]
    HostKeyMismatch {
        site: String,
        host: String,
        port: u16,
        server: String,
        pins: Vec<String>,
        source_url: Option<String>,
    },
    #[error("SECURITY: {host}'s host key changed: it now presents {server}, but hpcinit recorded {recorded} for {alias}")]
    HostKeyChanged { alias: String, host: String, server: String, recorded: String, file: PathBuf },
    #[error("the host key of {host} was not trusted")]
    HostKeyDeclined { host: String },
    #[error("{error}")]
    Remote { error: RemoteError, hint: String },
    #[error("{what} failed on the cluster (exit {status}): {stderr}")]
    RemoteCommand { what: String, status: i32, stderr: String },
    #[error("{site} requires a passphrase on the key, and none was given")]
    PassphraseRequired { site: String },
    #[error("the key is not registered with {site} yet")]
    KeyNotRegistered { site: String, hint: String },
    #[error("the key is in ~/.ssh/authorized_keys on {site}, but key login still fails")]
    KeyLoginFails { site: String, hint: String },
    #[error(transparent)]
    Plan(crate::plan::PlanError),
    /// The cluster refused or failed (exit 1).
    #[error("{what} failed on the cluster: {detail}")]
    Cluster { what: String, detail: String, hint: String },
    /// Something on this machine stops the step: the project cannot be read, a local program
    /// is missing (exit 2: the person fixes it here).
    #[error("{what}: {detail}")]
    Local { what: String, detail: String, hint: String },
    /// The run cannot go on as asked without another choice from the person (a flag names it;
    /// exit 2).
    #[error("{what}: {detail}")]
    NeedsChoice { what: String, detail: String, hint: String },
    #[error("{step} did not hold after it was applied: {why}")]
    NotVerified { step: String, why: String },
}

impl crate::exit::Diagnostic for StepError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            StepError::Key(e) => return e.hint(),
            StepError::Prompt(e) => return e.hint(),
            StepError::Write { .. } => "check the permissions of that directory".into(),
            StepError::ReadOnly { path, line, .. } => format!(
                "add this line at the top of {} yourself, then run hpcinit again: {line}   (or make the file writable: chmod u+w {})",
                path.display(),
                path.display()
            ),
            StepError::Read { .. } => "check the permissions of that file".into(),
            StepError::Include { .. } => {
                "save ~/.ssh/config as UTF-8 without a byte-order mark (OpenSSH cannot read it as it is), then run hpcinit again".into()
            }
            StepError::Overridden { config, option, .. } => format!(
                "{} sets {option} before hpcinit's Include line takes effect; move the Include line to the very top of {}",
                config.display(),
                config.display()
            ),
            StepError::ConfigRejected { .. } => "fix the line ssh names in ~/.ssh/config, then run hpcinit again".into(),
            StepError::HostKeyMismatch { pins, source_url, .. } => format!(
                "the published fingerprints are {}{}. Do not connect: you may be on a network that intercepts SSH. Try another network; if the site announced new keys, update the profile",
                pins.join(", "),
                source_url.as_ref().map(|u| format!(" ({u})")).unwrap_or_default()
            ),
            StepError::HostKeyChanged { alias, file, .. } => format!(
                "if the site announced a new host key, remove the line for {alias} from {} and run hpcinit again; otherwise do not connect",
                file.display()
            ),
            StepError::HostKeyDeclined { .. } => {
                "compare the fingerprint with the one the site publishes (or ask its support), then run again and answer yes, or pass --accept-new-host-key".into()
            }
            StepError::Remote { hint, .. } => hint.clone(),
            StepError::RemoteCommand { .. } => "run hpcinit again with -v; the cluster's message is above".into(),
            StepError::PassphraseRequired { .. } => {
                "run it in a terminal to type one, or pass --key-passphrase-file FILE".into()
            }
            StepError::KeyNotRegistered { hint, .. } | StepError::KeyLoginFails { hint, .. } => hint.clone(),
            StepError::Plan(e) => return e.hint(),
            StepError::Cluster { hint, .. }
            | StepError::Local { hint, .. }
            | StepError::NeedsChoice { hint, .. } => hint.clone(),
            StepError::NotVerified { .. } => "run hpcinit again; if it persists, run with -v and report it".into(),
        })
    }

    fn exit(&self) -> crate::exit::Exit {
        match self {
            StepError::Prompt(PromptError::NoTerminal { .. }) | StepError::PassphraseRequired { .. } => {
                crate::exit::Exit::Usage
            }
            StepError::Prompt(PromptError::Interrupted) => crate::exit::Exit::Interrupted,
            StepError::Plan(e) => e.exit(),
            StepError::Local { .. } | StepError::NeedsChoice { .. } => crate::exit::Exit::Usage,
            _ => crate::exit::Exit::Failed,
        }
    }
}
