//! `hpcinit-course.yaml`: what a teaching assistant would otherwise tell every student by hand
//! (the account, the partition or reservation, the Python, the requirements, where the course
//! data is), written once at the root of the course's repository and checked before a class
//! uses it. Versioned (`course-version`), read with `file:line` errors as profiles are, and
//! checked against the built-in profiles (`hpcinit course check`). A student's run takes its
//! answers after the command line and an answers file, before what hpcinit remembers and
//! before the wizard. Reads the file only.

use crate::local::requirements::{self, ProjectPython, RequirementsError};
use crate::profile::raw::SchedulerKind;
use crate::profile::scalar::{Memory, PythonVersion, Walltime};
use crate::profile::{Profile, ProfileSet};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Today's date in UTC, `YYYY-MM-DD` (civil from days, Howard Hinnant's algorithm).
pub fn today_utc() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The file a course repository holds at its root.
pub const FILE_NAME: &str = "hpcinit-course.yaml";
/// The schema this hpcinit reads.
pub const SCHEMA: u32 = 1;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCourse {
    course_version: Spanned<u32>,
    course: String,
    contact: String,
    #[serde(default)]
    valid_until: Option<Spanned<String>>,
    /// The oldest hpcinit the course works with (`0.7`, `0.7.0`).
    #[serde(default)]
    hpcinit: Option<Spanned<String>>,
    sites: BTreeMap<String, RawSite>,
    #[serde(default)]
    python: Option<Spanned<String>>,
    /// A requirements file in the course repository (relative to this file), or the lines.
    #[serde(default)]
    requirements: Option<Spanned<RawRequirements>>,
    #[serde(default)]
    jobs: RawResources,
    #[serde(default)]
    interactive: RawResources,
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
enum RawRequirements {
    File(String),
    Inline(Vec<String>),
}

/// Where a course's requirements are: a file in the course repository, or lines in the course
/// file itself (each as a requirements file's line, `--hash` options included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CourseRequirements {
    File(PathBuf),
    Inline(Vec<String>),
}

#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawResources {
    #[serde(default)]
    time: Option<Spanned<String>>,
    #[serde(default)]
    memory: Option<Spanned<String>>,
    #[serde(default)]
    cpus: Option<Spanned<u32>>,
    #[serde(default)]
    gpus: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSite {
    #[serde(default)]
    account: Option<Spanned<String>>,
    #[serde(default)]
    partition: Option<Spanned<String>>,
    #[serde(default)]
    reservation: Option<Spanned<String>>,
    /// The course's shared data on this site, linked into the student's layout.
    #[serde(default)]
    data: Option<Spanned<String>>,
    // Not `#[serde(flatten)]` with RawResources: a flattened field loses its place in the file.
    #[serde(default)]
    time: Option<Spanned<String>>,
    #[serde(default)]
    memory: Option<Spanned<String>>,
    #[serde(default)]
    cpus: Option<Spanned<u32>>,
    #[serde(default)]
    gpus: Option<Spanned<u32>>,
}

impl RawSite {
    fn resources(&self) -> RawResources {
        RawResources {
            time: self.time.clone(),
            memory: self.memory.clone(),
            cpus: self.cpus.clone(),
            gpus: self.gpus.clone(),
        }
    }
}

