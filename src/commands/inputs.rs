//! The inputs resolver: for every command, the answers (flags > answers file > remembered; the
//! wizard's come in as flags), checked, and the facts of this machine, read once — everything
//! the pure plan is built from before the probe ([`Inputs::resolve`]).
//!
//! Reads the project directory (its requirements, its files when a snapshot is planned, its
//! lock) and checks whether the SSH key exists; changes nothing on this machine or the cluster.

use crate::answers::{self, AnswerError, Answers, LockUse};
use crate::cli::{Cli, SetupArgs};
use crate::env::Env;
use crate::error::Error;
use crate::local::{project, requirements};
use crate::plan::snapshot::{BwLimit, CodeFacts, GitSummary, SyncAnswers};
use crate::plan::{self, LocalFacts, Plan};
use crate::profile::scalar::PythonVersion;
use crate::profile::Profile;
use crate::profile::ProfileSet;
use std::path::{Path, PathBuf};

/// With `--windows-ssh`: the Windows user's home, asked of Windows (inside WSL only).
fn windows_home(args: &SetupArgs, env: &Env) -> Result<Option<crate::local::wsl::WindowsHome>, Error> {
    if !args.windows_ssh {
        return Ok(None);
    }
    match crate::local::wsl::windows_home(env) {
        Some(Ok(home)) => Ok(Some(home)),
        Some(Err(e)) => Err(Error::Usage {
            message: format!("--windows-ssh: cannot find your Windows home: {}", e.0),
            hint: "check that WSL can run Windows programs (`cmd.exe /c echo %USERPROFILE%`), or leave out --windows-ssh".into(),
        }),
        None => Err(Error::Usage {
            message: "--windows-ssh sets up Windows' ssh from inside WSL, and this is not WSL".into(),
            hint: "on Windows itself, run hpcinit.exe (see docs/windows.md); elsewhere leave out --windows-ssh".into(),
        }),
    }
}

/// The default key: one hpcinit key per device, named so it is never mistaken for another.
pub const DEFAULT_KEY: &str = ".ssh/id_ed25519_hpcinit";

/// Everything a plan is built from, before the probe.
pub struct Inputs<'a> {
    pub profile: &'a Profile,
    pub answers: Answers,
    pub local: LocalFacts,
}

impl Inputs<'_> {
    /// With the client the run uses (`--transport`), when it names one.
    fn with_transport(mut self, chosen: Option<crate::settings::Transport>) -> Self {
        if let Some(t) = chosen {
            self.local.transport = t;
        }
        self
    }

    /// The plan from these inputs and, once signed in, the probe's facts.
    pub fn plan(&self, remote: Option<&plan::RemoteFacts>) -> Result<Plan, plan::PlanError> {
        plan::build(self.profile, &self.answers, &self.local, remote)
    }
}

/// When the project's files are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Now: the plan shows how many files and bytes a snapshot holds.
    Now,
    /// By the sync step itself, when it runs (`hpcinit sync` shows no plan, so listing them
    /// twice would only cost time).
    InTheStep,
}

impl<'a> Inputs<'a> {
    /// The inputs of a command (the session's profiles, command line and environment; taken
    /// apart, as the session's prompter is in use beside them): `args` checked, this machine's
    /// facts read, and the client the run uses (`--transport`, else this system's), so the plan
    /// shows the route that runs.
    pub fn resolve(
        set: &'a ProfileSet,
        cli: &Cli,
        env: &Env,
        args: &SetupArgs,
        listing: Listing,
    ) -> Result<Inputs<'a>, Error> {
        Ok(Inputs::read(set, args, env, listing)?.with_transport(cli.run.transport))
    }

    /// As [`Inputs::resolve`], for the wizard's questions before there is a session's answer
    /// (the transport as this system's).
    pub fn read(
        set: &'a ProfileSet,
        args: &SetupArgs,
        env: &Env,
        listing: Listing,
    ) -> Result<Inputs<'a>, Error> {
        read(set, args, env, listing == Listing::Now)
    }
}

