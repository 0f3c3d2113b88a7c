//! The profile file format: one YAML document per site, read with unknown fields rejected.
//!
//! Every fact carries the URL it was read from (`source`), and anything that could not be
//! confirmed is listed under `unverified` with the reason, so that hpcinit can say so wherever
//! it uses that value. `docs/adding-a-site.md` documents each field.

use super::scalar::{
    Command, Directive, Fingerprint, HostName, Memory, ModuleName, NodePattern, PathTemplate, Pattern,
    PythonVersion, SiteName, Url, Walltime,
};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// The name people type: `hpcinit --site saga`. Also the ssh `Host` alias.
    pub name: Spanned<SiteName>,
    /// What the site calls the machine: "Saga".
    pub display_name: String,
    /// Who runs it: "Sigma2 / NRIS (Norway)".
    pub organisation: String,
    /// Other names that resolve to this profile (`sigma2` → `saga`).
    #[serde(default)]
    pub aliases: Vec<Spanned<SiteName>>,
    /// `site` for a real cluster, `test` for the local test cluster.
    #[serde(default)]
    pub kind: ProfileKind,
    /// The site's main user documentation.
    pub docs: Url,
    pub ssh: Ssh,
    pub auth: Auth,
    pub key_registration: KeyRegistration,
    pub scheduler: Scheduler,
    pub storage: Storage,
    pub python: Python,
    /// What an interactive job (`hpcinit jupyter`) asks for by default. Without it, hpcinit's
    /// own modest defaults apply, and the plan says so.
    #[serde(default)]
    pub interactive: Option<Interactive>,
    /// The compute nodes as ssh sees them (`hpcinit code`, `hpcinit shell`): their names, whether
    /// they take the person's key through the login node, the login nodes' rule on VS Code.
    #[serde(default)]
    pub nodes: Option<Nodes>,
    /// Things a newcomer should know, shown in the plan.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Values that could not be confirmed from the site's documentation.
    #[serde(default)]
    pub unverified: Vec<Unverified>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    #[default]
    Site,
    Test,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    /// The login host written as `HostName`.
    pub host: HostName,
    /// Other login names of the same system (round-robin members, aliases).
    #[serde(default)]
    pub other_login_hosts: Vec<HostName>,
    /// Where the site wants bulk transfers to go, when it is not the login host.
    #[serde(default)]
    pub transfer_host: Option<HostName>,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub jump_host: Option<JumpHost>,
    /// Where the login host can be reached from (campus, VPN): shown when a connection fails.
    #[serde(default)]
    pub network: Option<String>,
    /// Host-key fingerprints the site publishes.
    #[serde(default)]
    pub host_keys: Vec<HostKey>,
    #[serde(default)]
    pub host_keys_source: Option<Url>,
    pub multiplex: Multiplex,
    #[serde(default)]
    pub keepalive: Keepalive,
    pub source: Url,
}

