//! The command line. Every answer the wizard would ask for has a flag here.

use crate::settings::{OnExisting, Transport};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  hpcinit --site saga --user alice --account nn1234k
      Set up Saga for this project (prints the plan first).
  hpcinit plan --site narval --user alice
      Show every step for Narval without touching anything.
  hpcinit sync --site saga --user alice
      Copy this project's code into a new snapshot on Saga.
  hpcinit profiles list
      The sites hpcinit knows, with how you sign in to each.
  hpcinit profiles validate my-cluster.yaml
      Check a profile you wrote.";

#[derive(Debug, Parser)]
#[command(
    name = "hpcinit",
    version,
    about = "From a fresh laptop to a working setup on a university HPC cluster in one command",
    long_about = "hpcinit sets up SSH (key, config, verified host key, one sign-in per run), the \
                  directories on the cluster, a Python environment built from the site's modules, \
                  a snapshot of your code and job-script templates, following each site's rules.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub setup: SetupArgs,

    #[command(flatten)]
    pub run: RunArgs,

    /// Read the answers from this YAML file (keys = the long flags' names, e.g. `site: saga`,
    /// `project-dir: .`); flags given here win over it.
    #[arg(long, value_name = "FILE.yaml", global = true)]
    pub answers: Option<PathBuf>,

    /// Also read this profile file (repeatable); it overrides a profile of the same name.
    #[arg(long = "profile", value_name = "FILE", global = true)]
    pub profiles: Vec<PathBuf>,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more detail.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

/// The answers a bootstrap needs.
#[derive(Debug, Clone, Args, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct SetupArgs {
    // Every field is optional, so that values given before a subcommand can fill the gaps of
    // those given after it: `hpcinit --site saga plan --user alice`.
    /// The cluster: a profile name or alias (`hpcinit profiles list`).
    #[arg(long, value_name = "NAME")]
    pub site: Option<String>,

    /// Your username on the cluster.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// The allocation jobs are charged to (Saga: nn1234k; Alliance: def-someprof).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,

    /// The project to set up [default: the git work tree of the current directory, else the
    /// current directory].
    #[arg(long, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,

    /// The project's name on the cluster [default: the project directory's name].
    #[arg(long, value_name = "NAME")]
    pub project_name: Option<String>,

    /// Set up the account without a project: a general Python environment (~/venvs/general)
    /// and job template, no code copied [default: when the current directory is no project:
    /// not a git work tree, no requirements.txt or pyproject.toml].
    #[arg(long, conflicts_with_all = ["project_dir", "project_name"])]
    pub no_project: bool,

    /// Python version, e.g. 3.11 [default: the site profile's].
    #[arg(long, value_name = "VERSION")]
    pub python: Option<String>,

    /// Use this existing private key instead of ~/.ssh/id_ed25519_hpcinit.
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,

    /// End the run with a test job from the template (as `hpcinit check-job` does).
    #[arg(long)]
    pub check_job: bool,

    /// Leave these out of code snapshots too (.gitignore syntax; repeatable). A
    /// `.hpcinitignore` file in the project does the same for good.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,

    /// Keep only the newest N of hpcinit's snapshots of this project (never the latest, never
    /// one a queued job uses) [default: keep all].
    #[arg(long, value_name = "N")]
    pub keep: Option<u32>,

    /// Limit the copy's bandwidth: KiB/s, or with a unit, as rsync takes it (`500`, `2M`).
    #[arg(long, value_name = "RATE")]
    pub bwlimit: Option<String>,

    /// Where hpcinit.lock pins a version this site cannot provide, install the closest newer
    /// one (each is reported) instead of stopping.
    #[arg(long)]
    pub allow_upgrades: bool,

    /// Inside WSL: also write this site's Host block (without Control* lines) and a copy of the
    /// key, readable by you alone, into your Windows .ssh, so Windows' OpenSSH and VS Code
    /// reach the cluster too [the wizard asks].
    #[arg(long, conflicts_with = "no_windows_ssh")]
    pub windows_ssh: bool,

    /// Inside WSL: leave the Windows side alone, without asking.
    #[arg(long)]
    pub no_windows_ssh: bool,

    /// Build from the requirements even though the project has an hpcinit.lock made on another
    /// site, and leave the lock as it is.
    #[arg(long)]
    pub no_lock: bool,

    /// A course file: the course's sites, accounts, Python and job settings (a teaching
    /// assistant's `hpcinit-course.yaml`) [default: hpcinit-course.yaml in the project's
    /// folder, when there is one].
    #[arg(long, value_name = "FILE", conflicts_with = "no_course")]
    pub course: Option<PathBuf>,

    /// Set up without the project's course file.
    #[arg(long)]
    pub no_course: bool,

    /// Rebuild from hpcinit.lock on its own site too (`hpcinit reproduce`); the subcommand's, not
    /// an answer.
    #[arg(skip)]
    #[serde(skip)]
    pub reproduce: bool,
}