fn read<'a>(set: &'a ProfileSet, args: &SetupArgs, env: &Env, list_code: bool) -> Result<Inputs<'a>, Error> {
    // The course file's answers fill what flags and the answers file left open (the site too,
    // when the course has one).
    let course = course(args, env)?;
    let args = &match &course {
        Some(c) => with_course(set, args, c),
        None => args.clone(),
    };
    let site = args.site.as_deref().ok_or_else(|| Error::Usage {
        message: "which cluster? no --site given".into(),
        hint: "pass --site NAME, e.g. `--site saga`; `hpcinit profiles list` shows every site".into(),
    })?;
    let profile = set.get(site)?;
    // After a bootstrap, `--site` alone is enough: the rest is what it was set up with.
    let (args, remembered) = super::answers::with_remembered(args, env, profile);
    let args = &args;
    let user = args.user.as_deref().ok_or_else(|| AnswerError::Missing {
        what: "username",
        flag: "--user NAME",
        hint: format!("it is your username on {}", profile.raw.display_name),
    })?;
    answers::check_user(user)?;
    answers::check_account(profile, args.account.as_deref())?;
    let project_dir = project_dir(args.project_dir.as_deref(), env)?;
    let sync = sync_answers(args)?;
    let known = remembered.as_ref().and_then(|r| r.projects.get(&project_dir.display().to_string()));
    let (no_project, code, project_name) = project(args, env, &project_dir, &sync, known, list_code)?;
    answers::check_project_name(&project_name)?;
    let python = python_version(args)?;
    // The chosen (`--key`) or default key, resolved once: the plan reads it from the local facts.
    let key = chosen_key(args, env)?;
    let key_chosen = key.is_some();
    let key_file = key.unwrap_or_else(|| env.home.join(DEFAULT_KEY));
    let lock = project_lock(args, &project_dir, no_project)?;
    let local = LocalFacts {
        home: env.home.display().to_string(),
        key_chosen,
        key_path: env.tilde(&key_file),
        key_exists: key_file.is_file(),
        python: if no_project {
            requirements::ProjectPython::default()
        } else {
            // The course's requirements (a file or inline), where the course names them.
            match course.as_ref().map(|c| c.python()).transpose()?.flatten() {
                Some(from_course) => from_course,
                None => requirements::read(&project_dir)?,
            }
        },
        code,
        lock,
        direct: direct_reach(profile),
        program: std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
        ssh_config: env.ssh_config_override().map(|p| p.display().to_string()),
        windows: crate::platform::WINDOWS,
        transport: crate::settings::Transport::detect(env),
        windows_home: windows_home(args, env)?,
        wsl: crate::local::wsl::inside(env),
    };
    // The course's shared data on this site, linked as `~/<project>-data`.
    let course_data = course
        .as_ref()
        .and_then(|c| c.site(profile.name().as_str()))
        .and_then(|s| s.data.clone())
        .filter(|_| !no_project)
        .map(|target| answers::CourseData { link: format!("~/{project_name}-data"), target });
    let answers = Answers {
        user: user.into(),
        account: args.account.clone(),
        project_dir,
        project_name,
        python,
        check_job: args.check_job,
        sync,
        lock: lock_use(args),
        allow_upgrades: args.allow_upgrades,
        no_project,
        windows_ssh: args.windows_ssh,
        job_directives: course
            .as_ref()
            .map(|c| c.directives(profile.name().as_str(), profile.raw.scheduler.kind))
            .unwrap_or_default(),
        course_data,
    };
    Ok(Inputs { profile, answers, local })
}

/// The project's `hpcinit.lock` (none without a project), which `hpcinit reproduce` requires.
fn project_lock(
    args: &SetupArgs,
    project_dir: &Path,
    no_project: bool,
) -> Result<Option<crate::local::lock::Lock>, Error> {
    if args.reproduce && args.no_lock {
        return Err(Error::Usage {
            message: "`hpcinit reproduce` rebuilds from hpcinit.lock; --no-lock says not to".into(),
            hint: "leave out --no-lock, or run `hpcinit --site S --no-lock` to build from the requirements"
                .into(),
        });
    }
    let lock = if no_project { None } else { crate::local::lock::read(project_dir)? };
    if args.reproduce && lock.is_none() {
        return Err(crate::local::lock::LockError::Missing { dir: project_dir.to_path_buf() }.into());
    }
    Ok(lock)
}