/// A course file, read and checked on its own (its sites' names are profiles, its values
/// parse); [`CourseFile::check`] checks it against each site's profile.
#[derive(Debug, Clone)]
pub struct CourseFile {
    pub path: PathBuf,
    pub course: String,
    pub contact: String,
    pub valid_until: Option<String>,
    pub python: Option<PythonVersion>,
    pub requirements: Option<CourseRequirements>,
    pub exclude: Vec<String>,
    /// `hpcinit jupyter`, `code` and `shell` defaults.
    pub interactive: Resources,
    /// Per site (its profile's name), in the file's order of names.
    pub sites: Vec<CourseSite>,
    raw_python_line: Option<u64>,
    raw_requirements_line: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct CourseSite {
    pub site: String,
    pub line: u64,
    pub account: Option<(String, u64)>,
    pub partition: Option<String>,
    pub reservation: Option<String>,
    pub data: Option<String>,
    pub time: Option<(Walltime, u64)>,
    pub memory: Option<String>,
    pub cpus: Option<u32>,
    pub gpus: Option<u32>,
    pub interactive: Resources,
}

/// Interactive defaults (`hpcinit jupyter`, `code`, `shell`).
#[derive(Debug, Clone, Default)]
pub struct Resources {
    pub time: Option<String>,
    pub memory: Option<String>,
    pub cpus: Option<u32>,
    pub gpus: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum CourseError {
    #[error("cannot read the course file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid course file {file}:{line}:{column}: {message}")]
    Invalid { file: String, line: u64, column: u64, message: String, snippet: String, hint: String },
    #[error("the course file {file} is for {course}, which ended on {until}")]
    Expired { file: String, course: String, until: String, contact: String },
    #[error("the course file {file} needs hpcinit {wanted} or newer; this is hpcinit {have}")]
    TooOld { file: String, wanted: String, have: String },
}

impl CourseError {
    pub fn detail(&self) -> Option<String> {
        match self {
            CourseError::Invalid { snippet, .. } => Some(snippet.clone()),
            _ => None,
        }
    }
}

impl crate::exit::Diagnostic for CourseError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            CourseError::Read { .. } => "check the path given to --course".into(),
            CourseError::Invalid { hint, .. } => hint.clone(),
            CourseError::Expired { contact, .. } => format!(
                "ask the course's contact ({contact}) for this term's file, or run with --no-course to set up without it"
            ),
            CourseError::TooOld { .. } => {
                "update hpcinit (docs/install.md), then run the same command again".into()
            }
        })
    }
}

/// The keys a course file may have, for the hint of an unknown one.
const KEYS: &str = "course-version, course, contact, valid-until, hpcinit, sites (account, partition, reservation, data, time, memory, cpus, gpus), python, requirements, jobs, interactive, exclude";

