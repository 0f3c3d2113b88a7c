//! `hpcinit.lock`, in the project directory: the Python environment a bootstrap built (site of
//! origin, Python, the modules by logical and exact name, the recipe, the requirement lines and
//! `pip freeze`), so that it travels with the code and `hpcinit --site OTHER` can rebuild the
//! same versions elsewhere. Read with `file:line:column` errors; written atomically; rewritten
//! only when the environment it describes changed.

use crate::local::state::EnvironmentRecord;
use crate::profile::raw::VenvRecipe;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The lock file's name in the project directory.
pub const FILE: &str = "hpcinit.lock";

/// The format this hpcinit writes and reads.
pub const LOCK_VERSION: u32 = 1;

/// One environment, as built on its site of origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Lock {
    pub lock_version: u32,
    /// The hpcinit that wrote it.
    pub hpcinit: String,
    pub origin: Origin,
    pub python: LockedPython,
    /// The modules hpcinit loaded for the environment (toolchain first, then Python).
    #[serde(default)]
    pub modules: Vec<LockedModule>,
    /// Every module loaded at build time, as `module -t list` printed it.
    #[serde(default)]
    pub loaded: Vec<String>,
    pub recipe: LockedRecipe,
    /// The requirement lines the environment was built from.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// `pip freeze` of the environment: the versions to install elsewhere.
    #[serde(default)]
    pub packages: Vec<String>,
    /// What `hpcinit jupyter` added to the environment on the site of origin (Jupyter Lab and
    /// what it needs): interactive extras, not part of `packages`, so they never change the
    /// locked versions and another site gets them only when it runs `hpcinit jupyter` too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interactive: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Origin {
    /// The profile name (`saga`).
    pub site: String,
    /// Its display name (`Saga`).
    pub name: String,
    /// The environment's path there.
    pub venv: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedPython {
    /// As the environment's interpreter reports it: `3.11.5`.
    pub version: String,
    /// `python 3.11`: what another site must offer.
    pub logical: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedModule {
    /// Site-independent: `python 3.11`, `stdenv 2023`.
    pub logical: String,
    /// The site's own name: `Python/3.11.5-GCCcore-13.2.0`.
    pub exact: String,
    pub role: ModuleRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModuleRole {
    /// The site's compiler and library stack (`StdEnv/2023`): each site brings its own.
    Toolchain,
    /// The module that provides Python: matched by version on another site.
    Python,
}

/// What a lock records of the site it is made on (the plan says, from the profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockSite {
    /// The profile name (`saga`) and the site's name.
    pub site: String,
    pub name: String,
    /// The Python module's name without version (`python`, `Python`).
    pub python_base: String,
    /// The toolchain modules loaded before Python.
    pub prerequisites: Vec<String>,
    pub recipe: LockedRecipe,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedRecipe {
    pub kind: VenvRecipe,
    #[serde(default)]
    pub system_site_packages: bool,
    #[serde(default)]
    pub pip_no_index: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid lock file {file}:{line}:{column}: {message}")]
    Invalid { file: String, line: u64, column: u64, message: String, snippet: String },
    #[error("{file} is lock format {found}; this hpcinit reads format {LOCK_VERSION}")]
    Version { file: String, found: u32 },
    #[error("no {FILE} in {}", dir.display())]
    Missing { dir: PathBuf },
}

impl LockError {
    pub fn detail(&self) -> Option<String> {
        match self {
            LockError::Invalid { snippet, .. } => Some(snippet.clone()),
            _ => None,
        }
    }
}

impl crate::exit::Diagnostic for LockError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            LockError::Read { .. } => "check that you may read the file".into(),
            LockError::Invalid { .. } => format!(
                "{FILE} is written by hpcinit: restore it from version control, or delete it and run `hpcinit lock --site SITE` where the environment works"
            ),
            LockError::Version { .. } => "update hpcinit (`cargo install hpcinit`) to read it".into(),
            LockError::Missing { .. } => format!(
                "`hpcinit --site SITE` writes {FILE} after building the environment there; `hpcinit lock --site SITE` writes it from an environment already built"
            ),
        })
    }
}

/// The lock file of the project in `dir`, if there is one.
pub fn read(dir: &Path) -> Result<Option<Lock>, LockError> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Lock::parse(&path.display().to_string(), &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LockError::Read { path, source: e }),
    }
}

impl Lock {
    pub fn parse(file: &str, text: &str) -> Result<Lock, LockError> {
        let lock = serde_saphyr::from_str::<Lock>(text).map_err(|e| {
            let (line, column, message, snippet) = crate::profile::error::located(file, text, &e);
            LockError::Invalid { file: file.to_string(), line, column, message, snippet }
        })?;
        if lock.lock_version != LOCK_VERSION {
            return Err(LockError::Version { file: file.into(), found: lock.lock_version });
        }
        Ok(lock)
    }

