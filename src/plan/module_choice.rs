//! Which module provides the environment's Python, and what a rebuild from another site's lock
//! carries: the types the Python step's plan holds. Pure.

use serde::Serialize;

/// The module that provides the requested Python.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum ModuleChoice {
    /// A module name the profile lists (before the probe).
    Known { name: String },
    /// A module the probe found on the cluster.
    Found { name: String },
    /// The profile lists none for this version: the probe picks the newest match on the cluster.
    OnCluster { version: String, list_command: String },
    /// The recipe brings its own Python (container wrapper).
    NotNeeded,
}

impl ModuleChoice {
    pub fn display(&self) -> String {
        match self {
            ModuleChoice::Known { name } | ModuleChoice::Found { name } => name.clone(),
            ModuleChoice::OnCluster { version, .. } => {
                format!("<newest Python {version} module on the cluster>")
            }
            ModuleChoice::NotNeeded => "no module: the container brings its own Python".into(),
        }
    }
}

/// What the plan shows and the build reports about a rebuild from the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FromLock {
    /// The lock's site of origin (profile name) and its display name.
    pub origin: String,
    pub origin_name: String,
    /// The Python version and module there.
    pub python: String,
    pub module: Option<String>,
    /// The number of pinned versions.
    pub pins: usize,
    /// `--allow-upgrades`.
    pub upgrades: bool,
}
