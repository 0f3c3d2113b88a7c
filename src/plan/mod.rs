//! The plan: every step of a bootstrap and what it will change, decided by one pure function
//! from the profile, the person's answers and the facts found on both machines. `hpcinit plan`
//! prints it; the executor will carry it out step by step.

pub mod compare;
pub mod doctor;
pub mod environment;
mod error;
pub mod facts;
pub mod job_script;
pub mod layout;
pub mod modules;
pub mod pins;
pub mod probe;
pub mod python;
pub mod script_text;
pub mod smoke;
pub mod snapshot;
pub mod specifier;
pub mod ssh_config;
pub mod templates;

use crate::answers::Answers;
use crate::local::requirements::Skipped;
use crate::profile::raw::{RegistrationMode, SchedulerKind, VenvRecipe};
use crate::profile::Profile;
pub use error::PlanError;
pub use facts::{LocalFacts, RemoteFacts};
use job_script::{AccountLine, JobScript};
use probe::{ModuleQuery, ProbeRequest};
pub use python::ModuleChoice;
use serde::Serialize;
use ssh_config::{HostBlock, CONTROL_PATH, KNOWN_HOSTS_FILE, MANAGED_FILE};
use templates::RemoteFile;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub site: String,
    pub display_name: String,
    pub organisation: String,
    pub profile_source: String,
    pub user: String,
    pub account: Option<String>,
    pub project: String,
    pub project_dir: String,
    pub python: String,
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
    /// Every profile value the plan relies on that the site's documentation did not confirm.
    pub unverified: Vec<Unverified>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unverified {
    pub field: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub id: &'static str,
    pub title: String,
    /// One sentence: what this step does and why.
    pub summary: String,
    #[serde(flatten)]
    pub action: Action,
}

