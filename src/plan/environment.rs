//! Reading a built environment on the cluster, changing nothing (`hpcinit lock`, `hpcinit
//! diff`, and the lock step when hpcinit's record of the build is gone): one login-shell script
//! that loads the jobs' modules and reports the interpreter's version, the modules the build
//! loaded (its `.hpcinit/modules.txt`, else what is loaded now), the requirement lines it was
//! built from, its marker and `pip freeze` as it is now. Pure: text in, text out.

use crate::exchange::{tags, Tagged};
use crate::local::state::EnvironmentRecord;
use crate::profile::Profile;
use crate::quote::sh_path;

/// The functions that read an environment.
pub const ENVIRONMENT_SH: &str = include_str!("environment.sh");

/// The script for the environment at `venv`, with `loads` loaded as jobs load them.
pub fn script(profile: &Profile, venv: &str, loads: &[String]) -> String {
    let modules = super::modules::modules_function(profile.raw.python.modules.reset.as_str(), loads);
    format!("{ENVIRONMENT_SH}{modules}hpcinit_environment {}\n", sh_path(venv))
}

/// What the script reports, line by line (`environment.sh`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum EnvReport {
    Missing,
    ModulesFailed,
    FromLock,
    Built(String),
    Marker(String),
    Python(String),
    Module(String),
    Requirement(String),
    Freeze(String),
    Done,
}

impl Tagged for EnvReport {
    fn from_tag(tag: &str, payload: &str) -> Option<EnvReport> {
        let p = payload.trim().to_string();
        Some(match tag {
            "env-missing" => EnvReport::Missing,
            "env-modules-failed" => EnvReport::ModulesFailed,
            "env-from-lock" => EnvReport::FromLock,
            "env-built" => EnvReport::Built(payload.to_string()),
            "env-marker" => EnvReport::Marker(p),
            "env-python" => EnvReport::Python(p),
            "env-module" if !p.is_empty() => EnvReport::Module(p),
            "env-requirement" if !p.is_empty() => EnvReport::Requirement(p),
            "env-freeze" if !p.is_empty() => EnvReport::Freeze(p),
            "env-done" => EnvReport::Done,
            _ => return None,
        })
    }
}

/// What the script found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Described {
    /// No environment at that path.
    Missing,
    /// The environment, as a record (site and project left for the caller). `from_lock`: it was
    /// built from a lock file, so its requirement lines are the lock's pins (left out).
    Found { record: Box<EnvironmentRecord>, modules_failed: bool, from_lock: bool },
}

/// Reads the script's output; `None` when it did not run to the end.
pub fn parse(stdout: &str, venv: &str) -> Option<Described> {
    let mut rec = EnvironmentRecord { venv: venv.to_string(), ..Default::default() };
    let mut done = false;
    let mut modules_failed = false;
    let mut from_lock = false;
    for report in tags::<EnvReport>(stdout) {
        match report {
            EnvReport::Missing => return Some(Described::Missing),
            EnvReport::ModulesFailed => modules_failed = true,
            EnvReport::FromLock => from_lock = true,
            EnvReport::Built(b) => rec.built = b,
            EnvReport::Marker(m) => rec.inputs_sha = m,
            EnvReport::Python(v) => rec.python = v,
            EnvReport::Module(m) => rec.modules.push(m),
            EnvReport::Requirement(r) => rec.requirements.push(r),
            EnvReport::Freeze(f) => rec.freeze.push(f),
            EnvReport::Done => done = true,
        }
    }
    done.then_some(Described::Found { record: Box::new(rec), modules_failed, from_lock })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileSet;

    #[test]
    fn loads_the_jobs_modules_and_quotes_the_path() {
        let set = ProfileSet::builtin().unwrap();
        let saga = set.get("saga").unwrap();
        let s = script(saga, "~/venvs/my proj", &["Python/3.11.3-GCCcore-12.3.0".into()]);
        assert!(s.contains("module load Python/3.11.3-GCCcore-12.3.0"), "{s}");
        assert!(s.contains("hpcinit_environment \"$HOME\"/'venvs/my proj'\n"), "{s}");
        assert!(s.contains("pip freeze"), "{s}");
    }

    #[test]
    fn parses_what_it_found() {
        let out = "banner\n@@hpcinit:env-built /h/venvs/.p.hpcinit-1\n@@hpcinit:env-marker abc\n@@hpcinit:env-python 3.11.2\n@@hpcinit:env-module StdEnv/2023\n@@hpcinit:env-module python/3.11\n@@hpcinit:env-requirement hpcinit-demo\n@@hpcinit:env-freeze hpcinit-demo==1.0\n@@hpcinit:env-done\n";
        match parse(out, "~/venvs/p").unwrap() {
            Described::Found { record, modules_failed, from_lock } => {
                assert!(!from_lock);
                assert!(!modules_failed);
                assert_eq!(record.python, "3.11.2");
                assert_eq!(record.modules, ["StdEnv/2023", "python/3.11"]);
                assert_eq!(record.requirements, ["hpcinit-demo"]);
                assert_eq!(record.freeze, ["hpcinit-demo==1.0"]);
                assert_eq!(record.inputs_sha, "abc");
            }
            d => panic!("{d:?}"),
        }
        assert_eq!(parse("@@hpcinit:env-missing ~/x\n", "~/x"), Some(Described::Missing));
        assert_eq!(parse("@@hpcinit:env-python 3.11.2\n", "~/x"), None, "cut short");
    }
}
