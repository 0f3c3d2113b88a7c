//! hpcinit's record of what it set up where, under the XDG state directory
//! (`$XDG_STATE_HOME/hpcinit`, default `~/.local/state/hpcinit`): one YAML file per site and
//! project with the environment's modules and `pip freeze`, which a lock file is made from.
//! Written atomically; never read for decisions the cluster can answer itself.

use crate::env::Env;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The environment built for a project on a site.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvironmentRecord {
    pub site: String,
    pub project: String,
    pub python: String,
    pub venv: String,
    /// The environment's real directory (the venv path links to it).
    pub built: String,
    /// The modules loaded, as `module -t list` printed them.
    pub modules: Vec<String>,
    /// The requirement lines it was built from.
    pub requirements: Vec<String>,
    /// `pip freeze` of the environment.
    pub freeze: Vec<String>,
    /// The plan inputs' hash the environment's marker holds: the record describes the
    /// environment built as planned only while they are equal.
    #[serde(default)]
    pub inputs_sha: String,
}

/// The record of `project` on `site`, if there is a readable one.
pub fn recorded(env: &Env, site: &str, project: &str) -> Option<EnvironmentRecord> {
    let text = std::fs::read_to_string(environment_file(env, site, project)).ok()?;
    serde_saphyr::from_str(&text).ok()
}

/// `$XDG_STATE_HOME/hpcinit`, or `~/.local/state/hpcinit`.
pub fn dir(env: &Env) -> PathBuf {
    match env.var("XDG_STATE_HOME").filter(|d| d.starts_with('/')) {
        Some(d) => PathBuf::from(d).join("hpcinit"),
        None => env.home.join(".local/state/hpcinit"),
    }
}

/// Where a project's record for a site lives.
pub fn environment_file(env: &Env, site: &str, project: &str) -> PathBuf {
    dir(env).join(site).join(format!("{project}.yaml"))
}

/// Writes the record (atomically; 0600), unless it holds that already.
pub fn record(env: &Env, rec: &EnvironmentRecord) -> std::io::Result<PathBuf> {
    let path = environment_file(env, &rec.site, &rec.project);
    if recorded(env, &rec.site, &rec.project).as_ref() == Some(rec) {
        return Ok(path);
    }
    let parent = path.parent().expect("has a parent");
    std::fs::create_dir_all(parent)?;
    let text = format!(
        "# What hpcinit built for {} on {}; a lock file is made from this.\n{}",
        rec.project,
        rec.site,
        serde_saphyr::to_string(rec).map_err(std::io::Error::other)?
    );
    super::atomic::write(&path, text.as_bytes(), 0o600)?;
    Ok(path)
}

/// The answers a site was last set up with, so that later commands (`sync`, `doctor`,
/// `check-job`, `uninstall`) need only `--site`.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SiteAnswers {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Project names given with `--project-name`, by project directory.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub projects: std::collections::BTreeMap<String, String>,
}

fn answers_file(env: &Env, site: &str) -> PathBuf {
    dir(env).join(site).join("answers.yaml")
}

/// What [`remember`] wrote for `site`, if anything (a damaged file counts as nothing).
pub fn remembered(env: &Env, site: &str) -> Option<SiteAnswers> {
    let text = std::fs::read_to_string(answers_file(env, site)).ok()?;
    serde_saphyr::from_str(&text).ok()
}

/// Records the answers of a successful bootstrap (atomically; 0600).
pub fn remember(env: &Env, site: &str, answers: &SiteAnswers) -> std::io::Result<()> {
    if remembered(env, site).as_ref() == Some(answers) {
        return Ok(());
    }
    let path = answers_file(env, site);
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let text = format!(
        "# The answers {site} was last set up with; later commands use them when not given.\n{}",
        serde_saphyr::to_string(answers).map_err(std::io::Error::other)?
    );
    super::atomic::write(&path, text.as_bytes(), 0o600)
}

/// Forgets them (`hpcinit uninstall`); whether there was anything.
pub fn forget(env: &Env, site: &str) -> bool {
    std::fs::remove_file(answers_file(env, site)).is_ok()
}