fn lock_use(args: &SetupArgs) -> LockUse {
    if args.reproduce {
        LockUse::Always
    } else if args.no_lock {
        LockUse::Never
    } else {
        LockUse::Auto
    }
}

/// For a site whose gateway is needed only from outside its network: whether its login host
/// answers directly from here (one TCP connection, 1.5 s at most).
fn direct_reach(profile: &Profile) -> Option<bool> {
    let ssh = &profile.raw.ssh;
    let outside_only = ssh.jump_host.as_ref()?.when == crate::profile::raw::JumpWhen::Outside;
    outside_only.then(|| reach(ssh.host.as_str(), ssh.port))
}

/// Whether `host:port` accepts a TCP connection within 1.5 s.
pub fn reach(host: &str, port: u16) -> bool {
    crate::remote::host_key::connect_tcp(host, port, std::time::Duration::from_millis(1500)).is_ok()
}

fn python_version(args: &SetupArgs) -> Result<Option<PythonVersion>, Error> {
    let parsed = args.python.as_deref().map(|v| {
        v.parse::<PythonVersion>().map_err(|reason| AnswerError::Invalid {
            what: "Python version",
            value: v.into(),
            reason,
            hint: "e.g. `--python 3.11`".into(),
        })
    });
    Ok(parsed.transpose()?)
}

/// `--key`, made absolute; it must exist.
fn chosen_key(args: &SetupArgs, env: &Env) -> Result<Option<PathBuf>, Error> {
    let key = args.key.as_ref().map(|k| absolute(k, env));
    if let Some(k) = &key {
        if !k.is_file() {
            return Err(AnswerError::Invalid {
                what: "key",
                value: k.display().to_string(),
                reason: "no such file".into(),
                hint: "--key takes an existing private key; leave it out and hpcinit creates ~/.ssh/id_ed25519_hpcinit".into(),
            }
            .into());
        }
    }
    Ok(key)
}

fn sync_answers(args: &SetupArgs) -> Result<SyncAnswers, Error> {
    let bwlimit = args
        .bwlimit
        .as_deref()
        .map(|b| {
            b.parse::<BwLimit>().map_err(|reason| AnswerError::Invalid {
                what: "bandwidth limit",
                value: b.into(),
                reason,
                hint: "give KiB/s or a unit, as rsync does: `--bwlimit 500` or `--bwlimit 2M`".into(),
            })
        })
        .transpose()?;
    for p in &args.exclude {
        if let Some(reason) = crate::quote::unsafe_reason(p) {
            return Err(AnswerError::Invalid {
                what: "exclude pattern",
                value: p.clone(),
                reason: reason.into(),
                hint: "patterns use .gitignore syntax, e.g. `--exclude 'data/'`".into(),
            }
            .into());
        }
    }
    if args.keep == Some(0) {
        return Err(AnswerError::Invalid {
            what: "--keep",
            value: "0".into(),
            reason: "the latest snapshot is always kept".into(),
            hint: "keep at least one, e.g. `--keep 5`; leave --keep out to keep them all".into(),
        }
        .into());
    }
    Ok(SyncAnswers { excludes: args.exclude.clone(), keep: args.keep, bwlimit })
}

