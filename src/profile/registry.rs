//! The set of known profiles: built-ins, then the user's files, then `--profile FILE`.
//!
//! Reads profile files from the user's config directory (`$XDG_CONFIG_HOME/hpcinit/profiles`
//! or `~/.config/hpcinit/profiles`) and from paths given on the command line. A later source
//! replaces an earlier profile of the same `name`; an alias may not shadow another profile.

use super::error::ProfileError;
use super::profile::{Profile, ProfileSource};
use super::retired;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/builtin_profiles.rs"));

#[derive(Debug, Clone)]
pub struct ProfileSet {
    profiles: Vec<Profile>,
}

impl ProfileSet {
    /// Built-ins only.
    pub fn builtin() -> Result<ProfileSet, ProfileError> {
        Self::build(Self::read_builtins()?)
    }

    /// Built-ins, then `*.yaml` in `user_dir` (sorted by file name), then `explicit` files.
    pub fn load(user_dir: Option<&Path>, explicit: &[PathBuf]) -> Result<ProfileSet, ProfileError> {
        let mut all = Self::read_builtins()?;
        if let Some(dir) = user_dir {
            for path in yaml_files(dir)? {
                all.push(read_file(&path, ProfileSource::UserDir(path.clone()))?);
            }
        }
        for path in explicit {
            all.push(read_file(path, ProfileSource::Explicit(path.clone()))?);
        }
        Self::build(all)
    }

    fn read_builtins() -> Result<Vec<Profile>, ProfileError> {
        BUILTIN_PROFILES
            .iter()
            .map(|(file, text)| Profile::parse(text, ProfileSource::Builtin(file.to_string())))
            .collect()
    }

    fn build(all: Vec<Profile>) -> Result<ProfileSet, ProfileError> {
        let mut profiles: Vec<Profile> = Vec::new();
        for p in all {
            match profiles.iter_mut().find(|q| q.name() == p.name()) {
                Some(slot) if slot.source.label() == p.source.label() => {
                    return Err(conflict(p.name().as_str(), slot, &p));
                }
                Some(slot) => *slot = p,
                None => profiles.push(p),
            }
        }
        for (i, p) in profiles.iter().enumerate() {
            for alias in p.aliases() {
                if let Some(q) = profiles
                    .iter()
                    .enumerate()
                    .find(|(j, q)| *j != i && (q.name() == alias || q.aliases().any(|a| a == alias)))
                {
                    return Err(conflict(alias.as_str(), p, q.1));
                }
            }
        }
        profiles.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(ProfileSet { profiles })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.iter()
    }

    /// By name or alias; a retired system's name says what replaced it.
    pub fn get(&self, name: &str) -> Result<&Profile, ProfileError> {
        let wanted = name.trim().to_lowercase();
        if let Some(p) = self
            .profiles
            .iter()
            .find(|p| p.name().as_str() == wanted || p.aliases().any(|a| a.as_str() == wanted))
        {
            return Ok(p);
        }
        if let Some(r) = retired::find(&wanted) {
            return Err(ProfileError::Retired {
                display_name: r.display_name.into(),
                when: r.when.into(),
                successor: r.successor.into(),
                detail: format!("{} (source: {})", r.detail, r.source),
            });
        }
        Err(ProfileError::Unknown {
            name: name.to_string(),
            known: self.profiles.iter().filter(|p| !p.is_test()).map(|p| p.name().to_string()).collect(),
        })
    }
}

fn conflict(name: &str, a: &Profile, b: &Profile) -> ProfileError {
    ProfileError::Conflict { name: name.into(), first: a.source.to_string(), second: b.source.to_string() }
}

/// Reads and checks one profile file.
pub fn read_file(path: &Path, source: ProfileSource) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ProfileError::Read { path: path.to_path_buf(), source: e })?;
    Profile::parse(&text, source)
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, ProfileError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ProfileError::Read { path: dir.to_path_buf(), source: e }),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}
