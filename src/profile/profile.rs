//! A checked site profile: parsed from YAML (unknown fields rejected, every scalar typed), then
//! checked across fields. Every error names file, line and column.

use super::error::ProfileError;
use super::raw::{ProfileKind, RawProfile, RegistrationMode, SchedulerKind};
use super::scalar::{Memory, PathTemplate, SiteName, Walltime};
use serde_saphyr::{Location, Options};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Where a profile came from; later sources override earlier ones of the same name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "kebab-case")]
pub enum ProfileSource {
    /// Embedded in the binary from `profiles/<file>`.
    Builtin(String),
    /// The user's config directory (`~/.config/hpcinit/profiles/`).
    UserDir(PathBuf),
    /// Given with `--profile FILE`.
    Explicit(PathBuf),
}

impl fmt::Display for ProfileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileSource::Builtin(file) => write!(f, "profiles/{file}"),
            ProfileSource::UserDir(p) | ProfileSource::Explicit(p) => write!(f, "{}", p.display()),
        }
    }
}

impl ProfileSource {
    pub fn label(&self) -> &'static str {
        match self {
            ProfileSource::Builtin(_) => "built-in",
            ProfileSource::UserDir(_) => "user",
            ProfileSource::Explicit(_) => "--profile",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub raw: RawProfile,
    pub source: ProfileSource,
    /// The YAML as written, comments included.
    pub text: String,
    /// Field path → why it is unverified.
    unverified: BTreeMap<String, String>,
}

impl Profile {
    pub fn parse(text: &str, source: ProfileSource) -> Result<Profile, ProfileError> {
        let file = source.to_string();
        let mut options = Options::default();
        options.strict_booleans = true;
        options.with_snippet = false;
        let raw: RawProfile = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| ProfileError::from_yaml(&file, text, &e))?;
        let checker = Checker { file: &file, text };
        checker.check(&raw)?;
        let unverified = raw.unverified.iter().map(|u| (u.field.value.clone(), u.why.clone())).collect();
        Ok(Profile { raw, source, text: text.to_string(), unverified })
    }

    pub fn name(&self) -> &SiteName {
        &self.raw.name.value
    }

    pub fn aliases(&self) -> impl Iterator<Item = &SiteName> {
        self.raw.aliases.iter().map(|a| &a.value)
    }

    pub fn is_test(&self) -> bool {
        self.raw.kind == ProfileKind::Test
    }

    /// Why `field` (a dotted path) is unverified, if it is. A listed parent covers its children.
    pub fn unverified(&self, field: &str) -> Option<&str> {
        self.unverified
            .iter()
            .find(|(k, _)| {
                field == k.as_str()
                    || field
                        .strip_prefix(k.as_str())
                        .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
            })
            .map(|(_, why)| why.as_str())
    }

    pub fn unverified_fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.unverified.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// What an interactive job asks for by default: the profile's `interactive` section, or
    /// hpcinit's own modest defaults (one core, 2 GB, one hour) where it has none.
    pub fn interactive(&self) -> Interactive {
        match &self.raw.interactive {
            Some(i) => Interactive {
                time: i.time.value,
                memory: i.memory.value.clone(),
                cpus: i.cpus,
                gpus: i.gpus,
                partition: i.partition.clone(),
                directives: i.directives.iter().map(|d| d.to_string()).collect(),
                web_portal: i.web_portal.as_ref().map(|u| u.to_string()),
                source: Some(i.source.to_string()),
            },
            None => Interactive {
                time: Walltime { minutes: 60 },
                memory: Memory::try_from("2G".to_string()).expect("a valid amount"),
                cpus: 1,
                gpus: 0,
                partition: None,
                directives: Vec::new(),
                web_portal: None,
                source: None,
            },
        }
    }

    /// The compute nodes as ssh reaches them, where the profile says (`nodes`).
    pub fn nodes(&self) -> Option<Nodes> {
        let n = self.raw.nodes.as_ref()?;
        Some(Nodes {
            patterns: n.patterns.value.iter().map(|p| p.to_string()).collect(),
            accept_keys: n.accept_keys,
            login_vscode: n.login_vscode,
            ondemand: n.ondemand.as_ref().map(|u| u.to_string()),
            source: n.source.to_string(),
        })
    }

    /// Whether `node` is one of the profile's compute-node names.
    pub fn is_node(&self, node: &str) -> bool {
        self.raw.nodes.as_ref().is_some_and(|n| n.patterns.value.iter().any(|p| p.matches(node)))
    }

    /// "password or SSH key + Duo", for tables.
    pub fn auth_summary(&self) -> String {
        let auth = &self.raw.auth;
        let first = auth.first_factor.iter().map(|m| m.human()).collect::<Vec<_>>().join(" or ");
        match auth.second_factor.human() {
            Some(second) => format!("{first} + {second}"),
            None => first,
        }
    }
}

/// An interactive job's defaults, from the profile or hpcinit's own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Interactive {
    pub time: Walltime,
    pub memory: Memory,
    pub cpus: u32,
    pub gpus: u32,
    pub partition: Option<String>,
    pub directives: Vec<String>,
    pub web_portal: Option<String>,
    /// Where the site says so; `None`: hpcinit's own defaults, not the site's.
    pub source: Option<String>,
}

