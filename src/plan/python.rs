//! Which Python module to load and how to build the environment, per the profile's recipe.
//!
//! The version comes from `--python`, else the project's `requires-python`, else the profile's
//! default; it maps to a module in the site's naming scheme, from the probe's listing once
//! signed in (from the profile's `known` list before). The venv is built beside its final
//! place under a new name, proven by importing every requirement with the same modules loaded,
//! marked, and only then swapped in by renaming a symlink: a failed build leaves the previous
//! environment in place and nothing marked done.

use super::error::PlanError;
use super::facts::{LocalFacts, PathKind, RemoteFacts};
use super::facts::{ModuleSystem, ProbePath};
use super::module_choice::{FromLock, ModuleChoice};
use super::modules;
use super::script_text::sha256_hex;
use super::specifier::Specifier;
use super::step::PythonPlan;
use crate::exchange::Script;
use crate::local::lock::Lock;
use crate::local::requirements::{Skipped, Source};
use crate::profile::raw::VenvRecipe;
use crate::profile::scalar::PythonVersion;
use crate::profile::Profile;
use crate::quote::sh_path;

/// Which Python the person wants, and who said so.
#[derive(Debug, Clone)]
pub enum Wanted {
    /// `--python 3.11` (or the profile's default): that version.
    Version(PythonVersion, &'static str),
    /// `requires-python` from pyproject.toml: the profile's default if it fits, else the newest that does.
    Spec(String, Specifier, PythonVersion),
    /// The `major.minor` of `hpcinit.lock`, made on `origin`; with `upgrades`, the closest newer
    /// one when the site lacks it.
    Locked { version: PythonVersion, origin: String, upgrades: bool },
}

impl Wanted {
    pub fn new(
        profile: &Profile,
        flag: Option<&PythonVersion>,
        local: &LocalFacts,
        reproduce: Option<&Reproduce>,
    ) -> Wanted {
        let default = profile.raw.python.default_version.value.clone();
        if let Some(v) = flag {
            return Wanted::Version(v.clone(), "--python");
        }
        if let Some(r) = reproduce {
            if let Ok(version) = r.lock.python_minor().parse::<PythonVersion>() {
                return Wanted::Locked { version, origin: r.lock.origin.name.clone(), upgrades: r.upgrades };
            }
        }
        if let Some(spec) = local.python.requires_python.as_deref() {
            if let Ok(s) = spec.parse::<Specifier>() {
                return Wanted::Spec(spec.to_string(), s, default);
            }
        }
        Wanted::Version(default, "the profile's default")
    }

    pub fn label(&self) -> String {
        match self {
            Wanted::Version(v, _) => v.to_string(),
            Wanted::Spec(s, ..) => s.clone(),
            Wanted::Locked { version, .. } => version.to_string(),
        }
    }

    pub fn source(&self) -> &'static str {
        match self {
            Wanted::Version(_, from) => from,
            Wanted::Spec(..) => "pyproject.toml requires-python",
            Wanted::Locked { .. } => "hpcinit.lock",
        }
    }

    /// The module to load among `(version, name)` candidates (sorted oldest first).
    fn pick<'a>(&self, candidates: &'a [(PythonVersion, String)]) -> Option<&'a (PythonVersion, String)> {
        match self {
            Wanted::Version(v, _) => candidates.iter().rev().find(|(c, _)| v.matches(c)),
            Wanted::Spec(_, spec, default) => candidates
                .iter()
                .rev()
                .find(|(c, _)| default.matches(c) && spec.allows(c))
                .or_else(|| candidates.iter().rev().find(|(c, _)| spec.allows(c))),
            Wanted::Locked { version, upgrades, .. } => candidates
                .iter()
                .rev()
                .find(|(c, _)| version.matches(c))
                .or_else(|| upgrades.then(|| closest_newer(version, candidates)).flatten()),
        }
    }
}

/// The oldest candidate of a newer `major.minor` than `v`.
fn closest_newer<'a>(
    v: &PythonVersion,
    candidates: &'a [(PythonVersion, String)],
) -> Option<&'a (PythonVersion, String)> {
    candidates.iter().find(|(c, _)| (c.major, c.minor) > (v.major, v.minor))
}

/// Rebuilding from the project's `hpcinit.lock` rather than from its requirements.
#[derive(Debug, Clone)]
pub struct Reproduce<'a> {
    pub lock: &'a Lock,
    /// `--allow-upgrades`.
    pub upgrades: bool,
}