/// What a step changes, with every path, text and command it will use.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Create (or reuse) an ed25519 key.
    Key { path: String, public_key: String, exists: bool, chosen: bool, passphrase_required: bool },
    /// No key is needed for this site.
    NoKey { reason: String },
    /// Write the managed ssh config file and the one `Include` line.
    SshConfig {
        file: String,
        text: String,
        user_config: String,
        include_line: String,
        blocks: Vec<HostBlock>,
    },
    /// Read the server's host key before any credential is sent and compare it.
    HostKey { host: String, port: u16, pins: Vec<Pin>, source: Option<String>, known_hosts: String },
    /// Open the one authenticated, shared connection.
    Connect { alias: String, command: String, prompts: String, persist: Option<String> },
    /// Put the public key where the site takes it.
    RegisterKey {
        mode: RegistrationMode,
        public_key: String,
        portal_url: Option<String>,
        prerequisite: Option<String>,
        propagation: Option<String>,
        remote_script: Option<String>,
    },
    /// Look at the cluster in one round trip; changes nothing.
    Probe { request: ProbeRequest },
    /// Create the directories and the scratch link, in one remote command.
    RemoteLayout {
        dirs: Vec<RemoteDir>,
        script: String,
        purge: String,
        /// The site's scratch, as found (or as the profile says, before the probe).
        scratch: String,
        /// The absolute log directory job scripts name.
        log_dir: String,
        notes: Vec<String>,
    },
    /// Copy the project into a new immutable snapshot.
    Sync(snapshot::SyncPlan),
    /// Build the venv from module-loaded Python and prove it imports.
    Python {
        version: String,
        version_from: String,
        module: ModuleChoice,
        loads: Vec<String>,
        venv: String,
        requirements: Vec<String>,
        skipped: Vec<Skipped>,
        /// Rebuilt from the project's `hpcinit.lock` (made on another site).
        #[serde(skip_serializing_if = "Option::is_none")]
        from_lock: Option<python::FromLock>,
        /// SHA-256 of everything that decides the environment's contents; its marker holds it.
        inputs_sha: String,
        marker: String,
        script: String,
    },
    /// Write `hpcinit.lock` into the project from the environment just built.
    Lock { path: String, origin: String, exists: bool },
    /// Write the job template, the environment snippet and the dask-jobqueue config.
    Templates { files: Vec<RemoteFile>, submit: String, log_dir: String },
    /// Submit a tiny job from the template and find its line in the log.
    SmokeJob { kind: SchedulerKind, job: String, log_dir: String, submit: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Pin {
    pub algorithm: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemoteDir {
    pub path: String,
    /// `Some(target)` when the path is a link to scratch.
    pub link_to: Option<String>,
    pub note: Option<String>,
}

/// Builds the plan. Pure: no clock, no file system, no network. Before signing in `remote` is
/// `None` and the cluster-side steps show what the profile says; with the probe's facts they
/// hold exact decisions, or the plan fails with what the cluster lacks.
pub fn build(
    profile: &Profile,
    answers: &Answers,
    local: &LocalFacts,
    remote: Option<&RemoteFacts>,
) -> Result<Plan, PlanError> {
    let raw = &profile.raw;
    let site = profile.name().as_str();
    let fill = |t: &str| {
        t.replace("{user}", &answers.user)
            .replace("{account}", answers.account.as_deref().unwrap_or("<account>"))
            .replace("{project}", &answers.project_name)
    };
    let uses_key = raw.key_registration.mode.value != RegistrationMode::NotForLogin;
    let public_key = format!("{}.pub", local.key_path);
    let scratch = fill(raw.storage.scratch.path.value.as_str());
    let snapshots = format!("~/scratch/code-snapshots/{}", answers.project_name);
    let venv = fill(raw.python.venv.location.value.as_str());
    let reproduce = python::reproducing(profile, answers, local)?;
    let wanted = python::Wanted::new(profile, answers.python.as_ref(), local, reproduce.as_ref());
    let module = python::choose(profile, &wanted, remote)?;
    let mut steps = Vec::new();

    steps.push(key_step(profile, local, uses_key, &public_key));
    steps.push(ssh_config_step(profile, answers, local, uses_key));
    steps.push(host_key_step(profile));
    let register = uses_key.then(|| register_step(profile, &public_key));
    if raw.key_registration.required_before_login {
        steps.extend(register.clone());
    }
    steps.push(connect_step(profile));
    if !raw.key_registration.required_before_login {
        steps.extend(register);
    }
    let files = template_paths(answers);
    steps.push(probe_step(profile, &scratch, &venv, &files, &snapshots));
    let layout = layout::step(profile, &scratch, remote)?;
    steps.push(layout.step);
    let py = python::step(profile, &wanted, &module, &venv, local, remote, reproduce.as_ref())?;
    let job = JobParts {
        log_dir: &layout.log_dir,
        snapshots: &snapshots,
        loads: &py.loads,
        activate: &py.activate,
        venv: &venv,
    };
    // The templates name the venv and the snapshots but need neither to exist: written first,
    // while the venv builds on a channel of its own (see `exec::run`).
    steps.push(templates_step(profile, answers, &job, &files, remote));
    steps.push(py.step);
    if reproduce.is_none() && answers.lock != crate::answers::LockUse::Never {
        steps.push(lock_step(profile, answers, local));
    }
    // After the lock: the snapshot holds the lock of the environment its jobs run in, and a
    // re-run finds nothing new to copy.
    let slurm = raw.scheduler.kind == SchedulerKind::Slurm;
    steps.push(snapshot::step(site, &answers.project_name, &local.code, &answers.sync, slurm));
    if answers.check_job {
        steps.push(smoke_step(profile, answers, &job));
    }

    // Every unverified value of the profile, except listed modules the plan does not load.
    let chosen = match &module {
        ModuleChoice::Known { name } => raw.python.modules.known.iter().position(|m| m.as_str() == name),
        _ => None,
    };
    let unverified: Vec<Unverified> = profile
        .unverified_fields()
        .filter(|(f, _)| match f.strip_prefix("python.modules.known[") {
            Some(rest) => chosen.is_some_and(|i| rest == format!("{i}]")),
            None => true,
        })
        .map(|(f, w)| Unverified { field: f.into(), why: w.into() })
        .collect();

    Ok(Plan {
        site: site.to_string(),
        display_name: raw.display_name.clone(),
        organisation: raw.organisation.clone(),
        profile_source: profile.source.to_string(),
        user: answers.user.clone(),
        account: answers.account.clone(),
        project: answers.project_name.clone(),
        project_dir: answers.project_dir.display().to_string(),
        python: wanted.label(),
        steps,
        notes: raw.notes.clone(),
        unverified,
    })
}

impl Plan {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

fn lock_step(profile: &Profile, answers: &Answers, local: &LocalFacts) -> Step {
    let path = answers.project_dir.join(crate::local::lock::FILE).display().to_string();
    let exists = local.lock.is_some();
    Step {
        id: "lock",
        title: "Lock file".into(),
        summary: format!(
            "{} {path} from the environment: Python, modules, recipe and the exact package versions (pip freeze), so that `hpcinit --site OTHER` rebuilds the same environment on another cluster.{}",
            if exists { "Refresh" } else { "Write" },
            if exists { " Unchanged when the environment is." } else { "" }
        ),
        action: Action::Lock { path, origin: profile.name().to_string(), exists },
    }
}

/// The remote files the templates step writes: job script, environment snippet, dask config.
struct TemplatePaths {
    job: String,
    env: String,
    dask: String,
}

fn template_paths(answers: &Answers) -> TemplatePaths {
    TemplatePaths {
        job: format!("~/sbatch/{}.sh", answers.project_name),
        env: format!("~/sbatch/{}-env.sh", answers.project_name),
        dask: "~/.config/dask/jobqueue.yaml".into(),
    }
}

fn probe_step(profile: &Profile, scratch: &str, venv: &str, files: &TemplatePaths, snapshots: &str) -> Step {
    let raw = &profile.raw;
    let st = &raw.storage.scratch;
    let mut paths = vec![
        ("home-scratch".to_string(), "~/scratch".to_string()),
        ("site-scratch".into(), scratch.to_string()),
        ("sbatch".into(), "~/sbatch".into()),
        ("logs".into(), "~/scratch/logs".into()),
        ("snapshots".into(), "~/scratch/code-snapshots".into()),
        ("venv".into(), venv.to_string()),
        ("venv-parent".into(), venv.rsplit_once('/').map(|(p, _)| p).unwrap_or("~").to_string()),
        ("snapshot-latest".into(), format!("{snapshots}/latest")),
    ];
    let mut env = Vec::new();
    if let Some(v) = &st.env {
        paths.push(("env-scratch".into(), format!("${v}")));
        env.push(v.clone());
    }
    let mut file_list = Vec::new();
    for f in [&files.job, &files.env, &files.dask] {
        file_list.push(f.clone());
        file_list.push(templates::new_path(f));
    }
    // The latest snapshot's manifest: equal to the project's, there is nothing to copy.
    file_list.push(format!("{snapshots}/latest/.hpcinit-manifest"));
    let mut commands = vec!["rsync".to_string(), "sha256sum".into()];
    if let Some(q) = raw.storage.quota_command.as_str().split_whitespace().next() {
        commands.push(q.to_string());
    }
    commands.extend(scheduler_commands(raw.scheduler.kind).iter().map(|c| c.to_string()));
    let request = ProbeRequest {
        env,
        paths,
        files: file_list,
        venv_marker: Some(format!("{venv}/.hpcinit-ok")),
        commands,
        modules: ModuleQuery {
            name: python::module_base(profile),
            reset: raw.python.modules.reset.to_string(),
            prerequisites: raw.python.modules.prerequisites.iter().map(|m| m.to_string()).collect(),
        },
    };
    Step {
        id: "probe",
        title: "Look at the cluster".into(),
        summary: format!(
            "One round trip in a login shell, changing nothing: $HOME, scratch, the module system and its Python modules, rsync, {} and the quota command.",
            scheduler_commands(raw.scheduler.kind).join("/")
        ),
        action: Action::Probe { request },
    }
}

/// The commands a scheduler's smoke job uses.
pub fn scheduler_commands(kind: SchedulerKind) -> &'static [&'static str] {
    match kind {
        SchedulerKind::Slurm => &["sbatch", "squeue", "scontrol", "scancel"],
        SchedulerKind::Lsf => &["bsub", "bjobs", "bkill"],
    }
}

fn key_step(profile: &Profile, local: &LocalFacts, uses_key: bool, public_key: &str) -> Step {
    let reg = &profile.raw.key_registration;
    if !uses_key {
        return Step {
            id: "key",
            title: "SSH key".into(),
            summary: format!("Not used for {}: hpcinit creates no key.", profile.raw.display_name),
            action: Action::NoKey { reason: reg.explanation.clone() },
        };
    }
    let summary = if local.key_chosen {
        format!("Use {}, the key you chose with --key; hpcinit does not change it.", local.key_path)
    } else if local.key_exists {
        format!("Reuse {}, the key hpcinit made on this device before (one key per device).", local.key_path)
    } else if reg.passphrase_required {
        format!(
            "Create {} (ed25519, OpenSSH format, 0600) with a passphrase, which {} requires.",
            local.key_path, profile.raw.display_name
        )
    } else {
        format!("Create {} (ed25519, OpenSSH format, 0600), with an optional passphrase.", local.key_path)
    };
    Step {
        id: "key",
        title: "SSH key".into(),
        summary,
        action: Action::Key {
            path: local.key_path.clone(),
            public_key: public_key.to_string(),
            exists: local.key_exists,
            chosen: local.key_chosen,
            passphrase_required: reg.passphrase_required,
        },
    }
}

/// The `Host` blocks for one site: its login alias and, where the site has one, its transfer host.
pub fn host_blocks(profile: &Profile, user: &str, local: &LocalFacts, uses_key: bool) -> Vec<HostBlock> {
    let raw = &profile.raw;
    let ssh = &raw.ssh;
    let site = profile.name().as_str();
    let mut blocks = Vec::new();
    let jump_alias = format!("{site}-jump");
    if let Some(jump) = &ssh.jump_host {
        let mut b =
            HostBlock::new(&jump_alias, format!("{} jump host (hpcinit profile {site})", raw.display_name));
        b.set("HostName", jump.host.as_str()).set("Port", jump.port.to_string()).set("User", user);
        common_options(&mut b, profile, &jump_alias, local, uses_key);
        blocks.push(b);
    }
    let mut hosts =
        vec![(site.to_string(), ssh.host.as_str(), format!("{} (hpcinit profile {site})", raw.display_name))];
    if let Some(t) = &ssh.transfer_host {
        hosts.push((
            format!("{site}-transfer"),
            t.as_str(),
            format!("{} transfer host, for large data", raw.display_name),
        ));
    }
    for (alias, host, comment) in hosts {
        let mut b = HostBlock::new(&alias, comment);
        b.set("HostName", host).set("User", user).set("Port", ssh.port.to_string());
        if ssh.jump_host.is_some() {
            b.set("ProxyJump", jump_alias.clone());
        }
        common_options(&mut b, profile, &alias, local, uses_key);
        blocks.push(b);
    }
    blocks
}

fn common_options(b: &mut HostBlock, profile: &Profile, alias: &str, local: &LocalFacts, uses_key: bool) {
    let ssh = &profile.raw.ssh;
    let home = |rel: &str| format!("{}/{rel}", local.home.trim_end_matches('/'));
    if uses_key {
        let key = match local.key_path.strip_prefix("~/") {
            Some(rel) => home(rel),
            None => local.key_path.clone(),
        };
        b.set("IdentityFile", key).set("IdentitiesOnly", "yes");
    } else {
        // Keys cannot log in here; offering them only costs round trips and, with many keys in
        // an agent, "Too many authentication failures".
        b.set("PubkeyAuthentication", "no").set("PreferredAuthentications", "keyboard-interactive,password");
    }
    // The host key hpcinit verified is stored under the alias, in hpcinit's own file.
    b.set("HostKeyAlias", alias)
        .set("UserKnownHostsFile", home(KNOWN_HOSTS_FILE))
        .set("StrictHostKeyChecking", "yes");
    b.set("ServerAliveInterval", ssh.keepalive.server_alive_interval.to_string())
        .set("ServerAliveCountMax", ssh.keepalive.server_alive_count_max.to_string());
    if ssh.multiplex.enabled {
        b.set("ControlMaster", "auto")
            .set("ControlPath", home(CONTROL_PATH))
            .set("ControlPersist", ssh.multiplex.control_persist.value.clone());
    }
}

fn ssh_config_step(profile: &Profile, answers: &Answers, local: &LocalFacts, uses_key: bool) -> Step {
    let blocks = host_blocks(profile, &answers.user, local, uses_key);
    let text = ssh_config::render(profile.name().as_str(), &blocks);
    let aliases: Vec<&str> = blocks.iter().map(|b| b.alias.as_str()).collect();
    Step {
        id: "ssh-config",
        title: "SSH config".into(),
        summary: format!(
            "Write {MANAGED_FILE} (0600) with Host {}, and add one Include line at the top of ~/.ssh/config; nothing else in it changes.",
            aliases.join(", ")
        ),
        action: Action::SshConfig {
            file: MANAGED_FILE.into(),
            text,
            user_config: "~/.ssh/config".into(),
            include_line: ssh_config::include_line(),
            blocks,
        },
    }
}

fn host_key_step(profile: &Profile) -> Step {
    let ssh = &profile.raw.ssh;
    let pins: Vec<Pin> = ssh
        .host_keys
        .iter()
        .map(|k| Pin { algorithm: k.algorithm.as_str().into(), fingerprint: k.fingerprint.to_string() })
        .collect();
    let summary = if pins.is_empty() {
        format!(
            "{} publishes no host-key fingerprints: hpcinit shows the key's fingerprint and asks you before trusting it (in scripts: --accept-new-host-key).",
            profile.raw.display_name
        )
    } else {
        format!(
            "Read {}'s host key before sending any credential and compare it with the {} published fingerprint{}; a mismatch stops everything.",
            ssh.host,
            pins.len(),
            if pins.len() == 1 { "" } else { "s" }
        )
    };
    Step {
        id: "host-key",
        title: "Host key".into(),
        summary,
        action: Action::HostKey {
            host: ssh.host.to_string(),
            port: ssh.port,
            pins,
            source: ssh.host_keys_source.as_ref().map(|u| u.to_string()),
            known_hosts: format!("~/{KNOWN_HOSTS_FILE}"),
        },
    }
}

fn connect_step(profile: &Profile) -> Step {
    let raw = &profile.raw;
    let site = profile.name().as_str();
    let prompts = profile.auth_summary();
    let persist = raw.ssh.multiplex.enabled.then(|| raw.ssh.multiplex.control_persist.value.clone());
    let summary = match &persist {
        Some(p) => format!(
            "Open one shared connection to {site}: you answer {prompts} once, in ssh's own prompt; every later step rides on it (kept {p} after the last use)."
        ),
        None => format!("Connect to {site}: you answer {prompts} in ssh's own prompt."),
    };
    Step {
        id: "connect",
        title: "Sign in once".into(),
        summary,
        action: Action::Connect { alias: site.into(), command: format!("ssh {site} true"), prompts, persist },
    }
}

fn register_step(profile: &Profile, public_key: &str) -> Step {
    let reg = &profile.raw.key_registration;
    let site = profile.name().as_str();
    let (summary, remote_script) = match reg.mode.value {
        RegistrationMode::Portal => (
            format!(
                "Paste {public_key} at {} (you do this in the browser; hpcinit shows the key){}.",
                reg.portal_url.as_ref().map(|u| u.as_str()).unwrap_or_default(),
                reg.propagation.as_ref().map(|p| format!("; it takes effect in {p}")).unwrap_or_default()
            ),
            None,
        ),
        _ => (
            format!("Append {public_key} to ~/.ssh/authorized_keys on {site} (once; over the shared connection)."),
            Some(
                "umask 077 && mkdir -p \"$HOME\"/.ssh && touch \"$HOME\"/.ssh/authorized_keys && \
                 { grep -qxF \"$KEY\" \"$HOME\"/.ssh/authorized_keys || printf '%s\\n' \"$KEY\" >> \"$HOME\"/.ssh/authorized_keys; }"
                    .to_string(),
            ),
        ),
    };
    Step {
        id: "register-key",
        title: "Register the key".into(),
        summary,
        action: Action::RegisterKey {
            mode: reg.mode.value,
            public_key: public_key.into(),
            portal_url: reg.portal_url.as_ref().map(|u| u.to_string()),
            prerequisite: reg.prerequisite.clone(),
            propagation: reg.propagation.clone(),
            remote_script,
        },
    }
}

struct JobParts<'a> {
    log_dir: &'a str,
    snapshots: &'a str,
    loads: &'a [String],
    activate: &'a str,
    venv: &'a str,
}

fn submit_hint(profile: &Profile, path: &str) -> String {
    let sched = &profile.raw.scheduler;
    if sched.submit_from_scratch {
        format!("cd ~/scratch && {} {path}", sched.submit.value)
    } else {
        format!("{} {path}", sched.submit.value)
    }
}

fn account_line<'a>(profile: &'a Profile, answers: &'a Answers) -> AccountLine<'a> {
    match (&profile.raw.scheduler.account, &answers.account) {
        (Some(a), Some(v)) => AccountLine::Set { flag: &a.flag, value: v },
        (Some(a), None) => AccountLine::Optional {
            flag: &a.flag,
            example: &a.example.value,
            why: "Needed when you belong to more than one allocation",
        },
        (None, _) => AccountLine::None,
    }
}

fn templates_step(
    profile: &Profile,
    answers: &Answers,
    job: &JobParts,
    paths: &TemplatePaths,
    remote: Option<&RemoteFacts>,
) -> Step {
    let raw = &profile.raw;
    let sched = &raw.scheduler;
    let submit = submit_hint(profile, &paths.job);
    let time = match sched.kind {
        SchedulerKind::Slurm => sched.job.time.value.slurm(),
        SchedulerKind::Lsf => sched.job.time.value.lsf(),
    };
    let directives: Vec<String> = sched.job.directives.iter().map(|d| d.to_string()).collect();
    let reset = raw.python.modules.reset.as_str();
    let job_text = JobScript {
        kind: sched.kind,
        site: &raw.display_name,
        job_name: &answers.project_name,
        account: account_line(profile, answers),
        time: time.clone(),
        directives: &directives,
        log_dir: job.log_dir,
        reset,
        modules: job.loads,
        activate: job.activate.to_string(),
        body: job_script::snapshot_body(sched.kind, job.snapshots),
        submit_hint: &submit,
    }
    .render();
    let env_text = templates::env_snippet(
        &raw.display_name,
        &answers.project_name,
        reset,
        job.loads,
        job.activate,
        job.log_dir,
    );
    let mut prologue = vec![reset.to_string()];
    if !job.loads.is_empty() {
        prologue.push(format!("module load {}", job.loads.join(" ")));
    }
    prologue.push(job.activate.to_string());
    prologue.push("export PYTHONUNBUFFERED=1".into());
    let dask_text = templates::Dask {
        kind: sched.kind,
        site: &raw.display_name,
        project: &answers.project_name,
        account: answers.account.as_deref(),
        walltime: match sched.kind {
            SchedulerKind::Slurm => time,
            SchedulerKind::Lsf => sched.job.time.value.lsf(),
        },
        log_dir: job.log_dir,
        directives: &directives,
        prologue,
    }
    .render();
    let files = vec![
        RemoteFile::new(
            paths.job.clone(),
            "job template",
            "0755",
            script_text::stamped(&job_text, 1),
            remote,
        ),
        RemoteFile::new(paths.env.clone(), "environment snippet", "0644", env_text, remote),
        RemoteFile::new(paths.dask.clone(), "dask-jobqueue config", "0644", dask_text, remote),
    ];
    let snapshot_note = match sched.kind {
        SchedulerKind::Slurm => "the code snapshot that was latest when the job was submitted",
        SchedulerKind::Lsf => "the latest code snapshot",
    };
    let venv_note =
        if raw.python.venv.recipe == VenvRecipe::ContainerWrapper { "container environment" } else { "venv" };
    let _ = job.venv;
    Step {
        id: "job-templates",
        title: "Job templates".into(),
        summary: format!(
            "Write {} (logs go to {}, which exists; it loads the modules and the {venv_note} and runs from {snapshot_note}), {} to `source`, and {}; files you edited are kept. {} jobs may run at most {}{}.",
            paths.job,
            job.log_dir,
            paths.env,
            paths.dask,
            raw.display_name,
            sched.max_walltime.human(),
            if profile.unverified("scheduler.max_walltime").is_some() { " (UNVERIFIED)" } else { "" }
        ),
        action: Action::Templates { files, submit, log_dir: job.log_dir.to_string() },
    }
}

fn smoke_step(profile: &Profile, answers: &Answers, job: &JobParts) -> Step {
    let raw = &profile.raw;
    let sched = &raw.scheduler;
    let mut directives: Vec<String> = sched.job.directives.iter().map(|d| d.to_string()).collect();
    directives.extend(sched.job.smoke_test_directives.iter().map(|d| d.to_string()));
    let submit = match sched.kind {
        SchedulerKind::Slurm => "sbatch --parsable".to_string(),
        SchedulerKind::Lsf => "bsub <".to_string(),
    };
    let text = smoke::Smoke {
        kind: sched.kind,
        site: &raw.display_name,
        account: account_line(profile, answers),
        directives,
        log_dir: job.log_dir,
        reset: raw.python.modules.reset.as_str(),
        modules: job.loads,
        activate: job.activate.to_string(),
        venv: job.venv,
        submit_hint: &submit,
    }
    .job_text();
    Step {
        id: "check-job",
        title: "Test job".into(),
        summary: format!(
            "Submit a 5-minute job from the template that imports the environment and writes one line to {}/{}-<job id>.out; wait for it and find the line.",
            job.log_dir,
            smoke::JOB_NAME
        ),
        action: Action::SmokeJob { kind: sched.kind, job: text, log_dir: job.log_dir.to_string(), submit },
    }
}