/// A site's compute nodes, as the profile describes them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Nodes {
    pub patterns: Vec<String>,
    pub accept_keys: bool,
    pub login_vscode: crate::profile::raw::LoginVscode,
    pub ondemand: Option<String>,
    pub source: String,
}

/// Cross-field checks, each reported at the line of the field at fault.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn fail(&self, at: Location, message: String, hint: &str) -> ProfileError {
        ProfileError::invalid(self.file, self.text, at.line(), at.column(), message, hint.to_string())
    }

    fn check(&self, raw: &RawProfile) -> Result<(), ProfileError> {
        self.check_scheduler(raw)?;
        let persist = &raw.ssh.multiplex.control_persist;
        let ok = matches!(persist.value.as_str(), "yes" | "no") || PERSIST.is_match(&persist.value);
        if !ok {
            return Err(self.fail(
                persist.referenced,
                format!("control_persist `{}` is not an OpenSSH time", persist.value),
                "write e.g. `10m` or `4h` (see ControlPersist in `man ssh_config`)",
            ));
        }
        self.check_key_registration(raw)?;
        if !raw.ssh.host_keys.is_empty() && raw.ssh.host_keys_source.is_none() {
            return Err(self.fail(
                raw.name.referenced,
                "`ssh.host_keys` is set but `ssh.host_keys_source` is missing".into(),
                "pinned fingerprints must say where they were published",
            ));
        }
        if let Some(j) = &raw.ssh.jump_host {
            if !j.host_keys.is_empty() && j.host_keys_source.is_none() {
                return Err(self.fail(
                    raw.name.referenced,
                    "`ssh.jump_host.host_keys` is set but `ssh.jump_host.host_keys_source` is missing".into(),
                    "pinned fingerprints must say where they were published",
                ));
            }
        }
        self.check_venv(raw)?;
        self.check_python(raw)?;
        self.check_unverified(raw)
    }

    fn check_scheduler(&self, raw: &RawProfile) -> Result<(), ProfileError> {
        let sched = &raw.scheduler;
        let submit = sched.submit.value.trim();
        let expected = match sched.kind {
            SchedulerKind::Slurm => "sbatch",
            SchedulerKind::Lsf => "bsub <",
        };
        if !submit.starts_with(expected) {
            return Err(self.fail(
                sched.submit.referenced,
                format!("`submit: {submit}` does not fit scheduler `{}`", sched.kind.human()),
                &format!("write `submit: {expected}` (LSF reads #BSUB lines only through `bsub <`)"),
            ));
        }
        if let Some(acc) = &sched.account {
            if !acc.pattern.is_match(&acc.example.value) {
                return Err(self.fail(
                    acc.example.referenced,
                    format!(
                        "account example `{}` does not match its pattern `{}`",
                        acc.example.value,
                        acc.pattern.source()
                    ),
                    "make the example a real account name of the site's form, or fix the pattern",
                ));
            }
        }
        let time = &sched.job.time;
        if time.value > sched.max_walltime {
            return Err(self.fail(
                time.referenced,
                format!(
                    "job template time {} is longer than the site's max_walltime {}",
                    time.value.slurm(),
                    sched.max_walltime.slurm()
                ),
                "a template should ask for less than the limit, e.g. 01:00:00",
            ));
        }
        if let Some(i) = &raw.interactive {
            if i.time.value > sched.max_walltime {
                return Err(self.fail(
                    i.time.referenced,
                    format!(
                        "interactive time {} is longer than the site's max_walltime {}",
                        i.time.value.slurm(),
                        sched.max_walltime.slurm()
                    ),
                    "an interactive job should ask for an hour or two, e.g. 01:00:00",
                ));
            }
            let bad = i.partition.as_deref().is_some_and(|p| {
                p.is_empty()
                    || p.starts_with('-')
                    || !p.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            });
            if bad || i.cpus == 0 {
                return Err(self.fail(
                    i.time.referenced,
                    "interactive `partition` must be one name (letters, digits, `_-.`) and `cpus` at least 1"
                        .into(),
                    "write e.g. `partition: interactive` and `cpus: 1`",
                ));
            }
        }
        if let Some(n) = &raw.nodes {
            if n.patterns.value.is_empty() {
                return Err(self.fail(
                    n.patterns.referenced,
                    "`nodes.patterns` is empty: hpcinit cannot tell a compute node's name from any other host".into(),
                    "list the node names' ssh patterns, e.g. `patterns: [\"nc?????\", \"ng?????\"]`",
                ));
            }
        }
        Ok(())
    }

    fn check_key_registration(&self, raw: &RawProfile) -> Result<(), ProfileError> {
        let reg = &raw.key_registration;
        match (reg.mode.value, &reg.portal_url) {
            (RegistrationMode::Portal, None) => {
                return Err(self.fail(
                    reg.mode.referenced,
                    "key_registration mode `portal` needs `portal_url`".into(),
                    "add `portal_url: https://…` with the page where people paste their public key",
                ))
            }
            (RegistrationMode::AuthorizedKeys | RegistrationMode::NotForLogin, Some(_)) => {
                return Err(self.fail(
                    reg.mode.referenced,
                    "`portal_url` is set but the mode is not `portal`".into(),
                    "use `mode: portal`, or remove `portal_url`",
                ))
            }
            _ => {}
        }
        if reg.required_before_login && reg.mode.value == RegistrationMode::NotForLogin {
            return Err(self.fail(
                reg.mode.referenced,
                "`required_before_login` contradicts mode `not-for-login`".into(),
                "a site where keys are not for login cannot require one before login",
            ));
        }
        Ok(())
    }

    fn check_venv(&self, raw: &RawProfile) -> Result<(), ProfileError> {
        let loc = &raw.python.venv.location;
        let scratch = &raw.storage.scratch.path.value;
        let mut forbidden: Vec<(&PathTemplate, &str)> =
            vec![(scratch, "scratch is purged, and a venv half-deleted by a purge breaks every job")];
        if let Some(link) = &raw.storage.scratch.site_link {
            forbidden.push((link, "it is the site's link to purged scratch"));
        }
        forbidden.push((&PATH_SCRATCH_LINK, "`~/scratch` is hpcinit's link to purged scratch"));
        forbidden.extend(raw.python.venv.avoid.iter().map(|a| (&a.path, a.why.as_str())));
        for (bad, why) in forbidden {
            if is_under(loc.value.as_str(), bad.as_str()) {
                return Err(self.fail(
                    loc.referenced,
                    format!("venv location `{}` is under `{}`: {why}", loc.value, bad),
                    "put venvs under home or the project space, e.g. `~/venvs/{project}`",
                ));
            }
        }
        if loc.value.needs("project") {
            Ok(())
        } else {
            Err(self.fail(
                loc.referenced,
                format!(
                    "venv location `{}` lacks {{project}}: every project would share one venv",
                    loc.value
                ),
                "end it with `/{project}`, e.g. `~/venvs/{project}`",
            ))
        }
    }

    fn check_python(&self, raw: &RawProfile) -> Result<(), ProfileError> {
        let py = &raw.python;
        let want = &py.default_version;
        if py.modules.known.is_empty() {
            return Ok(());
        }
        let found = py.modules.known.iter().any(|m| {
            super::scalar::PythonVersion::find_in(m.as_str()).is_some_and(|v| want.value.matches(&v))
        });
        if found {
            Ok(())
        } else {
            Err(self.fail(
                want.referenced,
                format!("default_version {} matches none of python.modules.known", want.value),
                "list the module that provides it under python.modules.known, or change the default",
            ))
        }
    }

    fn check_unverified(&self, raw: &RawProfile) -> Result<(), ProfileError> {
        let tree = serde_json::to_value(raw).expect("a profile serializes");
        for u in &raw.unverified {
            if lookup(&tree, &u.field.value).is_none() {
                return Err(self.fail(
                    u.field.referenced,
                    format!("unverified field `{}` names no field of this profile", u.field.value),
                    "write the dotted path of a field that is set, e.g. `scheduler.max_walltime` or `python.modules.known[0]`",
                ));
            }
        }
        Ok(())
    }
}

