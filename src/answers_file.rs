//! `--answers FILE.yaml`: every answer the wizard asks for, written down once (a teaching
//! assistant's file for a class, a script's input). Keys are the long flags' names; a flag
//! given on the command line wins over the file. Unknown keys are errors with `file:line`.
//! Reads the file only.

use crate::cli::{RunArgs, SetupArgs};
use crate::settings::OnExisting;
use std::path::{Path, PathBuf};

/// An answers file: the answers `SetupArgs` holds, and the run's own answers below, under the
/// long flags' names. Both are read from the same text; a key neither knows is an error at its
/// line.
#[derive(Debug, Default)]
pub struct AnswersFile {
    setup: SetupArgs,
    run: RunAnswers,
}

/// The answers of a run that an answers file may give besides `SetupArgs`.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RunAnswers {
    accept_new_host_key: bool,
    no_passphrase: bool,
    on_existing: Option<OnExisting>,
}

impl RunAnswers {
    fn keys() -> Vec<String> {
        match serde_json::to_value(RunAnswers::default()) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// Every key an answers file may have.
fn known_keys() -> Vec<String> {
    let mut keys = SetupArgs::keys();
    keys.extend(RunAnswers::keys());
    keys
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
                format!("the keys are the long flags' names without `--`: {}", known_keys().join(", "))
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
        let invalid = |e: serde_saphyr::Error| {
            let (line, column, message, snippet) = crate::profile::error::located(file, text, &e);
            AnswersFileError::Invalid { file: file.to_string(), line, column, message, snippet }
        };
        // The keys first: one that no answer knows is named at its line.
        let keys: std::collections::BTreeMap<String, serde::de::IgnoredAny> =
            serde_saphyr::from_str(text).map_err(invalid)?;
        let known = known_keys();
        if let Some(key) = keys.keys().find(|k| !known.contains(k)) {
            let line =
                text.lines().position(|l| l.starts_with(&format!("{key}:"))).map_or(1, |i| i as u64 + 1);
            return Err(AnswersFileError::Invalid {
                file: file.to_string(),
                line,
                column: 1,
                message: format!("unknown field `{key}`"),
                snippet: crate::profile::error::snippet(file, text, line, 1),
            });
        }
        // Then each part, its values checked where they stand.
        let setup = part(file, text)?;
        let run = part(file, text)?;
        Ok(AnswersFile { setup, run })
    }

    /// The answers as flags would give them; relative paths resolved against `base` (the
    /// file's directory).
    pub fn setup_args(&self, base: &Path) -> SetupArgs {
        let rel = |p: &PathBuf| if p.is_relative() && !p.starts_with("~") { base.join(p) } else { p.clone() };
        SetupArgs {
            project_dir: self.setup.project_dir.as_ref().map(rel),
            key: self.setup.key.as_ref().map(rel),
            ..self.setup.clone()
        }
    }

    /// `run` with the file's run answers added where the command line left them out.
    pub fn fill_run(&self, run: &mut RunArgs) {
        run.accept_new_host_key |= self.run.accept_new_host_key;
        run.no_passphrase |= self.run.no_passphrase && run.key_passphrase_file.is_none();
        run.on_existing = run.on_existing.or(self.run.on_existing);
    }
}

/// One part of the answers, read from the whole text (the other part's keys are skipped; an
/// unknown key was refused before).
fn part<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, AnswersFileError> {
    serde_saphyr::from_str(text).map_err(|e| {
        let (line, column, message, snippet) = crate::profile::error::located(file, text, &e);
        AnswersFileError::Invalid { file: file.to_string(), line, column, message, snippet }
    })
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

    #[test]
    fn a_bad_value_is_named_at_its_line_whichever_part_it_belongs_to() {
        for (text, line) in
            [("site: saga\nno-passphrase: true\nkeep: many\n", 3), ("user: a\non-existing: maybe\n", 2)]
        {
            match AnswersFile::parse("a.yaml", text).unwrap_err() {
                AnswersFileError::Invalid { line: l, snippet, .. } => {
                    assert_eq!(l, line, "{text}");
                    assert!(snippet.contains(&format!("a.yaml:{line}:")), "{snippet}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn every_flag_answer_is_a_key_and_the_subcommands_own_is_not() {
        let keys = known_keys();
        for k in
            ["site", "user", "project-dir", "check-job", "exclude", "no-lock", "on-existing", "no-passphrase"]
        {
            assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
        }
        assert!(!keys.contains(&"reproduce".to_string()));
        assert!(AnswersFile::parse("a.yaml", "reproduce: true\n").is_err());
    }
}
