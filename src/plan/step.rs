//! A plan's steps as types: one [`StepId`] per step, one [`Action`] variant per step (each
//! holding its own struct), so the executor builds each task from its own data and never looks
//! a step up by a string. Every text a step sends to the cluster or writes on this machine is a
//! field here: what `hpcinit plan` shows is what runs.

use super::module_choice::{FromLock, ModuleChoice};
use super::probe::ProbeRequest;
use super::snapshot::SyncPlan;
use super::ssh_config::HostBlock;
use super::templates::RemoteFile;
use crate::exchange::Script;
use crate::local::requirements::Skipped;
use crate::local::wsl::WindowsHome;
use crate::profile::raw::{RegistrationMode, SchedulerKind};
use serde::Serialize;

/// Which step: the same name in the plan, its action, its task and its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    Key,
    SshConfig,
    HostKey,
    WindowsSsh,
    RegisterKey,
    Connect,
    Probe,
    RemoteLayout,
    JobTemplates,
    Python,
    Lock,
    Sync,
    CheckJob,
}

impl StepId {
    /// The name shown in `hpcinit plan --json` and `-v` traces.
    pub fn as_str(self) -> &'static str {
        match self {
            StepId::Key => "key",
            StepId::SshConfig => "ssh-config",
            StepId::HostKey => "host-key",
            StepId::WindowsSsh => "windows-ssh",
            StepId::RegisterKey => "register-key",
            StepId::Connect => "connect",
            StepId::Probe => "probe",
            StepId::RemoteLayout => "remote-layout",
            StepId::JobTemplates => "job-templates",
            StepId::Python => "python",
            StepId::Lock => "lock",
            StepId::Sync => "sync",
            StepId::CheckJob => "check-job",
        }
    }

    /// The steps that set up SSH, on this machine and for signing in.
    pub fn is_ssh(self) -> bool {
        matches!(
            self,
            StepId::Key
                | StepId::SshConfig
                | StepId::HostKey
                | StepId::WindowsSsh
                | StepId::RegisterKey
                | StepId::Connect
        )
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Always `action.id()`.
    pub id: StepId,
    pub title: String,
    /// One sentence: what this step does and why.
    pub summary: String,
    #[serde(flatten)]
    pub action: Action,
}

impl Step {
    pub fn new(title: impl Into<String>, summary: impl Into<String>, action: Action) -> Step {
        Step { id: action.id(), title: title.into(), summary: summary.into(), action }
    }
}

/// What a step changes, with every path, text and command it will use.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
#[allow(clippy::large_enum_variant)] // a plan holds a dozen, built a few times a run
pub enum Action {
    /// Create (or reuse) an ed25519 key.
    Key(KeyPlan),
    /// No key is needed for this site.
    NoKey(NoKeyPlan),
    /// Write the managed ssh config file and the one `Include` line.
    SshConfig(SshConfigPlan),
    /// Read each host's key before any credential is sent and compare it.
    HostKey(HostKeyPlan),
    /// Put the public key where the site takes it.
    RegisterKey(RegisterKeyPlan),
    /// Open the one authenticated, shared connection.
    Connect(ConnectPlan),
    /// Look at the cluster in one round trip; changes nothing.
    Probe(ProbePlan),
    /// Create the directories and the scratch link, in one remote command.
    RemoteLayout(RemoteLayoutPlan),
    /// Write the job template, the environment snippet and the dask-jobqueue config.
    JobTemplates(JobTemplatesPlan),
    /// Build the venv from module-loaded Python and prove it imports.
    Python(PythonPlan),
    /// Write `hpcinit.lock` into the project from the environment just built.
    Lock(LockPlan),
    /// Copy the project into a new immutable snapshot.
    Sync(SyncPlan),
    /// Submit a tiny job from the template and find its line in the log.
    CheckJob(CheckJobPlan),
    /// Inside WSL: this site's Host blocks, host keys and key on the Windows side too.
    WindowsSsh(WindowsSshPlan),
}