/// How a run behaves where it could ask the person something.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Go ahead without asking to confirm the plan (needed without a terminal).
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// Which SSH client carries the run [default: ssh where installed, else ssh2].
    #[arg(long, global = true, value_enum, value_name = "CLIENT")]
    pub transport: Option<Transport>,

    /// Trust a host key on first use without asking, for sites that publish no fingerprints
    /// (pinned fingerprints are always enforced).
    #[arg(long, global = true)]
    pub accept_new_host_key: bool,

    /// Create the new key without a passphrase, without asking.
    #[arg(long, global = true, conflicts_with = "key_passphrase_file")]
    pub no_passphrase: bool,

    /// Read the new key's passphrase from the first line of FILE instead of asking.
    #[arg(long, global = true, value_name = "FILE")]
    pub key_passphrase_file: Option<PathBuf>,

    /// How long to wait for a key added in a site's web portal to work, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 900)]
    pub wait_for_key: u64,

    /// How often to try the key meanwhile, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 15, hide = true)]
    pub key_poll: u64,

    /// What to do with a venv at the planned place that differs from the plan (one hpcinit
    /// built from other requirements is rebuilt and swapped in unless you say `keep` or `fail`)
    /// [default: ask in a terminal].
    #[arg(long, global = true, value_enum, value_name = "WHAT")]
    pub on_existing: Option<OnExisting>,

    /// Set up SSH only (key, config, host key, sign-in, key registration); leave the cluster
    /// side (directories, Python environment, job templates) for a later run.
    #[arg(long, global = true)]
    pub ssh_only: bool,

    /// How long to wait for the test job, in seconds (it is cancelled after that).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 600)]
    pub job_timeout: u64,

    /// When OpenSSH rejects your ~/.ssh/config for a keyword it does not know (`UseKeychain`
    /// from a macOS guide, a keyword newer than your ssh), add `IgnoreUnknown KEYWORD` as its
    /// first line (a copy of the file is kept) instead of stopping.
    #[arg(long, global = true)]
    pub fix_config: bool,
}

impl SetupArgs {
    /// These answers, with gaps filled from `outer` (the ones given before the subcommand, or an
    /// answers file): an answer left out (none, `false`, an empty list) takes `outer`'s. Field by
    /// field through serde, so a new answer needs no line here.
    pub fn or(&self, outer: &SetupArgs) -> SetupArgs {
        let value = |a: &SetupArgs| serde_json::to_value(a).expect("answers serialize");
        let (mut inner, outer_value) = (value(self), value(outer));
        if let (Some(inner), Some(outer)) = (inner.as_object_mut(), outer_value.as_object()) {
            for (key, theirs) in outer {
                let unset = match inner.get(key) {
                    None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => true,
                    Some(serde_json::Value::Array(a)) => a.is_empty(),
                    Some(_) => false,
                };
                if unset {
                    inner.insert(key.clone(), theirs.clone());
                }
            }
        }
        let merged: SetupArgs = serde_json::from_value(inner).expect("answers deserialize");
        SetupArgs { reproduce: self.reproduce || outer.reproduce, ..merged }
    }

