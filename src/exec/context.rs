//! What the steps of one run share: the plan, the facts the probe found, the run's options, the
//! prompter and reporter, and the run's one connection to the cluster (made on first use), through
//! which every script goes as one counted round trip. A failed exchange is given the hint that
//! fits the site's sign-in rules here.

use super::error::StepError;
use crate::env::Env;
use crate::exchange::Script;
use crate::exit::Diagnostic;
use crate::local::key::KeyInfo;
use crate::plan::{Plan, PlanError, RemoteFacts};
use crate::profile::raw::RegistrationMode;
use crate::remote::{OpenSsh, Remote, RemoteError, RemoteOutput, Running, Ssh2Session};
use crate::settings::{OnExisting, Transport};
use crate::ui::{Prompter, Reporter};
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

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
    /// What to do with a venv that differs from the plan; `None`: ask (or rebuild hpcinit's own).
    pub on_existing: Option<OnExisting>,
    /// How long to wait for the test job.
    pub job_timeout: Duration,
}

/// Rebuilds the plan from the probe's facts.
pub type Replan<'a> = Box<dyn Fn(Option<&RemoteFacts>) -> Result<Plan, PlanError> + 'a>;

/// What the steps share during one run.
pub struct Context<'a> {
    pub env: &'a Env,
    /// The plan: the steps' only input, rebuilt each time the probe's facts change.
    pub plan: Plan,
    replan: Replan<'a>,
    /// What the last probe found on the cluster.
    pub facts: Option<RemoteFacts>,
    /// Commands run on the cluster so far (each one round trip).
    pub round_trips: usize,
    pub options: &'a Options,
    pub prompter: &'a mut dyn Prompter,
    pub reporter: &'a mut dyn Reporter,
    /// The key in use, once the key step has run.
    pub key: Option<KeyInfo>,
    /// A passphrase typed in this run (for a key just made), kept in memory only.
    pub passphrase: Option<Zeroizing<String>>,
    remote: Option<Box<dyn Remote + 'a>>,
    /// Things left for the person to do.
    pub pending: Vec<String>,
    /// Checks a step left running beside the next ones; [`run`] collects them at its end.
    pub proofs: Vec<Proof>,
    /// An open shared connection is used without first proving it answers: the command that
    /// uses it (`hpcinit sync`'s copy) finds out, bounded, and signs in again if it did not
    /// ([`Remote::is_running`]). Saves a round trip on every sync.
    pub lazy_proof: bool,
    /// The connect step found the shared connection open, or opened it: later steps may start
    /// work on it ([`crate::exec::Task::head_start`]).
    pub open: bool,
}

/// A step's check still running in the background: the step's title, and what its answer
/// being "no" means.
pub struct Proof {
    pub title: String,
    pub query: crate::remote::KeyQuery,
    pub refused: StepError,
}

