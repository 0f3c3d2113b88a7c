//! The files hpcinit writes on the cluster for jobs: the job-script template, an environment
//! snippet other scripts can `source`, and a dask-jobqueue config with the same account,
//! walltime, log directory and prologue. Each carries a `# hpcinit-sha256:` line, so hpcinit
//! replaces only files that are still as it wrote them; a file someone edited is kept and
//! hpcinit's version goes beside it as `<file>.hpcinit-new`. Pure.

use super::facts::{FileState, RemoteFacts};
use super::script_text::{heredoc, sha256_hex, stamped};
use crate::profile::raw::SchedulerKind;
use crate::quote::sh_path;
use serde::Serialize;

/// One file to write.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteFile {
    /// `~/…` path.
    pub path: String,
    pub what: String,
    /// Octal mode.
    pub mode: String,
    /// The full text, with its hash line.
    pub text: String,
    pub decision: FileDecision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileDecision {
    /// Not there yet (or not probed yet): write it.
    Write,
    /// Already exactly this text.
    Same,
    /// hpcinit's own, unedited, older text: replace it.
    Replace,
    /// Someone edited it: keep it and write `<path>.hpcinit-new` beside it.
    KeepEdited,
    /// Edited, and `<path>.hpcinit-new` already holds this text.
    KeptWithNew,
}

impl RemoteFile {
    pub fn new(
        path: String,
        what: &str,
        mode: &str,
        text: String,
        remote: Option<&RemoteFacts>,
    ) -> RemoteFile {
        let sha = sha256_hex(&text);
        let state = |p: &str| remote.and_then(|f| f.files.get(p).cloned().flatten());
        let decision = match state(&path) {
            None => FileDecision::Write,
            Some(FileState { sha: s, .. }) if s == sha => FileDecision::Same,
            Some(FileState { recorded: Some(r), rest: Some(rest), .. }) if r == rest => FileDecision::Replace,
            Some(_) => match state(&new_path(&path)) {
                Some(n) if n.sha == sha => FileDecision::KeptWithNew,
                _ => FileDecision::KeepEdited,
            },
        };
        RemoteFile { path, what: what.into(), mode: mode.into(), text, decision }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.decision, FileDecision::Same | FileDecision::KeptWithNew)
    }
}

/// Where hpcinit's version of an edited file goes.
pub fn new_path(path: &str) -> String {
    format!("{path}.hpcinit-new")
}

/// The function that writes one file: temporary file, mode, rename.
pub const TEMPLATES_SH: &str = include_str!("templates.sh");

/// The script that writes every file not yet done: `templates.sh` and one call per file, its
/// text on standard input.
pub fn write_script(files: &[RemoteFile]) -> String {
    let mut s = TEMPLATES_SH.to_string();
    for f in files.iter().filter(|f| !f.is_done()) {
        let target = match f.decision {
            FileDecision::KeepEdited => new_path(&f.path),
            _ => f.path.clone(),
        };
        let (open, body) = heredoc(&f.text);
        s.push_str(&format!(
            "hpcinit_write_file {} {} {open} || return 1\n{body}\n",
            sh_path(&target),
            f.mode
        ));
    }
    s
}

/// The environment snippet: `source ~/sbatch/<project>-env.sh` gives a shell the job's setup.
pub fn env_snippet(
    site: &str,
    project: &str,
    reset: &str,
    loads: &[String],
    activate: &str,
    log_dir: &str,
) -> String {
    let mut s = format!(
        "# The environment of {project}'s jobs on {site}, written by hpcinit.\n# Use it in any script or shell: source ~/sbatch/{project}-env.sh\n"
    );
    if !reset.is_empty() || !loads.is_empty() {
        s.push_str(&format!("{}\n", super::modules::MODULE_INIT));
    }
    s.push_str(&format!("{reset}\n"));
    if !loads.is_empty() {
        s.push_str(&format!("{}\n", super::modules::load_command(loads).unwrap_or_default()));
    }
    s.push_str(&format!(
        "{activate}\nexport PYTHONUNBUFFERED=1\nexport HPCINIT_LOG_DIR={}\n",
        sh_path(log_dir)
    ));
    stamped(&s, 2)
}

/// What the dask config needs.
pub struct Dask<'a> {
    pub kind: SchedulerKind,
    pub site: &'a str,
    pub project: &'a str,
    pub account: Option<&'a str>,
    /// `HH:MM:SS` for Slurm, `HH:MM` for LSF.
    pub walltime: String,
    pub log_dir: &'a str,
    pub directives: &'a [String],
    pub prologue: Vec<String>,
}

fn yaml_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Dask<'_> {
    /// `~/.config/dask/jobqueue.yaml`: one worker per job, one core, the job's memory.
    pub fn render(&self) -> String {
        let (section, memory, extra, queue) = split_directives(self.kind, self.directives);
        let mut s = format!(
            "# dask-jobqueue settings for {} on {}, written by hpcinit (https://jobqueue.dask.org).\n",
            self.project, self.site
        );
        s.push_str(&format!(
            "jobqueue:\n  {section}:\n    name: dask-worker\n    cores: 1\n    processes: 1\n"
        ));
        s.push_str(&format!("    memory: {}\n", yaml_str(&memory)));
        if let Some(a) = self.account {
            let key = if self.kind == SchedulerKind::Lsf { "project" } else { "account" };
            s.push_str(&format!("    {key}: {}\n", yaml_str(a)));
        }
        if let Some(q) = queue {
            s.push_str(&format!("    queue: {}\n", yaml_str(&q)));
        }
        s.push_str(&format!("    walltime: {}\n", yaml_str(&self.walltime)));
        s.push_str(&format!("    log-directory: {}\n", yaml_str(self.log_dir)));
        if self.kind == SchedulerKind::Lsf {
            s.push_str("    use-stdin: true\n");
        }
        s.push_str("    job-extra-directives:");
        if extra.is_empty() {
            s.push_str(" []\n");
        } else {
            s.push('\n');
            for e in &extra {
                s.push_str(&format!("      - {}\n", yaml_str(e)));
            }
        }
        s.push_str("    job-script-prologue:\n");
        for p in &self.prologue {
            s.push_str(&format!("      - {}\n", yaml_str(p)));
        }
        stamped(&s, 1)
    }
}