static PATH_SCRATCH_LINK: std::sync::LazyLock<PathTemplate> =
    std::sync::LazyLock::new(|| PathTemplate::try_from("~/scratch".to_string()).expect("static path"));

/// Is template path `p` the same as, or below, `base`? Compared by components, as written.
fn is_under(p: &str, base: &str) -> bool {
    let p: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
    let b: Vec<&str> = base.split('/').filter(|c| !c.is_empty()).collect();
    p.len() >= b.len() && p[..b.len()] == b[..]
}

/// Resolves `a.b[2].c` in a JSON tree; `None` when absent or null.
fn lookup<'v>(tree: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    let mut cur = tree;
    for part in path.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        cur = cur.get(key)?;
        for idx in indexes.split('[').filter(|s| !s.is_empty()) {
            let n: usize = idx.strip_suffix(']')?.parse().ok()?;
            cur = cur.get(n)?;
        }
    }
    (!cur.is_null()).then_some(cur)
}

/// `ControlPersist`'s time form (`10m`, `600`).
static PERSIST: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"^[0-9]+[smhdw]?$").expect("static regex"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under() {
        assert!(is_under("/scratch/{user}/venvs", "/scratch/{user}"));
        assert!(is_under("~/scratch/x", "~/scratch"));
        assert!(!is_under("~/scratchy/x", "~/scratch"));
        assert!(!is_under("~/venvs/{project}", "/scratch/{user}"));
    }

    #[test]
    fn lookup_paths() {
        let v = serde_json::json!({"a": {"b": [1, {"c": 2}]}, "n": null});
        assert_eq!(lookup(&v, "a.b[0]"), Some(&serde_json::json!(1)));
        assert_eq!(lookup(&v, "a.b[1].c"), Some(&serde_json::json!(2)));
        assert!(lookup(&v, "a.b[2]").is_none());
        assert!(lookup(&v, "a.x").is_none());
        assert!(lookup(&v, "n").is_none());
    }
}