impl CourseFile {
    pub fn read(path: &Path) -> Result<CourseFile, CourseError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| CourseError::Read { path: path.to_path_buf(), source })?;
        Self::parse(path, &text)
    }

    /// Parses and checks what needs no profile; `today` is `YYYY-MM-DD`.
    pub fn parse(path: &Path, text: &str) -> Result<CourseFile, CourseError> {
        let file = path.display().to_string();
        let raw: RawCourse = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column, message, snippet) = crate::profile::error::located(&file, text, &e);
            let message = if message.contains("untagged enum RawRequirements") {
                "`requirements` is a file's path or a list of requirement lines".to_string()
            } else {
                message
            };
            let hint = if message.starts_with("`requirements`") {
                "write `requirements: requirements.txt`, or one line per item: `requirements: [\"numpy==2.1.*\"]`".into()
            } else if message.contains("unknown field") {
                format!("check the key's spelling and indentation; a course file has: {KEYS}")
            } else {
                format!("fix the value; docs/teaching.md describes every key ({KEYS})")
            };
            CourseError::Invalid { file: file.clone(), line, column, message, snippet, hint }
        })?;
        let fail = |line: u64, column: u64, message: String, hint: String| CourseError::Invalid {
            file: file.clone(),
            line,
            column,
            snippet: crate::profile::error::snippet(&file, text, line, column),
            message,
            hint,
        };
        let v = &raw.course_version;
        if v.value != SCHEMA {
            return Err(fail(
                v.referenced.line(),
                v.referenced.column(),
                format!("course-version {} is not one this hpcinit reads (it reads {SCHEMA})", v.value),
                if v.value > SCHEMA {
                    "update hpcinit (docs/install.md): the file was written for a newer one".into()
                } else {
                    format!("write `course-version: {SCHEMA}`")
                },
            ));
        }
        if let Some(min) = &raw.hpcinit {
            let parse = |s: &str| -> Option<Vec<u64>> {
                s.trim().trim_start_matches(">=").trim().split('.').map(|p| p.parse().ok()).collect()
            };
            let Some(wanted) = parse(&min.value) else {
                return Err(fail(
                    min.referenced.line(),
                    min.referenced.column(),
                    format!("`{}` is not a version", min.value),
                    "write the oldest hpcinit the course works with, e.g. `hpcinit: \"0.7\"`".into(),
                ));
            };
            let have = parse(env!("CARGO_PKG_VERSION")).unwrap_or_default();
            if have < wanted {
                return Err(CourseError::TooOld {
                    file: file.clone(),
                    wanted: min.value.trim().trim_start_matches(">=").trim().to_string(),
                    have: env!("CARGO_PKG_VERSION").into(),
                });
            }
        }
        if let Some(until) = &raw.valid_until {
            let ok = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}$").expect("static regex").is_match(&until.value);
            if !ok {
                return Err(fail(
                    until.referenced.line(),
                    until.referenced.column(),
                    format!("`{}` is not a date", until.value),
                    "write the last day the file is meant for as YYYY-MM-DD, e.g. `valid-until: 2027-06-30`"
                        .into(),
                ));
            }
        }
        let python = match &raw.python {
            Some(p) => Some(PythonVersion::try_from(p.value.clone()).map_err(|e| {
                fail(
                    p.referenced.line(),
                    p.referenced.column(),
                    e.to_string(),
                    "write a version such as `python: \"3.11\"` (quoted)".into(),
                )
            })?),
            None => None,
        };
        if raw.sites.is_empty() {
            return Err(fail(
                line_of(text, "sites:").unwrap_or(1),
                1,
                "a course names at least one site".into(),
                "add `sites:` with the profile name of each cluster the course uses, e.g. `saga:`".into(),
            ));
        }
        let resources = |r: &RawResources,
                         fail: &dyn Fn(u64, u64, String, String) -> CourseError|
         -> Result<(), CourseError> {
            if let Some(t) = &r.time {
                Walltime::try_from(t.value.clone()).map_err(|e| {
                    fail(
                        t.referenced.line(),
                        t.referenced.column(),
                        e.to_string(),
                        "write a walltime such as `time: \"01:00:00\"`".into(),
                    )
                })?;
            }
            if let Some(m) = &r.memory {
                Memory::try_from(m.value.clone()).map_err(|e| {
                    fail(
                        m.referenced.line(),
                        m.referenced.column(),
                        e.to_string(),
                        "write memory as Slurm takes it, e.g. `memory: 4G`".into(),
                    )
                })?;
            }
            Ok(())
        };
        resources(&raw.jobs, &fail)?;
        resources(&raw.interactive, &fail)?;
        let mut sites = Vec::new();
        for (name, s) in &raw.sites {
            let own = s.resources();
            resources(&own, &fail)?;
            let line = line_of(text, &format!("{name}:")).unwrap_or(1);
            let pick = |site: &Option<Spanned<String>>, course: &Option<Spanned<String>>| {
                site.as_ref().or(course.as_ref()).map(|v| v.value.clone())
            };
            let time = own.time.as_ref().or(raw.jobs.time.as_ref());
            sites.push(CourseSite {
                site: name.clone(),
                line,
                account: s.account.as_ref().map(|a| (a.value.clone(), a.referenced.line())),
                partition: s.partition.as_ref().map(|v| v.value.clone()),
                reservation: s.reservation.as_ref().map(|v| v.value.clone()),
                data: s.data.as_ref().map(|v| v.value.clone()),
                time: time
                    .and_then(|t| Walltime::try_from(t.value.clone()).ok().map(|w| (w, t.referenced.line()))),
                memory: pick(&own.memory, &raw.jobs.memory),
                cpus: own.cpus.as_ref().or(raw.jobs.cpus.as_ref()).map(|c| c.value),
                gpus: own.gpus.as_ref().or(raw.jobs.gpus.as_ref()).map(|c| c.value),
                interactive: Resources {
                    time: raw.interactive.time.as_ref().map(|v| v.value.clone()),
                    memory: raw.interactive.memory.as_ref().map(|v| v.value.clone()),
                    cpus: raw.interactive.cpus.as_ref().map(|v| v.value),
                    gpus: raw.interactive.gpus.as_ref().map(|v| v.value),
                },
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(CourseFile {
            path: path.to_path_buf(),
            course: raw.course,
            contact: raw.contact,
            valid_until: raw.valid_until.map(|v| v.value),
            python,
            requirements: raw.requirements.as_ref().map(|r| match &r.value {
                RawRequirements::File(f) => CourseRequirements::File(base.join(f)),
                RawRequirements::Inline(lines) => CourseRequirements::Inline(lines.clone()),
            }),
            exclude: raw.exclude,
            interactive: Resources {
                time: raw.interactive.time.as_ref().map(|v| v.value.clone()),
                memory: raw.interactive.memory.as_ref().map(|v| v.value.clone()),
                cpus: raw.interactive.cpus.as_ref().map(|v| v.value),
                gpus: raw.interactive.gpus.as_ref().map(|v| v.value),
            },
            sites,
            raw_python_line: raw.python.as_ref().map(|p| p.referenced.line()),
            raw_requirements_line: raw.requirements.as_ref().map(|r| r.referenced.line()),
        })
    }

    /// Refuses a course that has ended (`today` is `YYYY-MM-DD`).
    pub fn current(&self, today: &str) -> Result<(), CourseError> {
        match &self.valid_until {
            Some(until) if until.as_str() < today => Err(CourseError::Expired {
                file: self.path.display().to_string(),
                course: self.course.clone(),
                until: until.clone(),
                contact: self.contact.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// The course's entry for `site` (a profile's name).
    pub fn site(&self, site: &str) -> Option<&CourseSite> {
        self.sites.iter().find(|s| s.site == site)
    }

    /// Every check that needs no sign-in, one row each, against the built-in profiles.
    pub fn check(&self, profiles: &ProfileSet) -> Vec<CheckRow> {
        let file = self.path.display().to_string();
        let at = |line: u64| format!("{file}:{line}");
        let mut rows = Vec::new();
        if self.requirements.is_some() {
            let line = self.raw_requirements_line.unwrap_or(1);
            rows.extend(self.requirements_rows(&at(line)));
        }
        for s in &self.sites {
            let profile = match profiles.get(&s.site) {
                Ok(p) => p,
                Err(_) => {
                    rows.push(CheckRow::fail(
                        Some(&s.site),
                        format!("no site profile named `{}`", s.site),
                        format!("{}: use a profile's name (`hpcinit profiles list`)", at(s.line)),
                    ));
                    continue;
                }
            };
            let name = profile.raw.display_name.clone();
            rows.push(CheckRow::ok(Some(&s.site), format!("site: {name} ({})", profile.name())));
            let account = s.account.as_ref().map(|(a, _)| a.as_str());
            match crate::answers::check_account(profile, account) {
                Ok(()) => {
                    if let Some(a) = account {
                        rows.push(CheckRow::ok(Some(&s.site), format!("account {a}: the form {name} uses")));
                    }
                }
                Err(e) => {
                    let line = s.account.as_ref().map_or(s.line, |(_, l)| *l);
                    let hint = crate::exit::Diagnostic::hint(&e).unwrap_or_default();
                    rows.push(CheckRow::fail(
                        Some(&s.site),
                        format!("account: {e}"),
                        format!("{}: {hint}", at(line)),
                    ));
                }
            }
            if let Some((t, line)) = &s.time {
                let max = &profile.raw.scheduler.max_walltime;
                if t.minutes > max.minutes {
                    rows.push(CheckRow::fail(
                        Some(&s.site),
                        format!("time {}: longer than {name} allows ({})", t.slurm(), max.slurm()),
                        format!("{}: at most {}", at(*line), max.slurm()),
                    ));
                }
            }
            if let Some(py) = &self.python {
                rows.push(python_row(profile, py, &at(self.raw_python_line.unwrap_or(1))));
            }
        }
        rows
    }

    /// The job directives the course sets for `kind`; they replace the profile's of the same
    /// kind (`plan::directives::merged`). LSF reserves memory per slot, so the course's memory
    /// (the job's) is divided by its CPUs, reserved (`rusage`) and made the limit (`-M`).
    pub fn directives(&self, site: &str, kind: SchedulerKind) -> Vec<String> {
        let Some(s) = self.site(site) else { return Vec::new() };
        let lsf = kind == SchedulerKind::Lsf;
        let per_slot = |m: &String| {
            Memory::try_from(m.clone())
                .map_or(0, |m| m.megabytes().div_ceil(u64::from(s.cpus.unwrap_or(1).max(1))))
        };
        // (Slurm's form, LSF's forms), in the order a job script lists them.
        let each: [Option<(String, Vec<String>)>; 6] = [
            s.time.as_ref().map(|(t, _)| (format!("--time={}", t.slurm()), vec![format!("-W {}", t.lsf())])),
            s.partition.as_ref().map(|p| (format!("--partition={p}"), vec![format!("-q {p}")])),
            s.reservation.as_ref().map(|r| (format!("--reservation={r}"), vec![format!("-U {r}")])),
            s.memory.as_ref().map(|m| {
                let mb = per_slot(m);
                (format!("--mem={m}"), vec![format!("-R \"rusage[mem={mb}MB]\""), format!("-M {mb}MB")])
            }),
            s.cpus.map(|c| (format!("--cpus-per-task={c}"), vec![format!("-n {c}")])),
            s.gpus.filter(|g| *g > 0).map(|g| (format!("--gpus={g}"), vec![format!("-gpu \"num={g}\"")])),
        ];
        each.into_iter()
            .flatten()
            .flat_map(|(slurm, lsf_forms)| if lsf { lsf_forms } else { vec![slurm] })
            .collect()
    }

    /// The course's requirement lines, read as pip would read them (nothing without any).
    pub fn python(&self) -> Result<Option<ProjectPython>, RequirementsError> {
        match &self.requirements {
            None => Ok(None),
            Some(CourseRequirements::File(f)) => requirements::read_file(f).map(Some),
            Some(CourseRequirements::Inline(lines)) => requirements::read_inline(&self.path, lines).map(Some),
        }
    }

    /// The requirements' rows: readable, how many, and what pip's hash-checking mode would refuse.
    fn requirements_rows(&self, at: &str) -> Vec<CheckRow> {
        let from = match &self.requirements {
            Some(CourseRequirements::File(f)) => f.display().to_string(),
            _ => "inline".to_string(),
        };
        let p = match self.python() {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                return vec![CheckRow::fail(
                    None,
                    format!("requirements: {e}"),
                    format!("{at}: fix the file or the path"),
                )]
            }
        };
        let hashed = p.lines.iter().any(|l| l.contains("--hash="));
        let mut rows = vec![CheckRow::ok(
            None,
            format!(
                "requirements: {from} ({} requirement{}{})",
                p.lines.len(),
                if p.lines.len() == 1 { "" } else { "s" },
                if hashed { ", with hashes" } else { "" }
            ),
        )];
        // Left out the way a run leaves them out (the run's plan says so too): not an error.
        for s in &p.skipped {
            rows.push(CheckRow::ok(
                None,
                format!("requirements: `{}` is left out on the cluster: {}", s.line, s.why),
            ));
        }
        for problem in requirements::hash_mode_problems(&p.lines) {
            rows.push(CheckRow::fail(
                None,
                format!("requirements: {problem}"),
                format!(
                    "{at}: pin every requirement with `==` and give each its hashes (`pip hash FILE`, or `pip-compile --generate-hashes`), or drop all hashes"
                ),
            ));
        }
        rows
    }
}

/// Whether the site offers the course's Python, from the profile's list of known modules.
fn python_row(profile: &Profile, py: &PythonVersion, at: &str) -> CheckRow {
    let site = profile.name().to_string();
    let mods = &profile.raw.python.modules;
    if profile.raw.python.venv.recipe == crate::profile::raw::VenvRecipe::ContainerWrapper {
        return CheckRow::ok(
            Some(&site),
            format!("python {py}: the container wrapper brings its own (checked with --probe)"),
        );
    }
    let known: Vec<String> = mods.known.iter().map(|m| m.to_string()).collect();
    let found = crate::plan::modules::with_versions(&known);
    if found.is_empty() {
        return CheckRow::ok(
            Some(&site),
            format!("python {py}: the profile lists no modules (checked with --probe)"),
        );
    }
    match found.iter().find(|(v, _)| v.major == py.major && v.minor == py.minor) {
        Some((_, m)) => CheckRow::ok(Some(&site), format!("python {py}: {m}")),
        None => CheckRow::fail(
            Some(&site),
            format!(
                "python {py}: not among {}'s modules ({})",
                profile.raw.display_name,
                crate::plan::modules::version_list(&found)
            ),
            format!(
                "{at}: choose one the site has, or check with `hpcinit course check --site {site} --probe`"
            ),
        ),
    }
}

/// The first line that starts (after indentation) with `key`, 1-based.
fn line_of(text: &str, key: &str) -> Option<u64> {
    text.lines().position(|l| l.trim_start().starts_with(key)).map(|i| i as u64 + 1)
}

/// One row of `hpcinit course check`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckRow {
    pub site: Option<String>,
    pub ok: bool,
    pub what: String,
    /// Where and how to fix it (failures only).
    pub fix: Option<String>,
}

impl CheckRow {
    fn ok(site: Option<&str>, what: String) -> CheckRow {
        CheckRow { site: site.map(String::from), ok: true, what, fix: None }
    }
    fn fail(site: Option<&str>, what: String, fix: String) -> CheckRow {
        CheckRow { site: site.map(String::from), ok: false, what, fix: Some(fix) }
    }
}

/// The course file for a run: `--course FILE`, else `hpcinit-course.yaml` in the project's
/// directory.
pub fn find(explicit: Option<&Path>, project_dir: &Path) -> Option<PathBuf> {
    match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => Some(project_dir.join(FILE_NAME)).filter(|p| p.is_file()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "course-version: 1\ncourse: INF-1234 Machine learning on HPC\ncontact: ta@example.edu\nvalid-until: 2027-06-30\nhpcinit: \"0.7\"\nsites:\n  saga:\n    account: nn1234k\n    reservation: inf1234\n    time: \"01:00:00\"\n    memory: 4G\n  narval:\n    account: def-someprof\npython: \"3.11\"\nexclude: [data/]\n";

    fn parse(text: &str) -> Result<CourseFile, CourseError> {
        CourseFile::parse(Path::new("hpcinit-course.yaml"), text)
    }

    #[test]
    fn a_course_file_gives_each_site_its_values() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.course, "INF-1234 Machine learning on HPC");
        assert_eq!(c.sites.iter().map(|s| s.site.as_str()).collect::<Vec<_>>(), ["narval", "saga"]);
        let saga = c.site("saga").unwrap();
        assert_eq!(saga.account.as_ref().map(|a| a.0.as_str()), Some("nn1234k"));
        assert_eq!(
            c.directives("saga", SchedulerKind::Slurm),
            ["--time=01:00:00", "--reservation=inf1234", "--mem=4G"]
        );
        // On LSF: memory per slot, reserved and made the limit.
        let dtu = parse(
            &GOOD.replace("  narval:\n", "  dtu:\n    cpus: 4\n    memory: 8G\n    gpus: 1\n  narval:\n"),
        )
        .unwrap();
        assert_eq!(
            dtu.directives("dtu", SchedulerKind::Lsf),
            ["-R \"rusage[mem=2048MB]\"", "-M 2048MB", "-n 4", "-gpu \"num=1\""]
        );
        assert_eq!(c.python.as_ref().map(|p| p.to_string()).as_deref(), Some("3.11"));
        let set = ProfileSet::builtin().unwrap();
        let rows = c.check(&set);
        assert!(rows.iter().all(|r| r.ok), "{rows:#?}");
    }

    #[test]
    fn today_is_a_date() {
        let t = today_utc();
        assert!(regex::Regex::new(r"^20\d\d-\d\d-\d\d$").unwrap().is_match(&t), "{t}");
    }

    #[test]
    fn errors_point_at_their_line() {
        for (text, line, needle) in [
            (GOOD.replace("    account: nn1234k\n", "    acount: nn1234k\n"), 8, "unknown field `acount`"),
            (GOOD.replace("time: \"01:00:00\"", "time: \"an hour\""), 10, ""),
            (GOOD.replace("course-version: 1", "course-version: 2"), 1, "course-version 2"),
            (GOOD.replace("valid-until: 2027-06-30", "valid-until: June"), 4, "not a date"),
            (GOOD.replace("python: \"3.11\"", "python: three"), 14, ""),
        ] {
            match parse(&text) {
                Err(CourseError::Invalid { line: l, message, snippet, .. }) => {
                    assert_eq!(l, line, "{message}\n{text}");
                    assert!(message.contains(needle), "{message}");
                    assert!(snippet.contains(&format!("hpcinit-course.yaml:{line}:")), "{snippet}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_expired_or_too_new_course_is_a_clear_message() {
        let c = parse(GOOD).unwrap();
        assert!(c.current("2027-06-30").is_ok());
        let e = c.current("2027-07-01").unwrap_err();
        assert!(e.to_string().contains("which ended on 2027-06-30"), "{e}");
        assert!(crate::exit::Diagnostic::hint(&e).unwrap().contains("ta@example.edu"));
        match parse(&GOOD.replace("hpcinit: \"0.7\"", "hpcinit: \"99.0\"")) {
            Err(e @ CourseError::TooOld { .. }) => {
                assert!(e.to_string().contains("needs hpcinit 99.0 or newer"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn check_names_what_is_wrong_and_where() {
        let text = GOOD
            .replace("    account: nn1234k\n", "    account: nn1234\n")
            .replace("  narval:\n", "  narvel:\n")
            .replace("python: \"3.11\"", "python: \"3.4\"");
        let c = parse(&text).unwrap();
        let rows = c.check(&ProfileSet::builtin().unwrap());
        let failed: Vec<&CheckRow> = rows.iter().filter(|r| !r.ok).collect();
        assert!(
            failed.iter().any(|r| r.what.contains("no site profile named `narvel`")
                && r.fix.as_deref().unwrap().starts_with("hpcinit-course.yaml:12")),
            "{failed:#?}"
        );
        assert!(
            failed.iter().any(|r| r.site.as_deref() == Some("saga")
                && r.what.starts_with("account")
                && r.fix.as_deref().unwrap().starts_with("hpcinit-course.yaml:8")),
            "{failed:#?}"
        );
        assert!(failed.iter().any(|r| r.what.starts_with("python 3.4: not among")), "{failed:#?}");
    }

    #[test]
    fn requirements_are_a_file_or_inline_lines_with_hashes_checked() {
        let file = parse(&format!("{GOOD}requirements: requirements.txt\n")).unwrap();
        assert_eq!(file.requirements, Some(CourseRequirements::File(PathBuf::from("requirements.txt"))));
        let h = format!("--hash=sha256:{}", "0".repeat(64));
        let text = format!("{GOOD}requirements:\n  - numpy==2.1.0 {h}\n  - pandas>=2\n");
        let c = parse(&text).unwrap();
        assert_eq!(
            c.requirements,
            Some(CourseRequirements::Inline(vec![format!("numpy==2.1.0 {h}"), "pandas>=2".into()]))
        );
        assert_eq!(c.python().unwrap().unwrap().lines.len(), 2);
        let rows = c.check(&ProfileSet::builtin().unwrap());
        let failed: Vec<&CheckRow> = rows.iter().filter(|r| !r.ok).collect();
        assert!(
            failed.iter().any(|r| r.what.contains("`pandas>=2` is not pinned")
                && r.fix.as_deref().unwrap().starts_with("hpcinit-course.yaml:17:")),
            "{rows:#?}"
        );
        let err = parse(&format!("{GOOD}requirements: {{numpy: 2}}\n")).unwrap_err();
        assert!(err.to_string().contains("hpcinit-course.yaml:16"), "{err}");
        assert!(err.to_string().contains("a file's path or a list"), "{err}");
    }
}