/// Whether this bootstrap rebuilds from the lock: always for `hpcinit reproduce`, never with
/// `--no-lock`, otherwise when the lock was made on another site. A lock made from other
/// requirements than the project holds now is refused rather than followed.
pub fn reproducing<'a>(
    profile: &Profile,
    answers: &crate::answers::Answers,
    local: &'a LocalFacts,
) -> Result<Option<Reproduce<'a>>, PlanError> {
    use crate::answers::LockUse;
    let Some(lock) = &local.lock else { return Ok(None) };
    let use_it = match answers.lock {
        LockUse::Never => false,
        LockUse::Always => true,
        LockUse::Auto => lock.origin.site != profile.name().as_str(),
    };
    if !use_it {
        return Ok(None);
    }
    if local.python.source != Source::None && local.python.lines != lock.requirements {
        let added: Vec<&str> = local
            .python
            .lines
            .iter()
            .filter(|l| !lock.requirements.contains(l))
            .map(|l| l.as_str())
            .collect();
        let removed: Vec<&str> = lock
            .requirements
            .iter()
            .filter(|l| !local.python.lines.contains(l))
            .map(|l| l.as_str())
            .collect();
        let mut changes = Vec::new();
        if !added.is_empty() {
            changes.push(format!("new: {}", added.join(", ")));
        }
        if !removed.is_empty() {
            changes.push(format!("gone: {}", removed.join(", ")));
        }
        if changes.is_empty() {
            changes.push("the same lines in another order".into());
        }
        return Err(PlanError::LockStale {
            origin: lock.origin.name.clone(),
            origin_site: lock.origin.site.clone(),
            source_file: match local.python.source {
                Source::Pyproject => "pyproject.toml".into(),
                _ => "requirements.txt".into(),
            },
            changes: changes.join("; "),
        });
    }
    Ok(Some(Reproduce { lock, upgrades: answers.allow_upgrades }))
}

/// The lock's lines to install elsewhere, and those that cannot be (code from a path on the
/// site of origin), with why.
pub fn locked_lines(lock: &Lock) -> (Vec<String>, Vec<Skipped>) {
    let mut keep = Vec::new();
    let mut skipped = Vec::new();
    for line in &lock.packages {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.starts_with("-e ") || l.starts_with("--editable") || l.contains("@ file:") {
            skipped.push(Skipped {
                line: l.to_string(),
                why: format!(
                    "installed from a path on {}; install it from your code snapshot",
                    lock.origin.name
                ),
            });
        } else {
            keep.push(l.to_string());
        }
    }
    (keep, skipped)
}

/// The module for `wanted`: from the probe's listing when there is one, else the profile's list.
pub fn choose(
    profile: &Profile,
    wanted: &Wanted,
    remote: Option<&RemoteFacts>,
) -> Result<ModuleChoice, PlanError> {
    let py = &profile.raw.python;
    if py.venv.recipe == VenvRecipe::ContainerWrapper {
        return Ok(ModuleChoice::NotNeeded);
    }
    let site = profile.raw.display_name.clone();
    if let Some(facts) = remote {
        if facts.module_system.kind == ModuleSystem::None {
            return Err(PlanError::NoModules { site, shell: facts.shell.clone() });
        }
        let lines = facts.module_lines.clone().unwrap_or_default();
        let found = modules::with_versions(&modules::parse_avail(&lines, &module_base(profile)));
        return match wanted.pick(&found) {
            Some((_, name)) => Ok(ModuleChoice::Found { name: name.clone() }),
            None if matches!(wanted, Wanted::Locked { .. }) => {
                let Wanted::Locked { version, origin, .. } = wanted else { unreachable!() };
                Err(PlanError::LockedPythonMissing {
                    site,
                    wanted: format!("{version} (hpcinit.lock, made on {origin})"),
                    available: modules::version_list(&found),
                    closest: closest_newer(version, &found).map(|(v, _)| format!("{}.{}", v.major, v.minor)),
                })
            }
            None => Err(PlanError::PythonMissing {
                site,
                wanted: format!("{} ({})", wanted.label(), wanted.source()),
                available: modules::version_list(&found),
                suggest: found.last().map(|(v, _)| format!("{}.{}", v.major, v.minor)),
            }),
        };
    }
    let known: Vec<String> = py.modules.known.iter().map(|m| m.to_string()).collect();
    Ok(match wanted.pick(&modules::with_versions(&known)) {
        Some((_, name)) => ModuleChoice::Known { name: name.clone() },
        None => ModuleChoice::OnCluster {
            version: wanted.label(),
            list_command: py.modules.list_command.to_string(),
        },
    })
}

