//! What hpcinit found before planning: on this machine ([`LocalFacts`]) and, once signed in, on
//! the cluster ([`RemoteFacts`], from the probe's one round trip). The plan reads both; neither
//! does anything.

use crate::local::requirements::ProjectPython;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What hpcinit found on this machine before planning.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LocalFacts {
    /// The home directory, absolute: hpcinit's ssh config names files by absolute path, because
    /// OpenSSH expands `~` in `IdentityFile`, `ControlPath` and `UserKnownHostsFile` to the
    /// account's home from the password database, not to `$HOME`.
    pub home: String,
    /// The key path, `~/…` form, and whether it exists already.
    pub key_path: String,
    pub key_exists: bool,
    /// The person named the key with `--key` (otherwise it is hpcinit's default key).
    pub key_chosen: bool,
    /// The project's requirements and `requires-python`.
    pub python: ProjectPython,
    /// The project's code: root, commit, how much a snapshot holds.
    pub code: super::snapshot::CodeFacts,
    /// The project's `hpcinit.lock`, if it has one.
    pub lock: Option<crate::local::lock::Lock>,
    /// For a site whose gateway is needed only from outside: whether the login host answered
    /// directly from here (`None`: not looked at).
    pub direct: Option<bool>,
    /// This program, as the ssh config's `Match … exec` calls it (`hpcinit reach HOST PORT`) and
    /// rsync's `-e` (`hpcinit rsh ssh …`).
    pub program: String,
    /// The ssh config file hpcinit names with `-F`: set where `$HOME` is not the account's home
    /// (OpenSSH would read the account's).
    #[serde(skip)]
    pub ssh_config: Option<String>,
    /// This machine runs Windows: its OpenSSH cannot multiplex (no Control* lines) and reads
    /// `~/` paths with forward slashes (`%USERPROFILE%`).
    #[serde(skip)]
    pub windows: bool,
    /// The client that carries the run: with hpcinit's own (ssh2) there is no `ssh` command to
    /// show and code goes by SFTP.
    #[serde(skip)]
    pub transport: crate::settings::Transport,
    /// Inside WSL: the Windows user's home, found when the Windows side is to be set up too.
    #[serde(skip)]
    pub windows_home: Option<crate::local::wsl::WindowsHome>,
    /// This is WSL (whether or not the Windows side is set up).
    #[serde(skip)]
    pub wsl: bool,
}

/// A path the probe reports on, by what it is for: the one name the probe's request, its JSON
/// answer and every reader share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbePath {
    /// `~/scratch`, the link to the site's scratch.
    HomeScratch,
    /// The site's scratch, as the profile names it.
    SiteScratch,
    /// The scratch the profile's variable (`$SCRATCH`, `$USERWORK`) names.
    EnvScratch,
    Sbatch,
    Logs,
    Snapshots,
    Venv,
    VenvParent,
    /// The project's `latest` snapshot link.
    SnapshotLatest,
    /// The link to a course's shared data (`~/<project>-data`), where a course file names it.
    CourseData,
}

impl ProbePath {
    /// The key in the probe's words and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbePath::HomeScratch => "home-scratch",
            ProbePath::SiteScratch => "site-scratch",
            ProbePath::EnvScratch => "env-scratch",
            ProbePath::Sbatch => "sbatch",
            ProbePath::Logs => "logs",
            ProbePath::Snapshots => "snapshots",
            ProbePath::Venv => "venv",
            ProbePath::VenvParent => "venv-parent",
            ProbePath::SnapshotLatest => "snapshot-latest",
            ProbePath::CourseData => "course-data",
        }
    }
}

/// What the probe found on the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteFacts {
    pub user: String,
    pub home: String,
    /// `$SHELL` of the login.
    pub shell: String,
    /// The profile's environment variables that are set (`SCRATCH`, `USERWORK`, …); the probe
    /// reports an unset one as `null`.
    #[serde(default, deserialize_with = "set_variables")]
    pub env: BTreeMap<String, String>,
    /// The state of each path the plan asked about, by key (`scratch-link`, `logs`, `venv`, …).
    #[serde(default)]
    pub paths: BTreeMap<ProbePath, PathState>,
    /// Files hpcinit writes, by remote path: their hashes, if they exist.
    #[serde(default)]
    pub files: BTreeMap<String, Option<FileState>>,
    /// The first line of the venv's `.hpcinit-ok` marker, if it has one.
    #[serde(default)]
    pub venv_marker: Option<String>,
    pub module_system: ModuleSystemFound,
    /// What `module -t avail` (and, with Lmod, `spider`) printed for the Python module's name,
    /// with the profile's prerequisites loaded. `None` when this probe did not list them.
    #[serde(default)]
    pub module_lines: Option<Vec<String>>,
    /// The commands found on PATH among those asked about (rsync, sbatch, the quota command…).
    #[serde(default)]
    pub commands: Vec<String>,
}

/// The variables that are set, from the probe's map where an unset one is `null`.
fn set_variables<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let all: BTreeMap<String, Option<String>> = Deserialize::deserialize(d)?;
    Ok(all.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleSystemFound {
    pub kind: ModuleSystem,
    #[serde(default)]
    pub version: String,
}

/// Which `module` command the login shell has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleSystem {
    Lmod,
    /// Environment modules (the Tcl or C implementation).
    Tcl,
    #[default]
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    #[default]
    Missing,
    Link,
    Dir,
    File,
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathState {
    /// The path as the shell expanded it.
    pub path: String,
    pub kind: PathKind,
    /// Where a link points, as written.
    #[serde(default)]
    pub target: Option<String>,
    /// The physical directory (links resolved), when it is or leads to a directory.
    #[serde(default)]
    pub real: Option<String>,
    #[serde(default)]
    pub writable: Option<bool>,
}

impl PathState {
    /// A directory, or a link to one.
    pub fn is_dir(&self) -> bool {
        self.real.is_some()
    }
}

/// A file hpcinit writes, as found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// SHA-256 of the whole file.
    pub sha: String,
    /// The hash recorded in its `hpcinit-sha256:` line, if it has one.
    #[serde(default)]
    pub recorded: Option<String>,
    /// SHA-256 of the file without that line: equal to `recorded` when nobody edited it.
    #[serde(default)]
    pub rest: Option<String>,
}

impl RemoteFacts {
    pub fn path(&self, key: ProbePath) -> PathState {
        self.paths.get(&key).cloned().unwrap_or_default()
    }

    pub fn has(&self, command: &str) -> bool {
        self.commands.iter().any(|c| c == command)
    }

    /// These facts, refreshed by a later probe: the module list is kept when it was not
    /// listed again.
    pub fn refreshed(&self, mut newer: RemoteFacts) -> RemoteFacts {
        if newer.module_lines.is_none() {
            newer.module_lines = self.module_lines.clone();
        }
        newer
    }
}