    /// The answers' names as an answers file spells them (the long flags' names).
    pub fn keys() -> Vec<String> {
        match serde_json::to_value(SetupArgs::default()) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every step of a bootstrap and what it would change; touches nothing.
    Plan {
        #[command(flatten)]
        setup: SetupArgs,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Every step in full: config blocks, scripts, commands (also with -v).
        #[arg(long)]
        details: bool,
    },
    /// Copy the project's code into a new immutable snapshot on the cluster
    /// (~/scratch/code-snapshots/<project>/<UTC time>-<git sha>/) and point `latest` at it;
    /// unchanged files are hard links to the previous snapshot.
    Sync {
        #[command(flatten)]
        setup: SetupArgs,
        /// List what would change; copy nothing.
        #[arg(long)]
        dry_run: bool,
        /// After the sync, compare every file latest holds with its manifest and the project
        /// (a sync itself trusts rsync's own checksums).
        #[arg(long, conflicts_with = "dry_run")]
        verify: bool,
    },
    /// Submit a tiny job from the template, wait for it, and find its line in the log: proof
    /// that the environment, the log directory and the scheduler work together.
    CheckJob {
        #[command(flatten)]
        setup: SetupArgs,
    },
    /// Check everything the bootstrap set up, changing nothing: the key, the ssh config, the host
    /// key, signing in, the directories, the environment's imports, the job templates, the code
    /// snapshot, the scheduler and the quota. Exit 1 if a check fails.
    Doctor {
        #[command(flatten)]
        setup: SetupArgs,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
        /// Print the checks and the scripts they send, without signing in or checking anything.
        #[arg(long)]
        plan: bool,
        /// With --plan: every script in full.
        #[arg(long)]
        details: bool,
    },
    /// Remove what hpcinit added for a site on this machine: its Host block, the Include line
    /// once no site is left, and the host keys it recorded. With --remote, also the project's
    /// environment, code snapshots and job templates on the cluster (after a confirmation).
    Uninstall {
        #[command(flatten)]
        setup: SetupArgs,
        /// Also remove this project's environment, code snapshots and job templates on the cluster.
        #[arg(long)]
        remote: bool,
        /// Say what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: the script sent to the cluster, in full.
        #[arg(long)]
        details: bool,
    },
    /// Rebuild the environment pinned in the project's hpcinit.lock on a site (any site, the
    /// lock's own included): the same Python and package versions, each checked before
    /// installing; a version the site lacks is reported and stops the run unless
    /// --allow-upgrades. Otherwise the same steps as `hpcinit --site S`.
    Reproduce {
        #[command(flatten)]
        setup: SetupArgs,
    },
    /// Write the project's hpcinit.lock from the environment on a site as it is now (Python,
    /// modules, recipe, pip freeze) [default site: the lock's own].
    Lock {
        #[command(flatten)]
        setup: SetupArgs,
    },
    /// What differs between the project's environments on two sites (Python, modules,
    /// package versions), or with one --site, between hpcinit.lock and that site's.
    Diff {
        /// A site (twice: two sites).
        #[arg(long = "site", value_name = "NAME", required = true, num_args = 1, action = clap::ArgAction::Append)]
        sites: Vec<String>,
        /// The project [default: the git work tree of the current directory].
        #[arg(long, value_name = "DIR")]
        project_dir: Option<PathBuf>,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 when the environments differ (as `git diff --exit-code`).
        #[arg(long)]
        exit_code: bool,
    },
    /// Jupyter Lab on a compute node: submits a job with the site's interactive defaults that
    /// runs it from the project's venv (Jupyter Lab is added where missing) in the latest code
    /// snapshot, waits for it (showing the scheduler's state, reason and start estimate),
    /// forwards a port of this machine to it over the shared connection and opens the browser.
    /// Ctrl-C ends it and cancels the job, unless --persist.
    #[command(after_help = JUPYTER_EXAMPLES)]
    Jupyter {
        #[command(flatten)]
        setup: SetupArgs,
        #[command(flatten)]
        resources: InteractiveArgs,
        /// Start in the project's working directory on scratch (~/scratch/<project>, made if
        /// missing) instead of the latest code snapshot.
        #[arg(long)]
        here: bool,
        /// Print the URL; do not open a browser.
        #[arg(long)]
        no_browser: bool,
        /// Leave the job running when hpcinit ends (until its time limit); recorded on this
        /// machine for --list, --job and --stop.
        #[arg(long)]
        persist: bool,
        /// This machine's port for the forward [default: the first free one from 8888].
        #[arg(long, value_name = "PORT")]
        port: Option<u16>,
        /// Give up on a job that has not started after this long (it is cancelled).
        #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
        wait_timeout: u64,
        /// Reconnect to this running job of yours instead of submitting one.
        #[arg(long, value_name = "ID", conflicts_with_all = ["list", "stop", "persist"])]
        job: Option<String>,
        /// The servers hpcinit started that are recorded on this machine, with their state.
        #[arg(long, conflicts_with_all = ["stop", "persist"])]
        list: bool,
        /// Cancel a server's job (the only one recorded for the site when no ID is given).
        #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "")]
        stop: Option<String>,
        /// Print the job and the exchanges; submit nothing.
        #[arg(long, conflicts_with_all = ["list", "stop"])]
        dry_run: bool,
    },
    /// VS Code on a compute node: submits a job that holds a node (the site's interactive
    /// defaults), waits for it, records the node's host key, and opens VS Code Remote-SSH there
    /// through the login node's shared connection, in the latest code snapshot or PATH. Closing
    /// the window (or Ctrl-C) cancels the job, unless --persist. Without VS Code's `code`
    /// command, prints the host to pick in VS Code and the ssh command.
    #[command(after_help = CODE_EXAMPLES)]
    Code {
        #[command(flatten)]
        setup: SetupArgs,
        #[command(flatten)]
        resources: InteractiveArgs,
        #[command(flatten)]
        session: NodeSessionArgs,
        /// Let hpcinit set VS Code's remote.SSH.serverInstallPath (the node's VS Code server on
        /// scratch) and remote.SSH.connectTimeout without asking.
        #[arg(long, conflicts_with = "no_vscode_settings")]
        vscode_settings: bool,
        /// Leave VS Code's settings alone.
        #[arg(long)]
        no_vscode_settings: bool,
        /// The folder to open on the cluster [default: the session's working directory].
        #[arg(value_name = "PATH")]
        path: Option<String>,
    },
    /// A shell on a compute node: submits a job that holds a node (or joins --job ID), then
    /// opens a shell there with the project's modules and venv loaded, in the latest code
    /// snapshot. `exit` ends it and the job, unless --persist. After `--`, a command to run
    /// there instead of a shell.
    #[command(after_help = SHELL_EXAMPLES)]
    Shell {
        #[command(flatten)]
        setup: SetupArgs,
        #[command(flatten)]
        resources: InteractiveArgs,
        #[command(flatten)]
        session: NodeSessionArgs,
        /// A command to run on the node instead of an interactive shell.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Check a course file (`hpcinit-course.yaml`) before a class uses it, and write a handout.
    Course {
        #[command(subcommand)]
        command: CourseCommand,
    },
    /// List, show and check site profiles.
    Profiles {
        #[command(subcommand)]
        command: ProfilesCommand,
    },
    /// Print a shell completion script: `hpcinit completions bash > ~/.local/share/bash-completion/completions/hpcinit`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `hpcinit man > hpcinit.1; man ./hpcinit.1`.
    #[command(hide = true)]
    Man,
    /// Exit 0 when HOST:PORT accepts a TCP connection within 1.5 s, else 1. hpcinit's ssh config
    /// asks this (`Match … !exec`) to send a site through its gateway only from outside.
    #[command(hide = true)]
    Reach { host: String, port: u16 },
    /// rsync's `-e` for a code snapshot: runs the ssh command that follows and passes on its
    /// output from the line `@@hpcinit:rsync` on, dropping what the cluster's login files print.
    #[command(hide = true)]
    Rsh {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
}

/// What an interactive job asks for, where the site's defaults (its profile's `interactive`
/// section) will not do.
#[derive(Debug, Clone, Args, Default)]
pub struct InteractiveArgs {
    /// Walltime: D-HH:MM:SS, HH:MM:SS or minutes [default: the site's].
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// Memory for the job, e.g. 4G or 2000M [default: the site's].
    #[arg(long, value_name = "MEM")]
    pub mem: Option<String>,
    /// CPU cores [default: the site's].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus: Option<u32>,
    /// GPUs [default: the site's, usually none].
    #[arg(long, value_name = "N")]
    pub gpus: Option<u32>,
    /// Partition (Slurm) or queue (LSF) [default: the site's].
    #[arg(long, value_name = "NAME")]
    pub partition: Option<String>,
}

/// How a session on a compute node runs (`hpcinit code`, `hpcinit shell`).
#[derive(Debug, Clone, Args, Default)]
pub struct NodeSessionArgs {
    /// Start in the project's working directory on scratch (~/scratch/<project>, made if
    /// missing) instead of the latest code snapshot.
    #[arg(long)]
    pub here: bool,
    /// Leave the job running when hpcinit ends (until its time limit); recorded on this
    /// machine for --list, --job and --stop.
    #[arg(long)]
    pub persist: bool,
    /// Give up on a job that has not started after this long (it is cancelled).
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub wait_timeout: u64,
    /// Join this running job of yours instead of submitting one.
    #[arg(long, value_name = "ID", conflicts_with_all = ["list", "stop", "persist"])]
    pub job: Option<String>,
    /// The sessions hpcinit started that are recorded on this machine, with their state.
    #[arg(long, conflicts_with_all = ["stop", "persist"])]
    pub list: bool,
    /// Cancel a session's job (the only one recorded for the site when no ID is given).
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "")]
    pub stop: Option<String>,
    /// Print the job, the route to the node and the exchanges; submit nothing.
    #[arg(long, conflicts_with_all = ["list", "stop"])]
    pub dry_run: bool,
}

const CODE_EXAMPLES: &str = "\
Examples:
  hpcinit code --site narval
      VS Code on a Narval compute node, in this project's latest snapshot.
  hpcinit code --site narval --time 3:00:00 --mem 8G ~/projects/def-me/data
      Longer and bigger than the site's defaults, opened in another folder.
  hpcinit code --site narval --persist
      Keep the node after VS Code closes (--list shows it, --stop ends it).";

const SHELL_EXAMPLES: &str = "\
Examples:
  hpcinit shell --site saga
      A shell on a Saga compute node, modules and venv loaded; `exit` ends the job.
  hpcinit shell --site saga -- python -c 'import torch; print(torch.cuda.is_available())'
      One command there instead of a shell.
  hpcinit shell --site saga --job 1234567
      A shell in a job of yours that runs already.";

const JUPYTER_EXAMPLES: &str = "\
Examples:
  hpcinit jupyter --site saga
      Jupyter Lab on a Saga compute node, in this project's latest snapshot.
  hpcinit jupyter --site narval --time 3:00:00 --mem 8G --cpus 4
      Longer and bigger than the site's interactive defaults.
  hpcinit jupyter --site saga --persist --no-browser
      Keep it running after hpcinit ends; print the URL only.
  hpcinit jupyter --list
      The servers hpcinit started, with their state.
  hpcinit jupyter --site saga --job 1234567
      Reconnect to a running one.";

#[derive(Debug, Subcommand)]
pub enum CourseCommand {
    /// Every check that needs no sign-in, against the built-in profiles: each site's name,
    /// account form, walltime and Python, and the requirements file; one row each, ✓ or ✗
    /// with the fix. Exit 1 when a row fails, 2 when the file cannot be read.
    Check {
        /// The course file [default: hpcinit-course.yaml in the current directory].
        file: Option<PathBuf>,
        /// Also write a one-page Markdown handout for students to this file.
        #[arg(long, value_name = "FILE.md")]
        handout: Option<PathBuf>,
        /// The rows as JSON.
        #[arg(long)]
        json: bool,
        /// Also sign in to the site (`--site`, as you, once) and check there what the course
        /// needs: the modules load, the Python module of the course's version, the account and
        /// the reservation exist, each requirement resolves with the site's pip (nothing is
        /// installed). Needs hpcinit's SSH setup for the site (`hpcinit --site SITE`).
        #[arg(long)]
        probe: bool,
        #[command(flatten)]
        setup: SetupArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// A table of every known profile.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a profile's YAML, as written.
    Show { name: String },
    /// Check profile files; exit 2 if any is invalid.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

// The run's choices are plain enums at the bottom of the crate; their flag values live here.
impl clap::ValueEnum for Transport {
    fn value_variants<'a>() -> &'a [Self] {
        &[Transport::Ssh, Transport::Ssh2]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let (_, name) = Transport::ALL.iter().find(|(t, _)| t == self)?;
        let help = match self {
            Transport::Ssh => "The system's OpenSSH with a shared (ControlMaster) connection",
            Transport::Ssh2 => "One in-process libssh2 session",
        };
        Some(clap::builder::PossibleValue::new(*name).help(help))
    }
}

impl clap::ValueEnum for OnExisting {
    fn value_variants<'a>() -> &'a [Self] {
        &[OnExisting::Keep, OnExisting::Replace, OnExisting::Fail]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let (_, name) = OnExisting::ALL.iter().find(|(o, _)| o == self)?;
        let help = match self {
            OnExisting::Keep => "Leave it and use it as it is",
            OnExisting::Replace => {
                "Build the planned one and swap it in once it works (the old one is then removed)"
            }
            OnExisting::Fail => "Stop with an error",
        };
        Some(clap::builder::PossibleValue::new(*name).help(help))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_answers_win_and_gaps_take_the_outer_ones() {
        let inner = SetupArgs { user: Some("alice".into()), keep: Some(2), ..Default::default() };
        let outer = SetupArgs {
            site: Some("saga".into()),
            user: Some("bob".into()),
            exclude: vec!["data/".into()],
            check_job: true,
            reproduce: true,
            ..Default::default()
        };
        let m = inner.or(&outer);
        assert_eq!(m.user.as_deref(), Some("alice"));
        assert_eq!(m.site.as_deref(), Some("saga"));
        assert_eq!(m.keep, Some(2));
        assert_eq!(m.exclude, ["data/"]);
        assert!(m.check_job && m.reproduce);
        let own = SetupArgs { exclude: vec!["x".into()], ..Default::default() };
        assert_eq!(own.or(&outer).exclude, ["x"], "a list given is not merged with the outer one");
    }
}
