//! The wizard's questions: the answers a bootstrap needs that no flag or answers file gave,
//! asked in a terminal with sensible defaults, each checked as it is typed (the same checks as
//! the flags). Without a terminal nothing is asked: the missing answer's error names its flag.
//! Reads `~/.ssh` (which keys exist) and the project directory; writes nothing.

use super::inputs::Listing;
use crate::answers;
use crate::cli::SetupArgs;
use crate::env::Env;
use crate::error::Error;
use crate::exit::Diagnostic;
use crate::profile::raw::RegistrationMode;
use crate::profile::scalar::PythonVersion;
use crate::profile::{Profile, ProfileSet};
use crate::ui::{PromptError, Prompter};
use std::path::{Path, PathBuf};

/// Which questions to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Only answers the run cannot go without (site, username, a required account).
    Missing,
    /// Every answer not given as a flag or in the answers file (the wizard's first pass).
    Unset,
    /// Every answer, offering the current ones as defaults ("Customize").
    All,
}

/// Fills gaps in `args` by asking; does nothing where the prompter cannot ask.
pub fn ask(
    set: &ProfileSet,
    env: &Env,
    prompter: &mut dyn Prompter,
    args: &mut SetupArgs,
    ask: Ask,
) -> Result<(), Error> {
    if !prompter.interactive() {
        return Ok(());
    }
    let all = ask == Ask::All;
    let optional = ask != Ask::Missing;
    // The course file's answers first: a question is asked only for what it cannot know.
    let course = super::inputs::course(args, env)?;
    if let Some(c) = &course {
        *args = super::inputs::with_course(set, args, c);
    }
    if args.site.is_none() || all {
        args.site = Some(site(set, prompter, args.site.as_deref(), course.as_ref())?);
        if let Some(c) = &course {
            *args = super::inputs::with_course(set, args, c);
        }
    }
    let profile = set.get(args.site.as_deref().expect("chosen above"))?;
    let display = profile.raw.display_name.clone();
    let earlier = crate::local::state::remembered(env, profile.name().as_str()).unwrap_or_default();
    if (args.user.is_none() && (optional || earlier.user.is_empty())) || all {
        let user = prompter
            .input(
                &format!("Your username on {display}"),
                args.user.as_deref().unwrap_or(&earlier.user),
                &|v| answers::check_user(v).map_err(|e| format!("{e}; {}", e.hint().unwrap_or_default())),
                "--user NAME",
            )
            .map_err(prompt)?;
        args.user = Some(user);
    }
    account(profile, &earlier, prompter, args, optional, all)?;
    if !optional {
        return Ok(());
    }
    if args.key.is_none() || all {
        args.key = key(env, profile, prompter, args.key.as_deref())?;
    }
    if (args.project_dir.is_none() && !args.no_project) || all {
        args.project_dir = project_dir(env, prompter, args.project_dir.as_ref())?;
        args.no_project = args.project_dir.is_none();
    }
    if args.python.is_none() || all {
        args.python = python(set, env, profile, prompter, args)?;
    }
    // Inside WSL, Windows' own ssh (and VS Code) can reach the site too, with consent.
    if crate::local::wsl::inside(env) && ((!args.windows_ssh && !args.no_windows_ssh) || all) {
        args.windows_ssh = prompter
            .confirm(
                &format!("Also set up Windows' own ssh and VS Code for {display} (your Windows .ssh: the Host block and a copy of the key only you can read)?"),
                true,
                "--windows-ssh",
            )
            .map_err(prompt)?;
        args.no_windows_ssh = !args.windows_ssh;
    }
    Ok(())
}

/// The account, when the site has one: asked when it is needed or the wizard asks everything.
fn account(
    profile: &Profile,
    earlier: &crate::local::state::SiteAnswers,
    prompter: &mut dyn Prompter,
    args: &mut SetupArgs,
    optional: bool,
    all: bool,
) -> Result<(), Error> {
    let Some(spec) = &profile.raw.scheduler.account else { return Ok(()) };
    let needed = spec.required && earlier.account.is_none();
    if (args.account.is_none() && (needed || optional)) || all {
        let question = if spec.required {
            format!("Account your jobs are charged to (like {}; {})", spec.example.value, spec.how_to_find)
        } else {
            format!("Account for your jobs, if you have one (like {}; Enter: none)", spec.example.value)
        };
        let p = profile;
        let account = prompter
            .input(
                &question,
                args.account.as_deref().or(earlier.account.as_deref()).unwrap_or(""),
                &|v| {
                    let v = Some(v).filter(|v| !v.is_empty());
                    answers::check_account(p, v).map_err(|e| format!("{e}; {}", e.hint().unwrap_or_default()))
                },
                "--account NAME",
            )
            .map_err(prompt)?;
        args.account = Some(account).filter(|a| !a.is_empty());
    }
    Ok(())
}

