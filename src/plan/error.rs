//! Why no plan can be made from what the probe found, with what the person can do about it.

#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error("Python {wanted} is not available on {site}; its modules offer: {available}")]
    PythonMissing { site: String, wanted: String, available: String, suggest: Option<String> },
    /// `wanted`: `3.11 (hpcinit.lock, made on Saga)`.
    #[error("Python {wanted} is not available on {site}; its modules offer: {available}")]
    LockedPythonMissing { site: String, wanted: String, available: String, closest: Option<String> },
    /// `changes`: `new: scipy; gone: numpy`.
    #[error("hpcinit.lock was made on {origin} from other requirements than the project's {source_file} holds now")]
    LockStale { origin: String, origin_site: String, source_file: String, changes: String },
    #[error("no `module` command in a login shell on {site}, so no Python module can be loaded")]
    NoModules { site: String, shell: String },
    #[error("{site}'s scratch was not found: {tried}")]
    ScratchMissing { site: String, tried: String },
    #[error("~/scratch on {site} is a {kind}, not a directory or a link to scratch")]
    ScratchBlocked { site: String, kind: String },
    #[error("the venv location {venv} is on scratch ({real}), where files are deleted")]
    VenvInScratch { venv: String, real: String },
}

impl crate::exit::Diagnostic for PlanError {
    fn exit(&self) -> crate::exit::Exit {
        match self {
            PlanError::PythonMissing { .. }
            | PlanError::LockedPythonMissing { .. }
            | PlanError::LockStale { .. } => crate::exit::Exit::Usage,
            _ => crate::exit::Exit::Failed,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            PlanError::PythonMissing { suggest: Some(v), .. } => {
                format!("choose one of those, e.g. `--python {v}`")
            }
            PlanError::PythonMissing { .. } => {
                "no Python module was found: check the profile's python.modules (run `module avail` on the cluster)".into()
            }
            PlanError::LockedPythonMissing { closest: Some(v), .. } => format!(
                "nothing was changed; pass --allow-upgrades to use Python {v}, the closest newer version, or --python VERSION to choose one"
            ),
            PlanError::LockedPythonMissing { .. } => {
                "nothing was changed; no newer Python either: choose one with --python VERSION (the packages are then checked against it)".into()
            }
            PlanError::LockStale { origin_site, changes, .. } => format!(
                "{changes}; rebuild on {origin_site} first (`hpcinit --site {origin_site}` refreshes the lock), or pass --no-lock to build from the requirements here"
            ),
            PlanError::NoModules { shell, .. } => format!(
                "hpcinit loads modules in `bash -l`; your login shell is {shell}. Check that `module avail` works after `bash -l` on the cluster"
            ),
            PlanError::ScratchMissing { .. } => {
                "your scratch may not be created yet (new accounts can take a day); if it exists elsewhere, fix storage.scratch in the profile".into()
            }
            PlanError::ScratchBlocked { .. } => {
                "move ~/scratch away on the cluster (hpcinit never replaces it), then run hpcinit again".into()
            }
            PlanError::VenvInScratch { .. } => {
                "make ~/venvs a real directory in your home (not a link to scratch), or set python.venv.location in a profile".into()
            }
        })
    }
}
