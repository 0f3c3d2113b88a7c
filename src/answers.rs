//! What the person told hpcinit (flags today; the wizard and `--answers FILE` later), checked
//! before it is used anywhere: a value that could become an option or a second line is refused.

use crate::profile::scalar::PythonVersion;
use crate::profile::Profile;
use crate::quote::unsafe_reason;
use std::path::PathBuf;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Answers {
    pub user: String,
    pub account: Option<String>,
    pub project_dir: PathBuf,
    pub project_name: String,
    pub python: Option<PythonVersion>,
    /// Also submit a test job at the end (`--check-job`).
    pub check_job: bool,
    /// How code snapshots are made and kept.
    pub sync: SyncAnswers,
    /// Whether the environment is rebuilt from the project's `hpcinit.lock`.
    pub lock: LockUse,
    /// Take the closest newer version where the lock pins one the site cannot provide
    /// (`--allow-upgrades`).
    pub allow_upgrades: bool,
    /// No project yet (run from the home directory, `/tmp`, …, or `--no-project`): the
    /// account is set up with a general environment; no code is copied, no lock is written.
    pub no_project: bool,
    /// Inside WSL: set up Windows' own ssh (and so VS Code) for the site too (`--windows-ssh`).
    pub windows_ssh: bool,
    /// Job directives the course file adds after the profile's (a partition, a reservation,
    /// resources); empty without a course.
    pub job_directives: Vec<String>,
    /// The course's shared data on this site, linked into the layout.
    pub course_data: Option<CourseData>,
}

/// A course's shared data: `link` (`~/<project>-data`) to `target` on the cluster.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CourseData {
    pub link: String,
    pub target: String,
}

/// The name of the general environment and job template set up without a project.
pub const GENERAL: &str = "general";

/// How a bootstrap uses the project's `hpcinit.lock`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockUse {
    /// Rebuild from the lock when it was made on another site; on its own site, build from the
    /// requirements and refresh it.
    #[default]
    Auto,
    /// Always from the lock, on its own site too (`hpcinit reproduce`).
    Always,
    /// Never: build from the requirements and leave the lock as it is (`--no-lock`).
    Never,
}

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("missing {what}")]
    Missing { what: &'static str, flag: &'static str, hint: String },
    #[error("{what} `{value}` is not usable: {reason}")]
    Invalid { what: &'static str, value: String, reason: String, hint: String },
}

impl crate::exit::Diagnostic for AnswerError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            AnswerError::Missing { flag, hint, .. } => format!("pass {flag}; {hint}"),
            AnswerError::Invalid { hint, .. } => hint.clone(),
        })
    }
}

fn check_word(what: &'static str, value: &str, allowed: &str, hint: &str) -> Result<(), AnswerError> {
    let invalid = |reason: String| AnswerError::Invalid {
        what,
        value: value.to_string(),
        reason,
        hint: hint.to_string(),
    };
    if let Some(reason) = unsafe_reason(value) {
        return Err(invalid(reason.to_string()));
    }
    let re = regex::Regex::new(allowed).expect("static regex");
    if !re.is_match(value) {
        return Err(invalid("it holds characters other than letters, digits, `.`, `_` and `-`".into()));
    }
    Ok(())
}

/// A cluster username: letters, digits, `_`, `.`, `-`; not starting with `-` or `.`.
pub fn check_user(user: &str) -> Result<(), AnswerError> {
    check_word(
        "username",
        user,
        r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$",
        "give the username the site gave you, e.g. `--user alice` (DTU: your study number such as s123456)",
    )
}

/// A project name, used in file names on the cluster (`~/sbatch/<project>.sh`).
pub fn check_project_name(name: &str) -> Result<(), AnswerError> {
    check_word(
        "project name",
        name,
        r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        "name the project with `--project-name NAME` (letters, digits, `.`, `_`, `-`)",
    )
}

/// Checks the account against what the site requires and the form its names take.
pub fn check_account(profile: &Profile, account: Option<&str>) -> Result<(), AnswerError> {
    let spec = profile.raw.scheduler.account.as_ref();
    match (spec, account) {
        (Some(spec), None) if spec.required => Err(AnswerError::Missing {
            what: "account",
            flag: "--account",
            hint: format!(
                "every job on {} must name one, e.g. `--account {}`; find yours: {}",
                profile.raw.display_name, spec.example.value, spec.how_to_find
            ),
        }),
        (_, None) => Ok(()),
        (None, Some(a)) => Err(AnswerError::Invalid {
            what: "account",
            value: a.to_string(),
            reason: format!("{} takes no account", profile.raw.display_name),
            hint: "leave out --account for this site".into(),
        }),
        (Some(spec), Some(a)) => {
            if let Some(reason) = unsafe_reason(a) {
                return Err(AnswerError::Invalid {
                    what: "account",
                    value: a.to_string(),
                    reason: reason.into(),
                    hint: format!("accounts look like `{}`", spec.example.value),
                });
            }
            if spec.pattern.is_match(a) {
                Ok(())
            } else {
                Err(AnswerError::Invalid {
                    what: "account",
                    value: a.to_string(),
                    reason: format!(
                        "{} accounts look like `{}`",
                        profile.raw.display_name, spec.example.value
                    ),
                    hint: format!("find yours: {}", spec.how_to_find),
                })
            }
        }
    }
}

/// What the person asked of snapshots.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncAnswers {
    /// Patterns left out, gitignore syntax (`--exclude`).
    pub excludes: Vec<String>,
    /// Keep this many snapshots; `None` keeps all (`--keep`).
    pub keep: Option<u32>,
    /// A bandwidth limit (`--bwlimit`): rsync's text and bytes per second.
    pub bwlimit: Option<BwLimit>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BwLimit {
    pub text: String,
    pub bytes_per_second: u64,
}

impl std::str::FromStr for BwLimit {
    type Err = String;

    /// rsync's form: a number of KiB/s, or with a unit `K`, `M`, `G` (1024-based).
    fn from_str(s: &str) -> Result<BwLimit, String> {
        let t = s.trim();
        let (num, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit() && *c != '.') {
            Some((i, _)) => t.split_at(i),
            None => (t, "K"),
        };
        let factor: f64 = match unit.to_ascii_uppercase().trim_end_matches(['B', '/', 'S']) {
            "K" | "KI" => 1024.0,
            "M" | "MI" => 1024.0 * 1024.0,
            "G" | "GI" => 1024.0 * 1024.0 * 1024.0,
            _ => return Err(format!("unknown unit `{unit}`")),
        };
        let n: f64 = num.parse().map_err(|_| "not a number".to_string())?;
        let bytes = (n * factor) as u64;
        if bytes < 1024 {
            return Err("below 1 KiB/s".into());
        }
        Ok(BwLimit { text: format!("{}", bytes / 1024), bytes_per_second: bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_usernames_are_refused() {
        for bad in ["-oProxyCommand=x", "a;b", "$(id)", "`id`", "a b", "a\nb", "", ".hidden", "a'b"] {
            assert!(check_user(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["alice", "s123456", "first.last", "a_b-c"] {
            assert!(check_user(good).is_ok(), "{good:?} should pass");
        }
    }

    #[test]
    fn project_names() {
        assert!(check_project_name("my-proj_2.0").is_ok());
        assert!(check_project_name("my proj").is_err());
        assert!(check_project_name("-x").is_err());
    }
}