/// The project's code as a snapshot would hold it now.
/// Whether there is a project, its code, and its name. Run from the home directory, /tmp or
/// Downloads, before any project exists, the account is set up with a general environment,
/// and nothing of the directory is read or copied.
fn project(
    args: &SetupArgs,
    env: &Env,
    dir: &Path,
    sync: &SyncAnswers,
    known: Option<&String>,
    list_code: bool,
) -> Result<(bool, CodeFacts, String), Error> {
    let no_project = args.no_project
        || (args.project_dir.is_none()
            && args.project_name.is_none()
            && !project::is_project(dir, &env.home));
    if no_project {
        let code = CodeFacts { root: dir.display().to_string(), ..CodeFacts::default() };
        return Ok((true, code, crate::answers::GENERAL.to_string()));
    }
    let code = code_facts(dir, sync, env, list_code)?;
    let name = match (&args.project_name, known) {
        (Some(n), _) | (None, Some(n)) => n.clone(),
        (None, None) => dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    Ok((false, code, name))
}

fn code_facts(root: &Path, sync: &SyncAnswers, env: &Env, list: bool) -> Result<CodeFacts, Error> {
    let mut facts = CodeFacts { root: root.display().to_string(), ..CodeFacts::default() };
    if root == env.home {
        // Not listed: a home directory is no project, and sending it would fill scratch.
        facts.problem = Some("the project directory is your home directory".into());
        return Ok(facts);
    }
    if !list {
        return Ok(facts);
    }
    let scan = project::scan(root, &sync.excludes)?;
    facts.files = scan.files();
    facts.bytes = scan.bytes();
    facts.venvs = scan.venvs.clone();
    facts.git = project::git_state(root).as_ref().map(GitSummary::from);
    Ok(facts)
}

/// `p` as typed (`~/…`, absolute, or relative to the current directory), made absolute.
pub(crate) fn absolute(p: &Path, env: &Env) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~") {
        env.home.join(rest)
    } else if p.is_absolute() {
        p.to_path_buf()
    } else {
        env.cwd.join(p)
    }
}

pub(crate) fn project_dir(arg: Option<&Path>, env: &Env) -> Result<PathBuf, Error> {
    let dir = arg.map(|p| absolute(p, env)).unwrap_or_else(|| env.cwd.clone());
    let dir = dir.canonicalize().map(crate::env::plain).map_err(|e| Error::LocalRead {
        what: "project directory",
        path: dir.clone(),
        source: e,
    })?;
    // Without --project-dir, the project is the git work tree the current directory is in.
    let dir = if arg.is_some() { dir } else { project::root_of(&dir, &env.home) };
    if !dir.is_dir() {
        return Err(Error::Usage {
            message: format!("project directory {} is not a directory", dir.display()),
            hint: "pass the project's folder with --project-dir DIR".into(),
        });
    }
    if let Some(reason) = crate::quote::unsafe_reason(&dir.to_string_lossy()) {
        return Err(AnswerError::Invalid {
            what: "project directory",
            value: dir.display().to_string(),
            reason: reason.into(),
            hint: "rename the folder or pass another with --project-dir".into(),
        }
        .into());
    }
    Ok(dir)
}

/// The run's course file, read and current: `--course FILE`, else `hpcinit-course.yaml` in the
/// project's folder; none with `--no-course`.
pub fn course(args: &SetupArgs, env: &Env) -> Result<Option<crate::course_file::CourseFile>, Error> {
    if args.no_course {
        return Ok(None);
    }
    let explicit = args.course.as_ref().map(|p| if p.is_relative() { env.cwd.join(p) } else { p.clone() });
    let dir = match &explicit {
        Some(_) => env.cwd.clone(),
        None => project_dir(args.project_dir.as_deref(), env)?,
    };
    let Some(path) = crate::course_file::find(explicit.as_deref(), &dir) else { return Ok(None) };
    let course = crate::course_file::CourseFile::read(&path)?;
    course.current(&crate::course_file::today_utc())?;
    Ok(Some(course))
}

/// `args` with the course's answers where flags and the answers file left gaps: the site when
/// the course has one, that site's account, the Python, the excludes.
pub fn with_course(set: &ProfileSet, args: &SetupArgs, course: &crate::course_file::CourseFile) -> SetupArgs {
    let site = args.site.clone().or_else(|| (course.sites.len() == 1).then(|| course.sites[0].site.clone()));
    let name = site.as_deref().and_then(|s| set.get(s).ok()).map(|p| p.name().to_string());
    let account =
        name.as_deref().and_then(|s| course.site(s)).and_then(|s| s.account.as_ref().map(|a| a.0.clone()));
    // A course found in the project's folder makes that folder the project: nothing to ask.
    let project_dir = (args.course.is_none()
        && course.path.file_name().is_some_and(|n| n == crate::course_file::FILE_NAME))
    .then(|| course.path.parent().map(std::path::Path::to_path_buf))
    .flatten();
    let from_course = SetupArgs {
        site,
        account,
        project_dir,
        python: course.python.as_ref().map(|p| p.to_string()),
        exclude: course.exclude.clone(),
        ..Default::default()
    };
    args.or(&from_course)
}