/// The project folder, the detected one as the default; `None`: no project for now (the
/// current directory is none, and the person says so).
fn project_dir(
    env: &Env,
    prompter: &mut dyn Prompter,
    given: Option<&PathBuf>,
) -> Result<Option<PathBuf>, Error> {
    let detected = match given {
        Some(d) => d.clone(),
        None => crate::local::project::root_of(&env.cwd, &env.home),
    };
    if given.is_none() && !crate::local::project::is_project(&detected, &env.home) {
        let choices = [
            "None for now: set up my account with a general Python environment".to_string(),
            "A project folder (its code is copied to the cluster, its requirements installed)".to_string(),
        ];
        let which = prompter
            .select("Which project?", &choices, 0, false, "--project-dir DIR or --no-project")
            .map_err(prompt)?;
        if which == 0 {
            return Ok(None);
        }
    }
    let answer = prompter
        .input(
            "Project folder (its code is copied to the cluster; its requirements are installed)",
            &env.tilde(&detected),
            &|v| {
                let p = expand(v, env);
                if p.is_dir() {
                    Ok(())
                } else {
                    Err(format!("{} is not a folder", p.display()))
                }
            },
            "--project-dir DIR",
        )
        .map_err(prompt)?;
    Ok(Some(expand(&answer, env)))
}

/// The Python version; `None` leaves the choice to the plan.
fn python(
    set: &ProfileSet,
    env: &Env,
    profile: &Profile,
    prompter: &mut dyn Prompter,
    args: &SetupArgs,
) -> Result<Option<String>, Error> {
    // The version the plan would choose by itself is the default; taking it leaves the choice
    // to the plan (which follows requires-python and the site's modules).
    let automatic = {
        let mut probe = args.clone();
        probe.python = None;
        super::inputs::Inputs::read(set, &probe, env, Listing::Now)
            .and_then(|i| Ok(i.plan(None)?))
            .map(|p| p.python)
    };
    let automatic = automatic.unwrap_or_else(|_| profile.raw.python.default_version.value.to_string());
    let current = args.python.clone().unwrap_or_else(|| automatic.clone());
    let answer = prompter
        .input(
            "Python version",
            &current,
            &|v| {
                if v == automatic {
                    return Ok(());
                }
                v.parse::<PythonVersion>().map(|_| ()).map_err(|e| format!("{e} (e.g. 3.11)"))
            },
            "--python VERSION",
        )
        .map_err(prompt)?;
    Ok(Some(answer).filter(|a| *a != automatic))
}

fn prompt(e: PromptError) -> Error {
    Error::Step { title: "Questions".into(), error: Box::new(e.into()) }
}

/// The site, from a list that filters as the person types; real sites first. With a course
/// file, only the course's sites.
fn site(
    set: &ProfileSet,
    prompter: &mut dyn Prompter,
    current: Option<&str>,
    course: Option<&crate::course_file::CourseFile>,
) -> Result<String, Error> {
    let mut profiles: Vec<&Profile> =
        set.iter().filter(|p| course.is_none_or(|c| c.site(p.name().as_str()).is_some())).collect();
    if profiles.is_empty() {
        profiles = set.iter().collect();
    }
    profiles.sort_by_key(|p| (p.is_test(), p.name().to_string()));
    let items: Vec<String> = profiles
        .iter()
        .map(|p| {
            format!(
                "{:<12} {} — {} · {} · {}",
                p.name().to_string(),
                p.raw.display_name,
                p.raw.organisation,
                p.raw.scheduler.kind.human(),
                p.auth_summary()
            )
        })
        .collect();
    let default = current
        .and_then(|c| set.get(c).ok())
        .and_then(|want| profiles.iter().position(|p| p.name() == want.name()))
        .unwrap_or(0);
    let i = prompter
        .select("Which cluster? (type to filter)", &items, default, true, "--site NAME")
        .map_err(prompt)?;
    Ok(profiles[i].name().to_string())
}

/// The key: hpcinit's own (made if missing), or one the person already has.
fn key(
    env: &Env,
    profile: &Profile,
    prompter: &mut dyn Prompter,
    current: Option<&Path>,
) -> Result<Option<PathBuf>, Error> {
    let own = env.home.join(super::inputs::DEFAULT_KEY);
    if profile.raw.key_registration.mode.value == RegistrationMode::NotForLogin || own.is_file() {
        return Ok(current.map(Path::to_path_buf));
    }
    let existing = existing_keys(&env.home.join(".ssh"), &own);
    if existing.is_empty() {
        return Ok(current.map(Path::to_path_buf));
    }
    let mut items =
        vec![format!("Make a new key for hpcinit: ~/{} (recommended)", super::inputs::DEFAULT_KEY)];
    items.extend(existing.iter().map(|k| format!("Use my key {}", env.tilde(k))));
    let default = current.and_then(|c| existing.iter().position(|k| k == c)).map(|i| i + 1).unwrap_or(0);
    let i = prompter.select("SSH key", &items, default, false, "--key PATH").map_err(prompt)?;
    Ok(if i == 0 { None } else { Some(existing[i - 1].clone()) })
}

