//! `--answers FILE.yaml`: every answer the wizard asks for, written down once (a teaching
//! assistant's file for a class, a script's input). Keys are the long flags' names; a flag
//! given on the command line wins over the file. Unknown keys are errors with `file:line`.
//! Reads the file only.

use crate::cli::{RunArgs, SetupArgs};
use crate::settings::OnExisting;
use std::path::{Path, PathBuf};

/// The file's keys, one per flag.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AnswersFile {
    site: Option<String>,
    user: Option<String>,
    account: Option<String>,
    /// Relative paths are relative to the answers file's directory.
    project_dir: Option<PathBuf>,
    project_name: Option<String>,
    python: Option<String>,
    key: Option<PathBuf>,
    #[serde(default)]
    check_job: bool,
    #[serde(default)]
    exclude: Vec<String>,
    keep: Option<u32>,
    bwlimit: Option<String>,
    #[serde(default)]
    allow_upgrades: bool,
    #[serde(default)]
    no_lock: bool,
    #[serde(default)]
    accept_new_host_key: bool,
    #[serde(default)]
    no_passphrase: bool,
    on_existing: Option<OnExisting>,
}

#[derive(Debug, thiserror::Error)]
pub enum AnswersFileError {
    #[error("cannot read the answers file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid answers file {file}:{line}:{column}: {message}")]
    Invalid { file: String, line: u64, column: u64, message: String, snippet: String },
}

impl AnswersFileError {
    pub fn detail(&self) -> Option<String> {
        match self {
            AnswersFileError::Invalid { snippet, .. } => Some(snippet.clone()),
            AnswersFileError::Read { .. } => None,
        }
    }
}

impl crate::exit::Diagnostic for AnswersFileError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            AnswersFileError::Read { .. } => "check the path given to --answers".into(),
            AnswersFileError::Invalid { message, .. } if message.contains("unknown field") => {
                "the keys are the long flags' names without `--`: site, user, account, project-dir, project-name, python, key, check-job, exclude, keep, bwlimit, allow-upgrades, no-lock, accept-new-host-key, no-passphrase, on-existing".into()
            }
            AnswersFileError::Invalid { .. } => {
                "fix the value; `hpcinit --help` describes each answer under its flag".into()
            }
        })
    }
}

impl AnswersFile {
    pub fn read(path: &Path) -> Result<AnswersFile, AnswersFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| AnswersFileError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<AnswersFile, AnswersFileError> {
        if text.trim().is_empty() {
            return Ok(AnswersFile::default());
        }
        serde_saphyr::from_str::<AnswersFile>(text).map_err(|e| {
            let (line, column, message, snippet) = crate::profile::error::located(file, text, &e);
            AnswersFileError::Invalid { file: file.to_string(), line, column, message, snippet }
        })
    }

    /// The answers as flags would give them; relative paths resolved against `base` (the
    /// file's directory).
    pub fn setup_args(&self, base: &Path) -> SetupArgs {
        let rel = |p: &PathBuf| if p.is_relative() && !p.starts_with("~") { base.join(p) } else { p.clone() };
        SetupArgs {
            site: self.site.clone(),
            user: self.user.clone(),
            account: self.account.clone(),
            project_dir: self.project_dir.as_ref().map(rel),
            project_name: self.project_name.clone(),
            python: self.python.clone(),
            key: self.key.as_ref().map(rel),
            check_job: self.check_job,
            exclude: self.exclude.clone(),
            keep: self.keep,
            bwlimit: self.bwlimit.clone(),
            allow_upgrades: self.allow_upgrades,
            no_lock: self.no_lock,
            reproduce: false,
        }
    }

    /// `run` with the file's run answers added where the command line left them out.
    pub fn fill_run(&self, run: &mut RunArgs) {
        run.accept_new_host_key |= self.accept_new_host_key;
        run.no_passphrase |= self.no_passphrase && run.key_passphrase_file.is_none();
        run.on_existing = run.on_existing.or(self.on_existing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Diagnostic;

    #[test]
    fn reads_every_key_and_keeps_python_versions_as_written() {
        let f = AnswersFile::parse(
            "a.yaml",
            "site: saga\nuser: alice\naccount: nn1234k\nproject-dir: code/proj\npython: 3.10\nexclude: [data/]\nkeep: 3\nno-passphrase: true\non-existing: keep\n",
        )
        .unwrap();
        let a = f.setup_args(Path::new("/class"));
        assert_eq!(a.site.as_deref(), Some("saga"));
        assert_eq!(a.python.as_deref(), Some("3.10"), "3.10 is not the number 3.1");
        assert_eq!(a.project_dir, Some(PathBuf::from("/class/code/proj")));
        assert_eq!(a.exclude, ["data/"]);
        assert_eq!(a.keep, Some(3));
        let mut run = <crate::cli::Cli as clap::Parser>::parse_from(["hpcinit"]).run;
        f.fill_run(&mut run);
        assert!(run.no_passphrase);
        assert_eq!(run.on_existing, Some(OnExisting::Keep));
    }

    #[test]
    fn unknown_keys_point_at_their_line() {
        let e = AnswersFile::parse("a.yaml", "site: saga\nusername: alice\n").unwrap_err();
        match &e {
            AnswersFileError::Invalid { line, message, snippet, .. } => {
                assert_eq!(*line, 2, "{e}");
                assert!(message.contains("unknown field `username`"), "{message}");
                assert!(snippet.contains("a.yaml:2:1") && snippet.contains("username: alice"), "{snippet}");
            }
            other => panic!("{other:?}"),
        }
        assert!(e.hint().unwrap_or_default().contains("project-dir"));
        assert!(AnswersFile::parse("a.yaml", "keep: many\n").is_err());
        assert!(AnswersFile::parse("a.yaml", "").is_ok());
    }
}