/// The module name without its version, as `list_command` names it (`module avail python`).
pub fn module_base(profile: &Profile) -> String {
    let py = &profile.raw.python.modules;
    py.list_command.as_str().split_whitespace().last().unwrap_or("python").to_string()
}

/// What the venv step needs besides the step: loads and activation for the job template.
pub struct PythonParts {
    pub plan: PythonPlan,
    pub summary: String,
    pub loads: Vec<String>,
    pub activate: String,
}

/// The Python step.
pub fn step(
    profile: &Profile,
    wanted: &Wanted,
    module: &ModuleChoice,
    venv: &str,
    local: &LocalFacts,
    remote: Option<&RemoteFacts>,
    reproduce: Option<&Reproduce>,
) -> Result<PythonParts, PlanError> {
    let py = &profile.raw.python;
    let mut loads: Vec<String> = py.modules.prerequisites.iter().map(|m| m.to_string()).collect();
    if module != &ModuleChoice::NotNeeded {
        loads.push(module.display());
    }
    if let Some(facts) = remote {
        not_on_scratch(venv, facts)?;
    }
    let (requirements, skipped) = match reproduce {
        Some(r) => locked_lines(r.lock),
        None => (local.python.lines.clone(), local.python.skipped.clone()),
    };
    let containerized = py.venv.recipe == VenvRecipe::ContainerWrapper;
    // The lock's versions are matched against the site's pip before installing (the container
    // recipe installs through its own tool, which reports a missing version itself).
    let match_mode = match reproduce {
        Some(r) if !containerized => Some(if r.upgrades { "upgrades" } else { "exact" }),
        _ => None,
    };
    let no_index = if py.venv.pip_no_index { " --no-index" } else { "" };
    let load_line = super::modules::load_command(&loads).unwrap_or_default();
    let recipe_line = recipe_line(profile);
    let inputs_sha = inputs_sha(profile, recipe_line, &load_line, &requirements, match_mode);
    let marker = format!("{venv}/.hpcinit-ok");
    let script = Script::new(
        "build the Python environment",
        super::venv_build::script(
            profile,
            &super::venv_build::Build {
                venv,
                load_line: &load_line,
                recipe_line,
                no_index,
                requirements: &requirements,
                match_mode,
                inputs_sha: &inputs_sha,
            },
        ),
    );
    let activate = match py.venv.recipe {
        VenvRecipe::ContainerWrapper => format!("export PATH={}/bin:\"$PATH\"", sh_path(venv)),
        _ => format!("source {}/bin/activate", sh_path(venv)),
    };
    let what = installs(local, &requirements, reproduce, containerized);
    let summary = summary(profile, wanted, module, venv, &what, remote, &inputs_sha);
    let plan = PythonPlan {
        version: wanted.label(),
        version_from: wanted.source().into(),
        module: module.clone(),
        loads: loads.clone(),
        venv: venv.to_string(),
        requirements,
        skipped,
        from_lock: reproduce.map(|r| FromLock {
            origin: r.lock.origin.site.clone(),
            origin_name: r.lock.origin.name.clone(),
            python: r.lock.python.version.clone(),
            module: r.lock.python_module().map(|m| m.exact.clone()),
            pins: r.lock.packages.len(),
            upgrades: r.upgrades,
        }),
        inputs_sha,
        marker,
        script,
        read_script: Script::new("read the environment", super::environment::script(profile, venv, &loads)),
    };
    Ok(PythonParts { plan, summary, loads, activate })
}

/// The command that creates the environment at `$new`, by the profile's recipe.
fn recipe_line(profile: &Profile) -> &'static str {
    let venv = &profile.raw.python.venv;
    match venv.recipe {
        VenvRecipe::Venv if venv.system_site_packages => "python3 -m venv --system-site-packages \"$new\"",
        VenvRecipe::Venv => "python3 -m venv \"$new\"",
        VenvRecipe::Virtualenv => "virtualenv --no-download \"$new\"",
        VenvRecipe::ContainerWrapper => {
            "pip-containerize new --prefix \"$new\" \"$new\"/.hpcinit-requirements.txt"
        }
    }
}