impl<'a> Context<'a> {
    pub fn new(
        env: &'a Env,
        plan: Plan,
        replan: Replan<'a>,
        options: &'a Options,
        prompter: &'a mut dyn Prompter,
        reporter: &'a mut dyn Reporter,
    ) -> Context<'a> {
        Context {
            env,
            plan,
            replan,
            facts: None,
            round_trips: 0,
            options,
            prompter,
            reporter,
            key: None,
            passphrase: None,
            remote: None,
            pending: Vec::new(),
            proofs: Vec::new(),
            lazy_proof: false,
            open: false,
        }
    }

    /// The same context over `remote` instead of the transport's own client.
    pub fn with_remote(mut self, remote: Box<dyn Remote + 'a>) -> Context<'a> {
        self.remote = Some(remote);
        self
    }

    pub fn home(&self, rel: &str) -> PathBuf {
        self.env.untilde(rel)
    }

    /// The run's connection (not yet opened until the connect step), made on first use.
    pub fn remote(&mut self) -> &mut dyn Remote {
        if self.remote.is_none() {
            let c = &self.plan.connection;
            let alias = c.alias.as_str();
            let remote: Box<dyn Remote + 'a> = match self.options.transport {
                Transport::Ssh => {
                    // Where the home's path is too long for a socket, ssh's socket directory
                    // (made private, checked; the connect step reports a failure).
                    if let Some(dir) = &c.control_dir {
                        let _ = crate::local::control_dir::ensure(std::path::Path::new(dir));
                    }
                    let mut ssh = OpenSsh::new(
                        alias,
                        &c.host,
                        c.port,
                        self.env.ssh_config_override(),
                        &self.env.vars,
                        c.multiplex,
                        true,
                    );
                    if let Some(g) = &c.gateway {
                        ssh = ssh.via(&g.alias, &g.host, g.port);
                    }
                    // Through a gateway, `%C` also hashes the jump host (how depends on the
                    // OpenSSH release): `ssh -O check` finds that socket.
                    let socket = c.control_path.as_deref().filter(|_| c.gateway.is_none()).and_then(|t| {
                        let local = crate::remote::control_socket::local_host()?;
                        crate::remote::control_socket::path_for(t, &local, &c.host, c.port, &self.plan.user)
                    });
                    Box::new(ssh.with_socket(socket))
                }
                Transport::Ssh2 => {
                    let known = self.home(crate::plan::ssh_config::KNOWN_HOSTS_FILE);
                    let mut s = Ssh2Session::new(&c.host, c.port, &self.plan.user, &known, alias);
                    if let Some(g) = &c.gateway {
                        s = s.via(&g.alias, &g.host, g.port, &g.user);
                    }
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

    /// Runs a script on the cluster in a login shell: one round trip, shown with `-v`, each
    /// output line passed to `on_line` as it comes.
    pub fn run_script(
        &mut self,
        script: &Script,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, StepError> {
        self.round_trips += 1;
        self.reporter.trace(&format!("remote: {}", script.purpose));
        let result = self.remote().script(script, on_line);
        result.map_err(|e| {
            let hint = self.connect_hint(&e);
            StepError::Remote { error: e, hint }
        })
    }

    /// Starts a script on a channel of its own, where the transport can run one beside the
    /// run's login shell; `None` where it cannot (the caller then runs it in its turn).
    pub fn start_script(&mut self, script: &Script) -> Option<Running> {
        self.reporter.trace(&format!("remote, started early: {}", script.purpose));
        match self.remote().start(script)? {
            Ok(r) => Some(r),
            Err(e) => {
                self.reporter.trace(&format!("could not start it early ({e}); it runs in its turn"));
                None
            }
        }
    }

    /// Collects a script [`Context::start_script`] started: one round trip, its lines passed
    /// to `on_line` (those printed so far first).
    pub fn finish_script(
        &mut self,
        running: Running,
        purpose: &str,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, StepError> {
        self.round_trips += 1;
        self.reporter.trace(&format!("remote: {purpose} (started early)"));
        running.wait(on_line).map_err(|e| {
            let hint = self.connect_hint(&e);
            StepError::Remote { error: e, hint }
        })
    }

    /// Takes new facts from a probe and rebuilds the plan from them.
    pub fn set_facts(&mut self, newer: RemoteFacts) -> Result<(), StepError> {
        let facts = match &self.facts {
            Some(old) => old.refreshed(newer),
            None => newer,
        };
        self.plan = (self.replan)(Some(&facts)).map_err(StepError::Plan)?;
        self.facts = Some(facts);
        Ok(())
    }

    /// The connection and the prompter together (a connection may need to ask).
    pub fn remote_and_prompter(&mut self) -> (&mut dyn Remote, &mut dyn Prompter) {
        self.remote();
        (self.remote.as_deref_mut().expect("made"), &mut *self.prompter)
    }

    /// What the person can do about a failed sign-in, from the site's rules.
    pub fn connect_hint(&self, e: &RemoteError) -> String {
        let cx = self;
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
                let asks = if g.auth.is_empty() {
                    String::new()
                } else {
                    format!(" and what it asks for: {}", g.auth)
                };
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
            RemoteError::Busy { .. } => format!(
                "the login node kept dropping new connections before anything was sent (many people \
                 signing in at once: sshd's MaxStartups). Wait a minute and run the same command again.{rule}"
            ),
            RemoteError::DuoRefused { words, .. } => {
                let what = if words.starts_with("Login timed out") {
                    "nobody answered the push in time"
                } else if words.starts_with("Login request denied") {
                    "the push was denied on the phone"
                } else if words == crate::remote::PUSH_NOT_APPROVED {
                    "the push was denied on the phone or not answered in time"
                } else {
                    "Duo did not take the passcode"
                };
                format!(
                    "{what}: the second factor, not your password or key. Run the same command again and \
                     approve the push in Duo Mobile when it arrives (Duo waits about a minute), or type a \
                     passcode from Duo Mobile or your hardware token at Duo's prompt instead of an option \
                     number. A push you did not start: deny it and tell {}.",
                    cx.plan.display_name
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
}
