//! The cluster half of `hpcinit doctor`, as one read-only script: does the scheduler answer,
//! what does the site's quota command say, and does the environment import every requirement
//! with the modules jobs load. Pure: the profile and the plan's Python step in, script text out.

use super::script_text::heredoc;
use crate::profile::raw::SchedulerKind;
use crate::profile::Profile;
use crate::quote::sh_path;

/// Lines of the quota command's output passed back (the rest is cut).
pub const QUOTA_LINES: usize = 30;

/// What the script reported, read from its tagged lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// `Ok(jobs queued or running)` or `Err(what the scheduler said)`; `None`: no answer.
    pub scheduler: Option<Result<String, String>>,
    /// The quota command's lines and exit status.
    pub quota: Vec<String>,
    pub quota_exit: Option<i32>,
    /// What the environment imported, what failed, and the import check's exit status.
    pub imports: Vec<String>,
    pub import_errors: Vec<String>,
    pub venv_exit: Option<i32>,
}

impl Answer {
    pub fn parse(stdout: &str) -> Answer {
        let mut a = Answer::default();
        for (tag, payload) in stdout.lines().filter_map(crate::remote::script::tagged) {
            match tag {
                "scheduler-ok" => a.scheduler = Some(Ok(payload.to_string())),
                "scheduler-fail" => a.scheduler = Some(Err(payload.to_string())),
                "quota-line" => a.quota.push(payload.trim_end().to_string()),
                "quota-exit" => a.quota_exit = payload.trim().parse::<i32>().ok(),
                "import" => a.imports.push(payload.to_string()),
                "import-error" => a.import_errors.push(payload.to_string()),
                "venv-exit" => a.venv_exit = payload.trim().parse::<i32>().ok(),
                "venv-missing" => a.import_errors.push(format!("{payload} has no bin/python")),
                _ => {}
            }
        }
        a
    }
}

/// The script; `venv` and `loads` come from the plan's Python step (`None`: no environment).
pub fn script(profile: &Profile, venv: Option<(&str, &[String])>) -> String {
    let mut s = String::new();
    let ask = match profile.raw.scheduler.kind {
        SchedulerKind::Slurm => "squeue -h -u \"$(id -un)\" -o %i",
        SchedulerKind::Lsf => "bjobs -noheader -u \"$(id -un)\" 2>/dev/null || bjobs -u \"$(id -un)\"",
    };
    s.push_str(&format!(
        "if out=$({ask} 2>&1); then\n  hpcinit_tag scheduler-ok \"$(printf '%s\\n' \"$out\" | grep -c .)\"\nelse\n  hpcinit_tag scheduler-fail \"$(printf '%s' \"$out\" | head -n 3 | tr '\\n' ' ')\"\nfi\n"
    ));
    s.push_str(&format!(
        "out=$( {{ {}\n}} 2>&1 ); rc=$?\nprintf '%s\\n' \"$out\" | head -n {QUOTA_LINES} | sed 's/^/@@hpcinit:quota-line /'\nhpcinit_tag quota-exit \"$rc\"\n",
        profile.raw.storage.quota_command.as_str()
    ));
    if let Some((venv, loads)) = venv {
        let py = &profile.raw.python;
        let load = if loads.is_empty() {
            ":".to_string()
        } else {
            super::modules::load_command(loads).unwrap_or_default()
        };
        let (open, body) = heredoc(super::venv_build::VERIFY);
        s.push_str(&format!("venv={}\n", sh_path(venv)));
        s.push_str(&format!(
            "if [ ! -x \"$venv\"/bin/python ]; then\n  hpcinit_tag venv-missing \"$venv\"\nelse\n  ( {reset} >/dev/null 2>&1; {load} >/dev/null 2>&1 || {{ echo '@@hpcinit:import-error modules: {load_q} failed'; exit 1; }}\n    \"$venv\"/bin/python - \"$venv\"/.hpcinit/requirements.txt {open} 2>&1\n{body}\n  ) | grep '^@@hpcinit:'\n  hpcinit_tag venv-exit \"${{PIPESTATUS[0]}}\"\nfi\n",
            reset = py.modules.reset,
            load_q = load.replace('\'', ""),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileSet;

    #[test]
    fn asks_the_sites_scheduler_and_quota_command_and_imports_with_the_jobs_modules() {
        let set = ProfileSet::builtin().unwrap();
        let saga = set.get("saga").unwrap();
        let s = script(saga, Some(("~/venvs/proj", &["Python/3.11.3-GCCcore-12.3.0".to_string()])));
        assert!(s.contains("squeue -h -u \"$(id -un)\""), "{s}");
        // In braces: a quota command of several commands has all its output captured.
        assert!(s.contains("out=$( { dusage\n} 2>&1 )"), "{s}");
        assert!(s.contains("venv=\"$HOME\"/venvs/proj") || s.contains("venv=\"$HOME/venvs/proj\""), "{s}");
        assert!(s.contains("module load Python/3.11.3-GCCcore-12.3.0"), "{s}");
        let dtu = set.get("dtu").unwrap();
        let s = script(dtu, None);
        assert!(s.contains("bjobs -noheader") && !s.contains("venv="), "{s}");
    }
}