/// Private keys in `~/.ssh` that have their `.pub` beside them (not `skip`).
fn existing_keys(dir: &Path, skip: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut keys: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with("id_")
                && !name.ends_with(".pub")
                && p.is_file()
                && p != skip
                && p.with_file_name(format!("{name}.pub")).is_file()
        })
        .collect();
    keys.sort();
    keys
}

fn expand(v: &str, env: &Env) -> PathBuf {
    super::inputs::absolute(Path::new(v), env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_keys_need_their_public_half() {
        let d = tempfile::tempdir().unwrap();
        for f in ["id_ed25519", "id_ed25519.pub", "id_rsa", "id_ecdsa_sk", "id_ecdsa_sk.pub", "config"] {
            std::fs::write(d.path().join(f), "x").unwrap();
        }
        std::fs::write(d.path().join("id_ed25519_hpcinit"), "x").unwrap();
        std::fs::write(d.path().join("id_ed25519_hpcinit.pub"), "x").unwrap();
        let keys = existing_keys(d.path(), &d.path().join("id_ed25519_hpcinit"));
        let names: Vec<_> =
            keys.iter().map(|k| k.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["id_ecdsa_sk", "id_ed25519"]);
    }

    fn env_in(home: &Path, cwd: &Path) -> Env {
        Env {
            home: home.to_path_buf(),
            cwd: cwd.to_path_buf(),
            vars: Default::default(),
            stdin_tty: true,
            stdout_tty: true,
            account_home: None,
        }
    }

    #[test]
    fn outside_a_project_the_wizard_offers_none_for_now_first() {
        let d = tempfile::tempdir().unwrap();
        let env = env_in(d.path(), d.path());
        let mut p = crate::ui::ScriptedPrompter::default();
        p.choices.push_back(0);
        assert_eq!(project_dir(&env, &mut p, None).unwrap(), None, "none for now");
        assert_eq!(p.asked, ["Which project?"]);
        // The other choice asks for the folder.
        let proj = d.path().join("thesis");
        std::fs::create_dir(&proj).unwrap();
        let mut p = crate::ui::ScriptedPrompter::default();
        p.choices.push_back(1);
        p.lines.push_back(proj.display().to_string());
        assert_eq!(project_dir(&env, &mut p, None).unwrap(), Some(proj.clone()));
        // In a project, no such question: its folder is the default.
        std::fs::write(proj.join("requirements.txt"), "numpy\n").unwrap();
        let mut p = crate::ui::ScriptedPrompter::default();
        p.lines.push_back(String::new());
        assert_eq!(project_dir(&env_in(d.path(), &proj), &mut p, None).unwrap(), Some(proj));
        assert!(!p.asked.iter().any(|q| q == "Which project?"), "{:?}", p.asked);
    }
}

#[cfg(test)]
mod course_tests {
    use super::*;
    use crate::ui::ScriptedPrompter;

    /// A student in a course repository whose course uses two sites: asked the site (from the
    /// course's two only), the username and nothing else the course knows (account, Python,
    /// project folder).
    #[test]
    fn a_course_leaves_only_the_site_and_the_username_to_ask() {
        let home = tempfile::tempdir().unwrap();
        let project = home.path().join("course");
        std::fs::create_dir(&project).unwrap();
        std::fs::write(
            project.join(crate::course_file::FILE_NAME),
            "course-version: 1\ncourse: C\ncontact: ta@example.edu\nsites:\n  saga:\n    account: nn1234k\n  narval:\n    account: def-someprof\npython: \"3.11\"\n",
        )
        .unwrap();
        std::fs::write(project.join("requirements.txt"), "numpy\n").unwrap();
        let env = Env {
            home: home.path().to_path_buf(),
            cwd: project.clone(),
            vars: Default::default(),
            stdin_tty: true,
            stdout_tty: true,
            account_home: None,
        };
        let set = ProfileSet::builtin().unwrap();
        let mut p = ScriptedPrompter::default();
        p.choices.push_back(1); // the second of the course's sites as listed (Saga)
        p.lines.push_back("alice".into());
        let mut args = SetupArgs::default();
        ask(&set, &env, &mut p, &mut args, Ask::Unset).unwrap();
        assert_eq!(p.asked.len(), 2, "{:?}", p.asked);
        assert!(p.asked[0].starts_with("Which cluster?"), "{:?}", p.asked);
        assert_eq!(p.asked[1], "Your username on Saga");
        assert_eq!(args.site.as_deref(), Some("saga"));
        assert_eq!(args.account.as_deref(), Some("nn1234k"));
        assert_eq!(args.python.as_deref(), Some("3.11"));
        assert_eq!(args.project_dir.as_deref(), Some(project.as_path()));
    }
}
