//! The executor: carries out a plan's steps in order, each as check → apply → verify. A step
//! whose check passes reports `unchanged`; one whose check still fails after applying has
//! failed. Re-running is how a stopped run resumes. It touches the person's `~/.ssh` and the
//! cluster, always through the plan's exact texts and commands.

mod check_job_task;
mod connect_task;
mod error;
mod host_key_task;
mod job_templates_task;
mod key_task;
pub mod lock_task;
mod probe_task;
mod python_task;
mod register_key_task;
mod remote_layout_task;
mod rsync_run;
mod sftp_fill;
mod ssh_config_task;
mod sync_finish;
mod sync_patch;
pub mod sync_task;
pub mod sync_verify;
mod windows_ssh_task;

pub use crate::settings::{OnExisting, Transport};
pub use connect_task::connect_hint;
pub use error::StepError;

use crate::env::Env;
use crate::local::key::KeyInfo;
use crate::plan::{Action, Plan, PlanError, RemoteFacts, Step, StepId};
use crate::remote::{OpenSsh, Remote, RemoteOutput, Running, Script, Ssh2Session};
use crate::ui::{Prompter, Reporter, Status};
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

/// The step a run stopped at, and why.
#[derive(Debug, thiserror::Error)]
#[error("{title}: {error}")]
pub struct StepFailed {
    pub title: String,
    pub error: Box<StepError>,
}