/// The hash of everything that decides what the environment holds: a change rebuilds it.
fn inputs_sha(
    profile: &Profile,
    recipe_line: &str,
    load_line: &str,
    requirements: &[String],
    match_mode: Option<&str>,
) -> String {
    let py = &profile.raw.python;
    let mut inputs = format!(
        "recipe: {recipe_line}\nreset: {}\nload: {load_line}\nno-index: {}\nrequirements:\n{}\n",
        py.modules.reset,
        py.venv.pip_no_index,
        requirements.join("\n")
    );
    if let Some(mode) = match_mode {
        inputs.push_str(&format!("lock: {mode}\n"));
    }
    sha256_hex(&inputs)
}

/// A venv on purged scratch loses its files: refused, whichever way the path reaches scratch.
fn not_on_scratch(venv: &str, facts: &RemoteFacts) -> Result<(), PlanError> {
    let Some(real) = facts.path(ProbePath::VenvParent).real else { return Ok(()) };
    for key in [ProbePath::HomeScratch, ProbePath::SiteScratch, ProbePath::EnvScratch] {
        if let Some(scratch) = facts.path(key).real {
            if real == scratch || real.starts_with(&format!("{scratch}/")) {
                return Err(PlanError::VenvInScratch { venv: venv.into(), real });
            }
        }
    }
    Ok(())
}

/// What the build installs, in words.
fn installs(
    local: &LocalFacts,
    requirements: &[String],
    reproduce: Option<&Reproduce>,
    containerized: bool,
) -> String {
    match (local.python.source, requirements.len()) {
        _ if reproduce.is_some() => {
            let r = reproduce.expect("just checked");
            format!(
                "installs the {} version{} pinned in hpcinit.lock (made on {} with Python {}{}); {}",
                requirements.len(),
                if requirements.len() == 1 { "" } else { "s" },
                r.lock.origin.name,
                r.lock.python.version,
                r.lock.python_module().map(|m| format!(", {}", m.exact)).unwrap_or_default(),
                if containerized {
                    "a version the site lacks stops the build"
                } else if r.upgrades {
                    "where the site lacks one, the closest newer version (--allow-upgrades), each reported"
                } else {
                    "a version the site lacks stops the build before anything is installed, reported package by package"
                }
            )
        }
        (Source::None, _) => "no requirements file found: installs nothing more".to_string(),
        (s, n) => format!(
            "installs {n} requirement{} from {}",
            if n == 1 { "" } else { "s" },
            if s == Source::Pyproject { "pyproject.toml" } else { "requirements.txt" }
        ),
    }
}

/// The step's one sentence: the venv, the Python and module, the recipe, what is installed,
/// and what is there now.
fn summary(
    profile: &Profile,
    wanted: &Wanted,
    module: &ModuleChoice,
    venv: &str,
    what: &str,
    remote: Option<&RemoteFacts>,
    inputs_sha: &str,
) -> String {
    let py = &profile.raw.python;
    let recipe = match py.venv.recipe {
        VenvRecipe::Venv => "python -m venv",
        VenvRecipe::Virtualenv => "virtualenv --no-download, pip --no-index (the site's wheelhouse)",
        VenvRecipe::ContainerWrapper => "pip-containerize (native pip installs are not allowed)",
    };
    let mut module_label = module.display();
    if let ModuleChoice::Known { name } = module {
        let i = py.modules.known.iter().position(|m| m.as_str() == name).unwrap_or_default();
        if profile.unverified(&format!("python.modules.known[{i}]")).is_some() {
            module_label.push_str(", UNVERIFIED: checked on the cluster first");
        }
    }
    let state = remote.map(|f| {
        let v = f.path(ProbePath::Venv);
        match (v.kind, &f.venv_marker) {
            (PathKind::Missing, _) => " It does not exist yet.".to_string(),
            (_, Some(m)) if m == inputs_sha => " It is already built as planned.".to_string(),
            (_, Some(_)) => " The one there was built by hpcinit from other inputs: it is rebuilt beside it and swapped in when it works.".to_string(),
            _ => " Something not made by hpcinit is there: --on-existing decides.".to_string(),
        }
    });
    format!(
        "Build {venv} with Python {} ({module_label}) by {recipe}; {what}; prove it by importing them with the same modules loaded, then swap it in.{}",
        wanted.label(),
        state.unwrap_or_default()
    )
}

#[cfg(test)]
#[path = "python_tests.rs"]
mod tests;