/// Splits job directives into dask's own keys: (section, memory, extra directives, queue).
/// dask writes cores and memory itself, so those directives are turned into its keys rather
/// than repeated (Slurm refuses `--mem` together with `--mem-per-cpu`).
fn split_directives(
    kind: SchedulerKind,
    directives: &[String],
) -> (&'static str, String, Vec<String>, Option<String>) {
    let mut memory = None;
    let mut extra = Vec::new();
    let mut queue = None;
    let rusage = regex::Regex::new(r"rusage\[mem=([0-9]+[KMGT]?B?)\]").expect("static regex");
    let gb = |v: &str| {
        let v = v.trim_matches('"');
        match v.strip_suffix(['G', 'M', 'K', 'T']) {
            Some(n) => format!("{n}{}B", &v[v.len() - 1..]),
            None if v.ends_with('B') => v.to_string(),
            None => format!("{v}MB"),
        }
    };
    for d in directives {
        match kind {
            SchedulerKind::Slurm => {
                if let Some(v) = d.strip_prefix("--mem=").or_else(|| d.strip_prefix("--mem-per-cpu=")) {
                    memory = Some(gb(v));
                } else if d.starts_with("--ntasks")
                    || d.starts_with("--cpus-per-task")
                    || d.starts_with("-n ")
                {
                } else {
                    extra.push(d.clone());
                }
            }
            SchedulerKind::Lsf => {
                if let Some(q) = d.strip_prefix("-q ") {
                    queue = Some(q.trim().to_string());
                } else if let Some(m) = rusage.captures(d) {
                    memory = Some(gb(&m[1]));
                } else if d.starts_with("-n ") || d.starts_with("-M ") {
                } else {
                    extra.push(d.clone());
                }
            }
        }
    }
    let section = if kind == SchedulerKind::Lsf { "lsf" } else { "slurm" };
    (section, memory.unwrap_or_else(|| "4GB".into()), extra, queue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_memory_directive_becomes_dask_memory() {
        let d = vec!["--mem-per-cpu=4G".to_string(), "--ntasks=1".into(), "--qos=devel".into()];
        let (s, m, e, q) = split_directives(SchedulerKind::Slurm, &d);
        assert_eq!((s, m.as_str(), e, q), ("slurm", "4GB", vec!["--qos=devel".to_string()], None));
    }

    #[test]
    fn lsf_queue_and_rusage() {
        let d: Vec<String> = ["-q hpc", "-n 1", "-R \"span[hosts=1]\"", "-R \"rusage[mem=4GB]\"", "-M 5GB"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (s, m, e, q) = split_directives(SchedulerKind::Lsf, &d);
        assert_eq!(s, "lsf");
        assert_eq!(m, "4GB");
        assert_eq!(e, vec!["-R \"span[hosts=1]\"".to_string()]);
        assert_eq!(q.as_deref(), Some("hpc"));
    }

    fn facts(path: &str, st: Option<FileState>) -> RemoteFacts {
        let mut f = RemoteFacts::default();
        f.files.insert(path.into(), st);
        f
    }

    #[test]
    fn decisions_protect_edited_files() {
        let text = stamped("#!/bin/bash\necho new\n", 1);
        let ours = sha256_hex(&text);
        let p = "~/sbatch/x.sh".to_string();
        let d = |st| RemoteFile::new(p.clone(), "t", "0755", text.clone(), Some(&facts(&p, st))).decision;
        assert_eq!(d(None), FileDecision::Write);
        assert_eq!(d(Some(FileState { sha: ours.clone(), recorded: None, rest: None })), FileDecision::Same);
        let old = FileState { sha: "x".into(), recorded: Some("a".into()), rest: Some("a".into()) };
        assert_eq!(d(Some(old)), FileDecision::Replace);
        let edited = FileState { sha: "x".into(), recorded: Some("a".into()), rest: Some("b".into()) };
        assert_eq!(d(Some(edited)), FileDecision::KeepEdited);
        assert_eq!(
            d(Some(FileState { sha: "y".into(), recorded: None, rest: None })),
            FileDecision::KeepEdited
        );
    }

    #[test]
    fn write_script_touches_only_what_is_not_done() {
        let a = RemoteFile {
            path: "~/a".into(),
            what: "a".into(),
            mode: "0644".into(),
            text: "A\n".into(),
            decision: FileDecision::Same,
        };
        let b = RemoteFile {
            path: "~/b".into(),
            what: "b".into(),
            mode: "0644".into(),
            text: "B\n".into(),
            decision: FileDecision::KeepEdited,
        };
        let s = write_script(&[a, b]);
        assert!(!s.contains("\"$HOME\"/a"));
        assert!(
            s.ends_with("hpcinit_write_file \"$HOME\"/b.hpcinit-new 0644 <<'HPCINIT_EOF' || return 1\nB\nHPCINIT_EOF\n"),
            "{s}"
        );
    }
}