/// Rebuilds the plan from the probe's facts.
pub type Replan<'a> = Box<dyn Fn(Option<&RemoteFacts>) -> Result<Plan, PlanError> + 'a>;

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
                    Box::new(ssh)
                }
                Transport::Ssh2 => {
                    let known = self.home(crate::plan::ssh_config::KNOWN_HOSTS_FILE);
                    let mut s = Ssh2Session::new(&c.host, c.port, &self.plan.user, &known, alias);
                    if let Some(g) = &c.gateway {
                        s = s.via(g.clone());
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
            let hint = connect_task::connect_hint(self, &e);
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
            let hint = connect_task::connect_hint(self, &e);
            StepError::Remote { error: e, hint }
        })
    }

    /// Runs one command on the cluster (in the login shell's `-c`): one round trip.
    pub fn run_command(&mut self, purpose: &str, command: &str) -> Result<RemoteOutput, StepError> {
        self.round_trips += 1;
        self.reporter.trace(&format!("remote: {purpose}"));
        let result = self.remote().run(command);
        result.map_err(|e| {
            let hint = connect_task::connect_hint(self, &e);
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
}

/// The task that carries out `step`, made from the step's own plan.
fn task_for(step: &Step) -> Box<dyn Task> {
    match &step.action {
        Action::Key(p) => Box::new(key_task::KeyTask::new(p)),
        Action::NoKey(p) => Box::new(key_task::KeyTask::none(p)),
        Action::SshConfig(p) => Box::new(ssh_config_task::SshConfigTask::new(p)),
        Action::HostKey(p) => Box::new(host_key_task::HostKeyTask::new(p)),
        Action::Connect(p) => Box::new(connect_task::ConnectTask::new(p)),
        Action::RegisterKey(p) => Box::new(register_key_task::RegisterKeyTask::new(p)),
        Action::Probe(p) => Box::new(probe_task::ProbeTask::new(p)),
        Action::RemoteLayout(p) => Box::new(remote_layout_task::RemoteLayoutTask::new(p)),
        Action::JobTemplates(p) => Box::new(job_templates_task::JobTemplatesTask::new(p)),
        Action::Python(p) => Box::new(python_task::PythonTask::new(p)),
        Action::Lock(p) => Box::new(lock_task::LockTask::new(p)),
        Action::Sync(p) => Box::new(sync_task::SyncTask::new(p)),
        Action::CheckJob(p) => Box::new(check_job_task::CheckJobTask::new(p)),
        Action::WindowsSsh(p) => Box::new(windows_ssh_task::WindowsSshTask::new(p)),
    }
}

/// Runs the steps among `ids` that the plan has, in the plan's order, each in its current form (the plan
/// is rebuilt when the probe reports); stops at the first failure. After each step, the later
/// ones may start their slow part early ([`Task::head_start`]): the venv build on a channel of
/// its own while the login shell writes the templates, the code copy while the venv builds.
/// Reports stay in the plan's order; work started early and not collected is stopped at a
/// failure.
pub fn run(cx: &mut Context, ids: &[StepId]) -> Result<(), StepFailed> {
    let ids: Vec<StepId> = cx.plan.steps.iter().map(|s| s.id).filter(|id| ids.contains(id)).collect();
    let total = ids.len();
    let mut started: Vec<(StepId, Box<dyn Task>)> = Vec::new();
    start_later(cx, &ids, &mut started);
    for (i, id) in ids.iter().enumerate() {
        let Some(step) = cx.plan.step(*id).cloned() else { continue };
        let early = started.iter().position(|(s, _)| s == id).map(|at| started.remove(at).1);
        let mut task = early.unwrap_or_else(|| task_for(&step));
        cx.reporter.begin(i + 1, total, &step.title);
        let before = cx.round_trips;
        let result = run_one(task.as_mut(), cx, &step);
        let trips = cx.round_trips - before;
        if trips > 0 {
            cx.reporter
                .trace(&format!("{trips} round trip{} in this step", if trips == 1 { "" } else { "s" }));
        }
        match result {
            Ok((status, line)) => cx.reporter.end(status, &line),
            Err(e) => {
                cx.reporter.end(Status::Failed, &e.to_string());
                return Err(StepFailed { title: step.title.clone(), error: Box::new(e) });
            }
        }
        start_later(cx, &ids[i + 1..], &mut started);
    }
    collect_proofs(cx)
}

/// Waits for the checks steps left running; the first that fails fails the run, in its step's
/// name.
fn collect_proofs(cx: &mut Context) -> Result<(), StepFailed> {
    for Proof { title, query, refused } in std::mem::take(&mut cx.proofs) {
        let error = match query.answer() {
            Ok(true) => {
                cx.reporter
                    .trace(&format!("{title}: the server accepts the key (checked beside the later steps)"));
                continue;
            }
            Ok(false) => refused,
            Err(e) => {
                let hint = connect_task::connect_hint(cx, &e);
                StepError::Remote { error: e, hint }
            }
        };
        return Err(StepFailed { title, error: Box::new(error) });
    }
    Ok(())
}

/// Lets each of `later` start its slow part, or take its next part if it started already (a
/// listing made while signing in, then the copy once the probe reported).
fn start_later(cx: &mut Context, later: &[StepId], started: &mut Vec<(StepId, Box<dyn Task>)>) {
    for id in later {
        if let Some((_, task)) = started.iter_mut().find(|(s, _)| s == id) {
            task.head_start(cx);
            continue;
        }
        let Some(step) = cx.plan.step(*id) else { continue };
        let mut task = task_for(step);
        if task.head_start(cx) {
            started.push((*id, task));
        }
    }
}

/// The ids of the plan's steps, in order (`ssh_only`: the SSH ones).
pub fn step_ids(plan: &Plan, ssh_only: bool) -> Vec<StepId> {
    plan.steps.iter().map(|s| s.id).filter(|id| !ssh_only || id.is_ssh()).collect()
}

/// Step `id`'s check alone, changing nothing (`doctor`); `None` when the plan has no such step.
pub fn check_only(cx: &mut Context, id: StepId) -> Option<Result<Check, StepError>> {
    let mut task = task_for(cx.plan.step(id)?);
    Some(task.check(cx))
}

/// Step `id` carried out as the run would (check → apply → verify), for steps that only read
/// or sign in (`connect`, `probe`); `None` when the plan has no such step.
pub fn ensure(cx: &mut Context, id: StepId) -> Option<Result<(Status, String), StepError>> {
    let step = cx.plan.step(id)?.clone();
    let mut task = task_for(&step);
    Some(run_one(task.as_mut(), cx, &step))
}

fn run_one(task: &mut dyn Task, cx: &mut Context, step: &Step) -> Result<(Status, String), StepError> {
    if let Check::Done(found) = task.check(cx)? {
        return Ok((Status::Unchanged, found));
    }
    match task.apply(cx)? {
        Applied::Unchanged(found) => Ok((Status::Unchanged, found)),
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