    /// The file's text: a header saying what it is, then the YAML.
    pub fn render(&self) -> String {
        format!(
            "# hpcinit.lock: the Python environment hpcinit built for this project on {}.\n\
             # `hpcinit --site OTHER` rebuilds these versions on another cluster; `hpcinit lock`\n\
             # refreshes this file from the environment. Written by hpcinit: commit it, do not edit it.\n{}",
            self.origin.name,
            serde_saphyr::to_string(self).expect("a lock serializes")
        )
    }

    /// The same environment, whichever hpcinit wrote it.
    pub fn same_environment(&self, other: &Lock) -> bool {
        Lock { hpcinit: String::new(), ..self.clone() } == Lock { hpcinit: String::new(), ..other.clone() }
    }

    /// `major.minor` of the locked Python.
    pub fn python_minor(&self) -> String {
        let mut parts = self.python.version.split('.');
        match (parts.next(), parts.next()) {
            (Some(a), Some(b)) => format!("{a}.{b}"),
            _ => self.python.version.clone(),
        }
    }

    /// The module that provided Python on the site of origin.
    pub fn python_module(&self) -> Option<&LockedModule> {
        self.modules.iter().find(|m| m.role == ModuleRole::Python)
    }
}

impl Lock {
    /// The lock for the environment `rec` describes, built on `site`.
    pub fn from_record(site: &LockSite, rec: &EnvironmentRecord) -> Lock {
        let loaded: Vec<String> =
            rec.modules.iter().map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
        let minor: Vec<&str> = rec.python.split('.').take(2).collect();
        Lock {
            lock_version: LOCK_VERSION,
            hpcinit: env!("CARGO_PKG_VERSION").into(),
            origin: Origin { site: site.site.clone(), name: site.name.clone(), venv: rec.venv.clone() },
            python: LockedPython {
                version: rec.python.clone(),
                logical: format!("python {}", minor.join(".")),
            },
            modules: requested_modules(&loaded, &site.python_base, &site.prerequisites),
            loaded,
            recipe: site.recipe.clone(),
            requirements: rec.requirements.clone(),
            packages: rec.freeze.iter().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect(),
            interactive: Vec::new(),
        }
    }

    /// The same lock with `extras` (what `hpcinit jupyter` added) taken out of the packages
    /// and kept as interactive extras.
    pub fn with_interactive(mut self, extras: &[String]) -> Lock {
        let key = |l: &str| l.split("==").next().unwrap_or(l).trim().to_lowercase().replace('_', "-");
        let names: Vec<String> = extras.iter().map(|e| key(e)).collect();
        self.packages.retain(|p| !names.contains(&key(p)));
        let mut all: Vec<String> = self.interactive.iter().chain(extras).cloned().collect();
        all.sort_by_key(|e| key(e));
        all.dedup_by_key(|e| key(e));
        self.interactive = all;
        self
    }
}

/// `1 package`, `3 packages`.
pub fn packages_phrase(n: usize) -> String {
    format!("{n} package{}", if n == 1 { "" } else { "s" })
}

/// A module's name independent of the site's naming scheme: the name lower-cased with its
/// release (`StdEnv/2023` → `stdenv 2023`); Python modules by `major.minor`
/// (`Python/3.11.2-GCCcore-12.2.0`, `python/3.11.5` → `python 3.11`).
pub fn logical_name(module: &str) -> String {
    let (name, version) = module.split_once('/').unwrap_or((module, ""));
    let name = name.to_ascii_lowercase();
    let release = version.trim_start_matches('.').split('-').next().unwrap_or("");
    if name == "python" || name == "python3" {
        let mm: Vec<&str> = release.split('.').take(2).collect();
        return format!("python {}", mm.join("."));
    }
    if release.is_empty() {
        name
    } else {
        format!("{name} {release}")
    }
}

