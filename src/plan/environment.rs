//! Reading a built environment on the cluster, changing nothing (`hpcinit lock`, `hpcinit
//! diff`, and the lock step when hpcinit's record of the build is gone): one login-shell script
//! that loads the jobs' modules and reports the interpreter's version, the modules the build
//! loaded (its `.hpcinit/modules.txt`, else what is loaded now), the requirement lines it was
//! built from, its marker and `pip freeze` as it is now. Pure: text in, text out.

use crate::local::state::EnvironmentRecord;
use crate::profile::Profile;
use crate::quote::sh_path;
use crate::remote::script::tagged;

/// The script for the environment at `venv`, with `loads` loaded as jobs load them.
pub fn script(profile: &Profile, venv: &str, loads: &[String]) -> String {
    let reset = profile.raw.python.modules.reset.as_str();
    let load = if loads.is_empty() {
        ":".to_string()
    } else {
        super::modules::load_command(loads).unwrap_or_default()
    };
    format!(
        r#"venv={venv}
if [ ! -x "$venv"/bin/python ]; then hpcinit_tag env-missing "$venv"; return 0; fi
{reset} >/dev/null 2>&1
{load} >/dev/null 2>&1 || hpcinit_tag env-modules-failed
hpcinit_tag env-built "$(cd -P "$venv" 2>/dev/null && pwd)"
[ -f "$venv"/.hpcinit-ok ] && hpcinit_tag env-marker "$(head -n 1 "$venv"/.hpcinit-ok)"
"$venv"/bin/python -c 'import sys; print("@@hpcinit:env-python", sys.version.split()[0])' 2>&1
if [ -s "$venv"/.hpcinit/modules.txt ]; then
  sed 's/^/@@hpcinit:env-module /' "$venv"/.hpcinit/modules.txt
else
  module -t list 2>&1 | sed 's/^/@@hpcinit:env-module /'
fi
if [ -f "$venv"/.hpcinit/locked.txt ]; then hpcinit_tag env-from-lock
elif [ -f "$venv"/.hpcinit/requirements.txt ]; then sed 's/^/@@hpcinit:env-requirement /' "$venv"/.hpcinit/requirements.txt
fi
"$venv"/bin/python -m pip freeze 2>/dev/null | sed 's/^/@@hpcinit:env-freeze /'
hpcinit_tag env-done
"#,
        venv = sh_path(venv),
    )
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
    for (tag, payload) in stdout.lines().filter_map(tagged) {
        match tag {
            "env-missing" => return Some(Described::Missing),
            "env-modules-failed" => modules_failed = true,
            "env-from-lock" => from_lock = true,
            "env-built" => rec.built = payload.to_string(),
            "env-marker" => rec.inputs_sha = payload.trim().to_string(),
            "env-python" => rec.python = payload.trim().to_string(),
            "env-module" if !payload.trim().is_empty() => rec.modules.push(payload.trim().to_string()),
            "env-requirement" if !payload.trim().is_empty() => {
                rec.requirements.push(payload.trim().to_string())
            }
            "env-freeze" if !payload.trim().is_empty() => rec.freeze.push(payload.trim().to_string()),
            "env-done" => done = true,
            _ => {}
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
        assert!(
            s.contains("venv=\"$HOME\"/'venvs/my proj'") || s.contains("venv=\"$HOME/venvs/my proj\""),
            "{s}"
        );
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
