//! The probe: one script, one round trip, that answers everything the remote steps decide on —
//! login shell, `$HOME`, the profile's environment variables, the state of each path hpcinit
//! creates (scratch link, logs, venv), the hashes of the files it writes, the module system and
//! the Python modules it offers, and which commands exist. It prints one tagged JSON line and
//! changes nothing. Pure text here; `exec` runs it and parses the answer into
//! [`super::RemoteFacts`].

use super::facts::ProbePath;
use crate::quote::sh;
use serde::Serialize;

/// What one probe asks about.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeRequest {
    /// Environment variables to report.
    pub env: Vec<String>,
    /// `(key, path)`: a path as the plan writes it (`~/…`, absolute, or `$VAR`).
    pub paths: Vec<(ProbePath, String)>,
    /// Remote files whose hashes are wanted.
    pub files: Vec<String>,
    /// The venv's marker file.
    pub venv_marker: Option<String>,
    /// Commands to look for on PATH.
    pub commands: Vec<String>,
    pub modules: ModuleQuery,
}

/// How to list the Python modules.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModuleQuery {
    /// The module name without version (`python`, `Python`, `python3`).
    pub name: String,
    /// The profile's reset (`module purge`) and what must be loaded first.
    pub reset: String,
    pub prerequisites: Vec<String>,
}

fn is_var(v: &str) -> bool {
    let mut c = v.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The probe's functions.
pub const PROBE_SH: &str = include_str!("probe.sh");

impl ProbeRequest {
    /// The script body: `probe.sh`, the profile's module reset as a function, and one call whose
    /// words say what to look at; `list_modules` false skips the (slower) module listing on
    /// re-probes.
    pub fn body(&self, list_modules: bool) -> String {
        let mut args: Vec<String> = Vec::new();
        args.extend(self.env.iter().filter(|v| is_var(v)).map(|v| format!("env:{v}")));
        args.extend(self.paths.iter().map(|(k, p)| format!("path:{}={p}", k.as_str())));
        args.extend(self.files.iter().map(|f| format!("file:{f}")));
        args.extend(self.venv_marker.iter().map(|m| format!("marker:{m}")));
        args.extend(self.commands.iter().map(|c| format!("command:{c}")));
        if list_modules && !self.modules.name.is_empty() {
            args.push(format!("modules:{}", self.modules.name));
            args.extend(self.modules.prerequisites.iter().map(|p| format!("prereq:{p}")));
        }
        let words: Vec<String> = args.iter().map(|a| sh(a)).collect();
        format!(
            "{PROBE_SH}hpcinit_probe_reset() {{\n  {}\n}}\nhpcinit_probe {}\n",
            self.modules.reset,
            words.join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::last_tagged;
    use crate::exchange::Script;
    use crate::plan::facts::{ModuleSystem, PathKind, ProbePath, RemoteFacts};
    use std::io::Write;

    /// The probe run by a real bash (no modules): every path, variable, file and command comes
    /// back in the JSON hpcinit reads, `~`, `$VAR` and spaces included, and quoting holds.
    #[test]
    #[cfg_attr(windows, ignore = "the cluster side: runs bash")]
    fn a_real_bash_answers_in_the_json_hpcinit_reads() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("my dir")).unwrap();
        std::fs::write(home.path().join("f.txt"), "x\n").unwrap();
        let work = tempfile::tempdir().unwrap();
        let req = ProbeRequest {
            env: vec!["HPCINIT_WORK".into(), "HPCINIT_UNSET".into(), "bad name".into()],
            paths: vec![
                (ProbePath::Venv, "~/my dir".into()),
                (ProbePath::EnvScratch, "$HPCINIT_WORK".into()),
                (ProbePath::Logs, "~/$(touch pwned)".into()),
            ],
            files: vec!["~/f.txt".into(), "~/missing".into()],
            venv_marker: Some("~/v/.hpcinit-ok".into()),
            commands: vec!["sh".into(), "hpcinit-no-such-command".into()],
            modules: ModuleQuery {
                name: "python".into(),
                reset: "module purge".into(),
                prerequisites: vec![],
            },
        };
        let script = Script::new("probe", req.body(true)).plain();
        let mut child = std::process::Command::new("bash")
            .arg("-s")
            .current_dir(home.path())
            .env("HOME", home.path())
            .env("HPCINIT_WORK", work.path())
            .env_remove("HPCINIT_UNSET")
            .env_remove("LMOD_CMD")
            .env_remove("LMOD_VERSION")
            .env_remove("MODULESHOME")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(script.input().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = last_tagged(&stdout, "probe").unwrap_or_else(|| panic!("no probe line: {stdout}"));
        let f: RemoteFacts = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(f.path(ProbePath::Venv).kind, PathKind::Dir, "{json}");
        assert_eq!(f.path(ProbePath::EnvScratch).kind, PathKind::Dir, "{json}");
        assert_eq!(f.path(ProbePath::Logs).kind, PathKind::Missing, "{json}");
        assert!(!home.path().join("pwned").exists(), "a path is never run");
        assert_eq!(f.env.get("HPCINIT_WORK").map(String::as_str), Some(work.path().to_str().unwrap()));
        assert!(!f.env.contains_key("bad name"));
        assert!(f.files.get("~/f.txt").is_some_and(|s| s.is_some()), "{json}");
        assert_eq!(f.files.get("~/missing"), Some(&None));
        assert_eq!(f.commands, ["sh"]);
        assert_eq!(f.module_system.kind, ModuleSystem::None);
        assert_eq!(f.venv_marker, None);
    }
}