/// The modules hpcinit asked for among those loaded (`module -t list`): the Python module (by
/// `python_base`, case-insensitively) and the toolchain modules named by `prerequisites`.
pub fn requested_modules(
    loaded: &[String],
    python_base: &str,
    prerequisites: &[String],
) -> Vec<LockedModule> {
    let base = |m: &str| m.split('/').next().unwrap_or(m).to_ascii_lowercase();
    let toolchain: Vec<String> = prerequisites.iter().map(|p| base(p)).collect();
    let mut out = Vec::new();
    for m in loaded.iter().map(|m| m.trim()).filter(|m| !m.is_empty()) {
        let b = base(m);
        let role = if b == python_base.to_ascii_lowercase() {
            ModuleRole::Python
        } else if toolchain.contains(&b) {
            ModuleRole::Toolchain
        } else {
            continue;
        };
        out.push(LockedModule { logical: logical_name(m), exact: m.to_string(), role });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_names_ignore_the_naming_scheme() {
        assert_eq!(logical_name("Python/3.11.2-GCCcore-12.2.0"), "python 3.11");
        assert_eq!(logical_name("python/3.11"), "python 3.11");
        assert_eq!(logical_name("python3/3.11.4"), "python 3.11");
        assert_eq!(logical_name("StdEnv/2023"), "stdenv 2023");
        assert_eq!(logical_name("scipy-stack/2023b"), "scipy-stack 2023b");
        assert_eq!(logical_name("gcccore/.12.3"), "gcccore 12.3");
        assert_eq!(logical_name("LUMI"), "lumi");
    }

    fn sample() -> Lock {
        let loaded = vec!["StdEnv/2023".to_string(), "gcccore/.12.3".into(), "python/3.11.5".into()];
        Lock {
            lock_version: LOCK_VERSION,
            hpcinit: "0.6.0".into(),
            origin: Origin { site: "narval".into(), name: "Narval".into(), venv: "~/venvs/demo".into() },
            python: LockedPython { version: "3.11.5".into(), logical: "python 3.11".into() },
            modules: requested_modules(&loaded, "python", &["StdEnv/2023".into()]),
            loaded,
            recipe: LockedRecipe {
                kind: VenvRecipe::Virtualenv,
                system_site_packages: false,
                pip_no_index: true,
            },
            requirements: vec!["numpy".into()],
            packages: vec!["numpy==1.26.4+computecanada".into()],
            interactive: vec![],
        }
    }

    #[test]
    fn interactive_extras_leave_the_locked_packages_and_stay_beside_them() {
        let mut lock = sample();
        lock.packages.extend(["jupyterlab==4.6.6".to_string(), "Jupyter_Server==2.21.1".into()]);
        let with = lock.with_interactive(&["jupyter-server==2.21.1".into(), "jupyterlab==4.6.6".into()]);
        assert_eq!(with.packages, ["numpy==1.26.4+computecanada"]);
        assert_eq!(with.interactive, ["jupyter-server==2.21.1", "jupyterlab==4.6.6"]);
        let text = with.render();
        assert!(text.contains("interactive:\n- jupyter-server==2.21.1\n- jupyterlab==4.6.6\n"), "{text}");
        assert!(!sample().render().contains("interactive"), "absent when there are none");
    }

    #[test]
    fn renders_and_reads_back() {
        let lock = sample();
        let text = lock.render();
        assert!(text
            .starts_with("# hpcinit.lock: the Python environment hpcinit built for this project on Narval."));
        assert!(text.contains("lock-version: 1\n"), "{text}");
        assert!(text.contains("logical: python 3.11"), "{text}");
        assert!(text.contains("kind: virtualenv"), "{text}");
        assert_eq!(Lock::parse("hpcinit.lock", &text).unwrap(), lock);
    }

    #[test]
    fn picks_the_python_and_toolchain_modules_from_the_loaded_list() {
        let m = sample().modules;
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!((m[0].logical.as_str(), m[0].role), ("stdenv 2023", ModuleRole::Toolchain));
        assert_eq!((m[1].exact.as_str(), m[1].logical.as_str()), ("python/3.11.5", "python 3.11"));
        let eb = requested_modules(
            &[
                "GCCcore/12.2.0".into(),
                "zlib/1.2.12-GCCcore-12.2.0".into(),
                "Python/3.11.2-GCCcore-12.2.0".into(),
            ],
            "Python",
            &[],
        );
        assert_eq!(eb.len(), 1);
        assert_eq!(eb[0].logical, "python 3.11");
        assert_eq!(sample().python_minor(), "3.11");
    }

    #[test]
    fn another_hpcinit_writing_it_is_the_same_environment() {
        let a = sample();
        let b = Lock { hpcinit: "9.9.9".into(), ..a.clone() };
        assert!(a.same_environment(&b));
        let c = Lock { packages: vec!["numpy==2.0.0".into()], ..a.clone() };
        assert!(!a.same_environment(&c));
    }

    #[test]
    fn errors_name_the_line_and_newer_formats_are_refused() {
        let text = sample().render().replace("requirements:", "requirement:");
        match Lock::parse("p/hpcinit.lock", &text).unwrap_err() {
            LockError::Invalid { line, message, .. } => {
                assert!(message.contains("unknown field `requirement`"), "{message}");
                assert!(line > 3, "{line}");
            }
            e => panic!("{e}"),
        }
        let text = sample().render().replace("lock-version: 1", "lock-version: 2");
        assert!(matches!(Lock::parse("x", &text), Err(LockError::Version { found: 2, .. })));
        assert!(matches!(Lock::parse("x", "lock-version: 1\n"), Err(LockError::Invalid { .. })));
    }
}