impl Action {
    pub fn id(&self) -> StepId {
        match self {
            Action::Key(_) | Action::NoKey(_) => StepId::Key,
            Action::SshConfig(_) => StepId::SshConfig,
            Action::HostKey(_) => StepId::HostKey,
            Action::RegisterKey(_) => StepId::RegisterKey,
            Action::Connect(_) => StepId::Connect,
            Action::Probe(_) => StepId::Probe,
            Action::RemoteLayout(_) => StepId::RemoteLayout,
            Action::JobTemplates(_) => StepId::JobTemplates,
            Action::Python(_) => StepId::Python,
            Action::Lock(_) => StepId::Lock,
            Action::Sync(_) => StepId::Sync,
            Action::CheckJob(_) => StepId::CheckJob,
            Action::WindowsSsh(_) => StepId::WindowsSsh,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyPlan {
    pub path: String,
    pub public_key: String,
    pub exists: bool,
    /// The person named it with `--key`: hpcinit never changes it.
    pub chosen: bool,
    pub passphrase_required: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoKeyPlan {
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SshConfigPlan {
    /// The site whose section of `file` this is.
    pub site: String,
    pub file: String,
    /// This site's section of `file`.
    pub text: String,
    pub user_config: String,
    pub include_line: String,
    pub blocks: Vec<HostBlock>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostKeyPlan {
    /// The site's login host (the one the pins are for).
    pub host: String,
    pub port: u16,
    pub pins: Vec<Pin>,
    pub source: Option<String>,
    pub known_hosts: String,
    /// Every host whose key is read and recorded, under its `HostKeyAlias`.
    pub targets: Vec<HostKeyTarget>,
}

/// One host to verify: the `Host` block's alias, host name and port, and its pins.
#[derive(Debug, Clone, Serialize)]
pub struct HostKeyTarget {
    pub alias: String,
    pub host: String,
    pub port: u16,
    /// Empty: nothing published to compare with (trust on first use, asked).
    pub pins: Vec<Pin>,
    /// The gateway's alias when the host is reached through one: its key is read over the
    /// gateway's connection (`ssh -W`), after the gateway's own key was checked and recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Where the pins were published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Read if it answers, else left for a run from where it is needed (a gateway used only
    /// from outside, seen from inside).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pin {
    pub algorithm: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegisterKeyPlan {
    pub mode: RegistrationMode,
    pub public_key: String,
    pub portal_url: Option<String>,
    pub prerequisite: Option<String>,
    pub propagation: Option<String>,
    /// The key must be registered before the first sign-in (a portal-only site).
    pub required_before_login: bool,
    /// `authorized-keys`: the script that reports whether the key (appended: its line) is
    /// installed and the home directory's mode line ([`super::register_key::KeyReport`]).
    pub check_script: Option<Script>,
    /// `authorized-keys`: the script that installs the key (appended: its line).
    pub remote_script: Option<Script>,
    /// `authorized-keys`: removes group/other write from the home (asked first; sshd ignores
    /// keys in a home others can write).
    pub fix_home_script: Option<Script>,
    /// The gateway's alias when the key goes into its `authorized_keys` too (first, with the
    /// same scripts, over the gateway's connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectPlan {
    pub alias: String,
    /// The system ssh's command that opens the shared connection; `None` with hpcinit's own
    /// client (`--transport ssh2`, the default on Windows).
    pub command: Option<String>,
    /// What the person is asked, in words.
    pub prompts: String,
    /// How long the shared connection stays open; `None` without multiplexing.
    pub persist: Option<String>,
}

impl ProbePlan {
    /// The probe as sent: `list_modules` false skips the module listing (a re-probe).
    pub fn script(&self) -> Script {
        Script::new("probe", self.request.body(true))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbePlan {
    pub request: ProbeRequest,
    /// The scheduler's commands, looked for so that a missing one is reported.
    pub scheduler_commands: Vec<String>,
    /// The quota command's program, when the site has one.
    pub quota_command: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemoteLayoutPlan {
    pub dirs: Vec<RemoteDir>,
    /// Sent followed by the probe's look ([`super::Plan::then_probe`]).
    pub script: Script,
    pub purge: String,
    /// The site's scratch, as found (or as the profile says, before the probe).
    pub scratch: String,
    /// The absolute log directory job scripts name.
    pub log_dir: String,
    pub notes: Vec<String>,
    /// The course's shared data, linked into the layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course_data: Option<crate::answers::CourseData>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemoteDir {
    pub path: String,
    /// `Some(target)` when the path is a link to scratch.
    pub link_to: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobTemplatesPlan {
    pub files: Vec<RemoteFile>,
    /// Writes the files not yet as planned (temporary file, mode, rename); sent followed by the
    /// probe's look.
    pub script: Script,
    pub submit: String,
    pub log_dir: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PythonPlan {
    pub version: String,
    pub version_from: String,
    pub module: ModuleChoice,
    pub loads: Vec<String>,
    pub venv: String,
    pub requirements: Vec<String>,
    pub skipped: Vec<Skipped>,
    /// Rebuilt from the project's `hpcinit.lock` (made on another site).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_lock: Option<FromLock>,
    /// SHA-256 of everything that decides the environment's contents; its marker holds it.
    pub inputs_sha: String,
    pub marker: String,
    /// Builds the environment (appended: the consent to replace one hpcinit did not make);
    /// sent followed by the probe's look.
    pub script: Script,
    /// The read-only script that reads the environment there (for the lock file).
    pub read_script: Script,
}

#[derive(Debug, Clone, Serialize)]
pub struct LockPlan {
    pub path: String,
    pub origin: String,
    pub exists: bool,
    /// The environment it describes: the Python step's venv, modules and inputs.
    pub venv: String,
    pub loads: Vec<String>,
    pub inputs_sha: String,
    /// The project's requirement lines, recorded for an environment built from a lock.
    pub requirements: Vec<String>,
    /// The read-only script that reads the environment when hpcinit has no record of it.
    pub read_script: Script,
    /// What the lock records of this site.
    pub site: crate::local::lock::LockSite,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckJobPlan {
    pub kind: SchedulerKind,
    /// The job's text; `{token}` is replaced by a fresh token each run.
    pub job: String,
    /// Submits the job and waits for it (appended: the token, the timeout in seconds).
    pub script: Script,
    pub log_dir: String,
    pub submit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowsSshPlan {
    pub site: String,
    pub home: WindowsHome,
    /// This site's section of the Windows side's `.ssh/config.d/hpcinit`.
    pub text: String,
    pub include_line: String,
    /// The aliases whose verified host keys are copied to the Windows side's known_hosts file.
    pub aliases: Vec<String>,
    /// The private key to copy (as this machine shows it), and where it goes (`.ssh/NAME`, under
    /// the Windows home; its `.pub` beside it). `None` where the site takes no key.
    pub key: Option<KeyCopy>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyCopy {
    pub from: String,
    pub to: String,
}

/// How to reach the site's login host, and what to tell the person when signing in fails.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    /// The `Host` alias hpcinit writes (the site's name).
    pub alias: String,
    pub host: String,
    pub port: u16,
    /// One shared (ControlMaster) connection carries the run.
    pub multiplex: bool,
    /// Where the shared connection's socket lives when the home's path is too long for one
    /// (see `ssh_config::control_path`): a private directory hpcinit makes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_dir: Option<String>,
    /// The `ControlPath` the `Host` entry names (`…/cm-%C`), where the run multiplexes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_path: Option<String>,
    /// What the site says about networks it can be reached from.
    pub network: Option<String>,
    /// What the site asks for at sign-in, in its words.
    pub auth: String,
    pub key_registration: RegistrationMode,
    pub portal_url: Option<String>,
    /// The gateway this run goes through, when it goes through one from here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Hop>,
}

/// A host the run passes through on the way to the login host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// Its `Host` alias (`<site>-jump`): its key is recorded under it.
    pub alias: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// What it asks for at sign-in, in the site's words (empty when the profile does not say).
    pub auth: String,
}
