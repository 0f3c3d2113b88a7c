//! The executor: carries out a plan's steps in order, each as check → apply → verify. A step
//! whose check passes reports `unchanged`; one whose check still fails after applying has
//! failed. Re-running is how a stopped run resumes. It touches the person's `~/.ssh` and the
//! cluster, always through the plan's exact texts and commands.

mod config_task;
mod connect_task;
mod error;
mod host_key_task;
mod key_task;
mod register_task;

pub use error::StepError;

use crate::env::Env;
use crate::local::key::KeyInfo;
use crate::plan::{Action, Plan, Step};
use crate::profile::Profile;
use crate::remote::{OpenSsh, Remote, Ssh2Session};
use crate::ui::{Prompter, Reporter, Status};
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

/// Which client carries the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// The system's OpenSSH with a shared (ControlMaster) connection.
    Ssh,
    /// One in-process libssh2 session.
    Ssh2,
}

impl Transport {
    /// OpenSSH where it is installed and can multiplex (not native Windows), else libssh2.
    pub fn detect(env: &Env) -> Transport {
        if cfg!(windows) {
            return Transport::Ssh2;
        }
        let found = env
            .var("PATH")
            .unwrap_or("/usr/bin:/bin")
            .split(':')
            .any(|d| std::path::Path::new(d).join("ssh").is_file());
        if found {
            Transport::Ssh
        } else {
            Transport::Ssh2
        }
    }
}

/// How the run behaves where the person could be asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub transport: Transport,
    /// Trust a host key that no profile pins, without asking.
    pub accept_new_host_key: bool,
    /// Create the key without a passphrase, without asking.
    pub no_passphrase: bool,
    /// Read the new key's passphrase from this file's first line.
    pub passphrase_file: Option<PathBuf>,
    /// How long to wait for a key registered in a web portal to work.
    pub wait_for_key: Duration,
    /// How often to try it meanwhile.
    pub poll: Duration,
}

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
}

/// One step's behaviour.
pub trait Task {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError>;
    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError>;
}

/// What the steps share during one run.
pub struct Context<'a> {
    pub env: &'a Env,
    pub profile: &'a Profile,
    pub plan: &'a Plan,
    pub options: &'a Options,
    pub prompter: &'a mut dyn Prompter,
    pub reporter: &'a mut dyn Reporter,
    /// The key in use, once the key step has run.
    pub key: Option<KeyInfo>,
    /// A passphrase typed in this run (for a key just made), kept in memory only.
    pub passphrase: Option<Zeroizing<String>>,
    remote: Option<Box<dyn Remote>>,
    /// Things left for the person to do.
    pub pending: Vec<String>,
}

impl<'a> Context<'a> {
    pub fn new(
        env: &'a Env,
        profile: &'a Profile,
        plan: &'a Plan,
        options: &'a Options,
        prompter: &'a mut dyn Prompter,
        reporter: &'a mut dyn Reporter,
    ) -> Context<'a> {
        Context {
            env,
            profile,
            plan,
            options,
            prompter,
            reporter,
            key: None,
            passphrase: None,
            remote: None,
            pending: Vec::new(),
        }
    }

    pub fn home(&self, rel: &str) -> PathBuf {
        self.env.home.join(rel.trim_start_matches("~/"))
    }

    /// The run's connection (not yet opened until the connect step), made on first use.
    pub fn remote(&mut self) -> &mut dyn Remote {
        if self.remote.is_none() {
            let ssh = &self.profile.raw.ssh;
            let alias = self.profile.name().as_str();
            let remote: Box<dyn Remote> = match self.options.transport {
                Transport::Ssh => Box::new(OpenSsh::new(
                    alias,
                    ssh.host.as_str(),
                    ssh.port,
                    self.env.ssh_config_override(),
                    &self.env.vars,
                    ssh.multiplex.enabled,
                    true,
                )),
                Transport::Ssh2 => {
                    let known = std::fs::read_to_string(self.home(crate::plan::ssh_config::KNOWN_HOSTS_FILE))
                        .unwrap_or_default();
                    let expected = crate::local::known_hosts::keys_for(&known, alias)
                        .into_iter()
                        .map(String::from)
                        .collect();
                    let mut s = Ssh2Session::new(ssh.host.as_str(), ssh.port, &self.plan.user, expected);
                    if let Some(k) = &self.key {
                        s = s.with_key(&k.path, k.encrypted, self.passphrase.clone());
                    }
                    Box::new(s)
                }
            };
            self.remote = Some(remote);
        }
        self.remote.as_deref_mut().expect("just made")
    }

    /// The connection and the prompter together (a connection may need to ask).
    pub fn remote_and_prompter(&mut self) -> (&mut dyn Remote, &mut dyn Prompter) {
        self.remote();
        (self.remote.as_deref_mut().expect("made"), &mut *self.prompter)
    }
}

/// The steps this version carries out; the rest of the plan is shown but not yet acted on.
pub fn is_built(step: &Step) -> bool {
    task_for(step).is_some()
}

fn task_for(step: &Step) -> Option<Box<dyn Task>> {
    Some(match &step.action {
        Action::Key { .. } | Action::NoKey { .. } => Box::new(key_task::KeyTask::new(step)),
        Action::SshConfig { .. } => Box::new(config_task::ConfigTask::new(step)),
        Action::HostKey { .. } => Box::new(host_key_task::HostKeyTask::default()),
        Action::Connect { .. } => Box::new(connect_task::ConnectTask::default()),
        Action::RegisterKey { .. } => Box::new(register_task::RegisterTask::new(step)),
        _ => return None,
    })
}

/// Runs every built step in order; stops at the first failure.
pub fn run(cx: &mut Context, steps: &[&Step]) -> Result<(), crate::error::Error> {
    let total = steps.len();
    for (i, step) in steps.iter().enumerate() {
        let Some(mut task) = task_for(step) else { continue };
        cx.reporter.begin(i + 1, total, &step.title);
        let result = run_one(task.as_mut(), cx, step);
        match result {
            Ok((status, line)) => cx.reporter.end(status, &line),
            Err(e) => {
                cx.reporter.end(Status::Failed, &e.to_string());
                return Err(crate::error::Error::Step { title: step.title.clone(), error: Box::new(e) });
            }
        }
    }
    Ok(())
}

fn run_one(task: &mut dyn Task, cx: &mut Context, step: &Step) -> Result<(Status, String), StepError> {
    if let Check::Done(found) = task.check(cx)? {
        return Ok((Status::Unchanged, found));
    }
    match task.apply(cx)? {
        Applied::Pending(left) => {
            cx.pending.push(left.clone());
            Ok((Status::Pending, left))
        }
        Applied::Changed(what) => match task.check(cx)? {
            Check::Done(_) => Ok((Status::Done, what)),
            Check::Needed(why) => Err(StepError::NotVerified { step: step.title.clone(), why }),
        },
    }
}