fn default_port() -> u16 {
    22
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JumpHost {
    pub host: HostName,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The login name on the gateway, when it is not the one on the cluster.
    #[serde(default)]
    pub user: Option<String>,
    /// Host-key fingerprints the site publishes for the gateway (checked before any credential
    /// reaches it).
    #[serde(default)]
    pub host_keys: Vec<HostKey>,
    #[serde(default)]
    pub host_keys_source: Option<Url>,
    /// What the gateway asks for (its own first and second factor), as for the login host;
    /// shown when signing in there fails.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// `always`, or `outside`: only where the login host cannot be reached directly (off the
    /// site's network); inside, ssh goes straight to it.
    #[serde(default)]
    pub when: JumpWhen,
    /// `authorized-keys`: hpcinit adds the key to `~/.ssh/authorized_keys` on the gateway too
    /// (first, over the gateway's connection). `none` (the default): the gateway takes no keys,
    /// or the site registers them another way.
    #[serde(default)]
    pub key_registration: JumpKeys,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JumpKeys {
    #[default]
    None,
    AuthorizedKeys,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JumpWhen {
    #[default]
    Always,
    Outside,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostKey {
    pub algorithm: KeyAlgorithm,
    pub fingerprint: Fingerprint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "ssh-ed25519")]
    Ed25519,
    #[serde(rename = "ecdsa-sha2-nistp256")]
    EcdsaP256,
    #[serde(rename = "ssh-rsa")]
    Rsa,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ssh-ed25519",
            KeyAlgorithm::EcdsaP256 => "ecdsa-sha2-nistp256",
            KeyAlgorithm::Rsa => "ssh-rsa",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Multiplex {
    /// Write `ControlMaster auto` for this site.
    pub enabled: bool,
    /// `ControlPersist` value (`10m`, `4h`).
    #[serde(default = "default_persist")]
    pub control_persist: Spanned<String>,
    /// What the site itself recommends, if anything, and where.
    #[serde(default)]
    pub site_advice: Option<String>,
    #[serde(default)]
    pub source: Option<Url>,
}

fn default_persist() -> Spanned<String> {
    Spanned {
        value: "10m".into(),
        referenced: serde_saphyr::Location::UNKNOWN,
        defined: serde_saphyr::Location::UNKNOWN,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keepalive {
    #[serde(default = "default_alive_interval")]
    pub server_alive_interval: u32,
    #[serde(default = "default_alive_count")]
    pub server_alive_count_max: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            server_alive_interval: default_alive_interval(),
            server_alive_count_max: default_alive_count(),
        }
    }
}

fn default_alive_interval() -> u32 {
    60
}
fn default_alive_count() -> u32 {
    5
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// What a person may give first: any one of these.
    pub first_factor: Vec<FirstFactor>,
    /// What is asked after the first factor.
    pub second_factor: SecondFactor,
    /// The same in words, as the site explains it.
    pub description: String,
    pub source: Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FirstFactor {
    Password,
    /// An SSH key (its passphrase, if any, is typed locally).
    Key,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecondFactor {
    None,
    /// A password after the key (DTU off campus).
    Password,
    /// A one-time code from an authenticator app.
    Totp,
    /// Duo push, code or hardware token.
    Duo,
}

impl FirstFactor {
    pub fn human(self) -> &'static str {
        match self {
            FirstFactor::Password => "password",
            FirstFactor::Key => "SSH key",
        }
    }
}

impl SecondFactor {
    pub fn human(self) -> Option<&'static str> {
        match self {
            SecondFactor::None => None,
            SecondFactor::Password => Some("password"),
            SecondFactor::Totp => Some("one-time code"),
            SecondFactor::Duo => Some("Duo"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRegistration {
    pub mode: Spanned<RegistrationMode>,
    /// The web page where the public key is pasted (mode `portal`).
    #[serde(default)]
    pub portal_url: Option<Url>,
    /// Password login is disabled: the key must be registered before the first connection.
    #[serde(default)]
    pub required_before_login: bool,
    /// The site requires the private key to have a passphrase.
    #[serde(default)]
    pub passphrase_required: bool,
    /// What must be done first (an agreement, being on the campus network).
    #[serde(default)]
    pub prerequisite: Option<String>,
    /// How long a registration takes to work, where the site says.
    #[serde(default)]
    pub propagation: Option<String>,
    /// Why, in the site's terms.
    pub explanation: String,
    pub source: Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistrationMode {
    /// Append to `~/.ssh/authorized_keys` on the cluster.
    AuthorizedKeys,
    /// Paste into a web portal (e.g. CCDB).
    Portal,
    /// Keys do not replace the password and second factor: hpcinit does not register one.
    NotForLogin,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheduler {
    pub kind: SchedulerKind,
    /// How a job script is submitted: `sbatch` or `bsub <`.
    pub submit: Spanned<String>,
    #[serde(default)]
    pub account: Option<Account>,
    pub max_walltime: Walltime,
    pub job: JobDefaults,
    /// Jobs must be submitted from scratch (home is read-only on compute nodes).
    #[serde(default)]
    pub submit_from_scratch: bool,
    pub source: Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    Slurm,
    Lsf,
}

impl SchedulerKind {
    pub fn human(self) -> &'static str {
        match self {
            SchedulerKind::Slurm => "Slurm",
            SchedulerKind::Lsf => "LSF",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Every job must name an account.
    pub required: bool,
    /// The directive that names it, e.g. `--account`.
    pub flag: String,
    /// The form an account name takes (a regular expression matched in full).
    pub pattern: Pattern,
    pub example: Spanned<String>,
    /// Where a person finds theirs.
    pub how_to_find: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDefaults {
    /// Walltime written into a new job template.
    pub time: Spanned<Walltime>,
    /// More directives for every template, as they follow `#SBATCH `/`#BSUB `.
    #[serde(default)]
    pub directives: Vec<Directive>,
    /// Directives that make a quick test job start soon (a debug QOS or queue).
    #[serde(default)]
    pub smoke_test_directives: Vec<Directive>,
}

/// The site's defaults for an interactive job: a notebook server on a compute node. Each can
/// be overridden on the command line (`--time`, `--mem`, `--cpus`, `--gpus`, `--partition`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interactive {
    /// Walltime: the allocation ends then, whatever runs in it.
    pub time: Spanned<Walltime>,
    /// Memory for the whole job (`--mem`, LSF `rusage[mem=…]`).
    pub memory: Spanned<Memory>,
    /// CPU cores (`--cpus-per-task`, LSF `-n`).
    #[serde(default = "one")]
    pub cpus: u32,
    /// GPUs (`--gpus`, LSF `-gpu "num=N"`); 0 for none.
    #[serde(default)]
    pub gpus: u32,
    /// The partition (Slurm) or queue (LSF) for interactive work, where the site names one.
    #[serde(default)]
    pub partition: Option<String>,
    /// More directives for an interactive job, as they follow `#SBATCH `/`#BSUB ` (a QOS).
    #[serde(default)]
    pub directives: Vec<Directive>,
    /// The site's own web route to notebooks (Open OnDemand, JupyterHub), where it has one.
    #[serde(default)]
    pub web_portal: Option<Url>,
    pub source: Url,
}

fn one() -> u32 {
    1
}

/// A site's compute nodes as ssh reaches them: through the login node (`ProxyJump`), while a
/// job of the person's runs there.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nodes {
    /// ssh `Host` patterns matching the node names the scheduler reports (`nc?????`), written
    /// into one `Host` block with `ProxyJump` to the login alias.
    pub patterns: Spanned<Vec<NodePattern>>,
    /// Whether a node admits the person's own key arriving through the login node (the shared
    /// home's `authorized_keys`, with a running job there: pam_slurm_adopt). `false` where only
    /// the cluster's own host-based login reaches nodes: then `hpcinit shell` goes through the
    /// scheduler (`srun --overlap`) and VS Code cannot reach a node.
    pub accept_keys: bool,
    /// VS Code Remote-SSH on the login nodes: `allowed`, `discouraged` or `banned`.
    pub login_vscode: LoginVscode,
    /// The site's Open OnDemand (or other web) route to an editor on a compute node.
    #[serde(default)]
    pub ondemand: Option<Url>,
    pub source: Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoginVscode {
    Allowed,
    Discouraged,
    Banned,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub home: Area,
    pub scratch: Scratch,
    #[serde(default)]
    pub project: Option<Area>,
    /// Shows usage against quota.
    pub quota_command: Command,
    pub source: Url,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Where it is, as the site writes it (shown only).
    pub path: String,
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub quota: Option<String>,
    #[serde(default)]
    pub backed_up: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scratch {
    /// The directory hpcinit links `~/scratch` to.
    pub path: Spanned<PathTemplate>,
    /// The environment variable that holds it, where there is one.
    #[serde(default)]
    pub env: Option<String>,
    /// A link the site itself creates to scratch, if any (`~/scratch` on Narval).
    #[serde(default)]
    pub site_link: Option<PathTemplate>,
    /// What gets deleted, and when.
    pub purge: String,
    #[serde(default)]
    pub quota: Option<String>,
    pub backed_up: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Python {
    /// Used when neither `--python` nor the project asks for a version.
    pub default_version: Spanned<PythonVersion>,
    pub modules: Modules,
    pub venv: Venv,
    pub source: Url,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modules {
    pub system: ModuleSystem,
    /// Clears loaded modules before loading: `module purge`, `module --quiet reset`.
    pub reset: Command,
    /// Modules loaded before the Python module (`StdEnv/2023`, `NRIS/CPU`).
    #[serde(default)]
    pub prerequisites: Vec<ModuleName>,
    /// How Python modules are named, e.g. `python/<version>`.
    pub naming: String,
    /// Python module names known to exist, newest last.
    #[serde(default)]
    pub known: Vec<ModuleName>,
    /// Lists the Python modules on the cluster.
    pub list_command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModuleSystem {
    Lmod,
    EnvironmentModules,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Venv {
    pub recipe: VenvRecipe,
    #[serde(default)]
    pub system_site_packages: bool,
    /// Install only from the site's wheelhouse (`pip install --no-index`).
    #[serde(default)]
    pub pip_no_index: bool,
    /// Where the environment goes.
    pub location: Spanned<PathTemplate>,
    /// Where it must not go, and why (scratch is always refused).
    #[serde(default)]
    pub avoid: Vec<Avoid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VenvRecipe {
    /// `python -m venv`.
    Venv,
    /// `virtualenv --no-download` (Alliance).
    Virtualenv,
    /// `pip-containerize` from `hpc-container-wrapper` (Olivia).
    ContainerWrapper,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Avoid {
    pub path: PathTemplate,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unverified {
    /// The dotted path of the field (`scheduler.max_walltime`, `python.modules.known[1]`).
    pub field: Spanned<String>,
    pub why: String,
}
