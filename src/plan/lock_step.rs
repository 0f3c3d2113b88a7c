//! The lock-file step, planned: `hpcinit.lock` describes the environment the Python step builds,
//! read there by the plan's script when hpcinit has no record of it. Pure.

use super::step::{Action, LockPlan, PythonPlan, Step};
use super::{python, LocalFacts};
use crate::answers::Answers;
use crate::local::lock::{LockSite, LockedRecipe};
use crate::profile::Profile;

/// What a lock made on this site records of it.
pub fn lock_site(profile: &Profile) -> LockSite {
    let py = &profile.raw.python;
    LockSite {
        site: profile.name().to_string(),
        name: profile.raw.display_name.clone(),
        python_base: python::module_base(profile),
        prerequisites: py.modules.prerequisites.iter().map(|m| m.to_string()).collect(),
        recipe: LockedRecipe {
            kind: py.venv.recipe,
            system_site_packages: py.venv.system_site_packages,
            pip_no_index: py.venv.pip_no_index,
        },
    }
}

/// The lock step describes the environment the Python step builds.
pub fn lock_step(profile: &Profile, answers: &Answers, local: &LocalFacts, python: &PythonPlan) -> Step {
    let path = answers.project_dir.join(crate::local::lock::FILE).display().to_string();
    let exists = local.lock.is_some();
    Step::new(
        "Lock file",
        format!(
            "{} {path} from the environment: Python, modules, recipe and the exact package versions (pip freeze), so that `hpcinit --site OTHER` rebuilds the same environment on another cluster.{}",
            if exists { "Refresh" } else { "Write" },
            if exists { " Unchanged when the environment is." } else { "" }
        ),
        Action::Lock(LockPlan {
            path,
            origin: profile.name().to_string(),
            exists,
            venv: python.venv.clone(),
            loads: python.loads.clone(),
            inputs_sha: python.inputs_sha.clone(),
            requirements: python.requirements.clone(),
            read_script: python.read_script.clone(),
            site: lock_site(profile),
        }),
    )
}
