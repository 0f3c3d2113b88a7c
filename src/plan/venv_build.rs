//! The Python step's build script: `venv_build.sh` (a new environment beside the old one from
//! the module's Python, the requirements installed or, from a lock, each pin matched against the
//! site's pip first, every requirement imported with the same modules loaded, the marker written,
//! then the venv link swapped; a watchdog ends a build whose connection is gone), the site's
//! module loads and recipe as two small functions, the texts it installs from, and one call.
//! Pure: text out.

use super::script_text::heredoc;
use crate::exchange::{tags, Tagged};
use crate::profile::raw::VenvRecipe;
use crate::profile::Profile;
use crate::quote::{sh, sh_path};

/// The build's functions.
pub const VENV_BUILD_SH: &str = include_str!("venv_build.sh");
/// The import proof: imports every requirement, prints what it imported (and `pip freeze`'s
/// lines when it can be sure of them).
pub const VERIFY: &str = include_str!("verify_imports.py");
/// Matches the lock's pins against what the site's pip can install, before installing.
const MATCH_PINS: &str = include_str!("match_pins.py");

/// The build's phases in order, as `venv_build.sh` tags them, with what the progress bar says;
/// `match` runs only for a build from a lock.
pub const PHASES: &[(&str, &str)] = &[
    ("modules", "loading modules"),
    ("create", "creating the environment"),
    ("pip", "updating pip"),
    ("match", "matching the lock's versions"),
    ("install", "installing requirements"),
    ("verify", "importing every requirement"),
    ("swap", "putting it in place"),
];

/// What the build script is made from.
pub struct Build<'a> {
    pub venv: &'a str,
    pub load_line: &'a str,
    pub recipe_line: &'a str,
    pub no_index: &'a str,
    pub requirements: &'a [String],
    /// From a lock: `exact` or `upgrades`, for the matcher.
    pub match_mode: Option<&'a str>,
    pub inputs_sha: &'a str,
}

/// The script; its first argument, `replace`, lets the swap move aside an environment hpcinit
/// did not make.
pub fn script(profile: &Profile, b: &Build) -> String {
    let Build { venv, load_line, recipe_line, no_index, requirements, match_mode, inputs_sha } = *b;
    let py = &profile.raw.python;
    let load = if load_line.is_empty() { ":" } else { load_line };
    let kind = if py.venv.recipe == VenvRecipe::ContainerWrapper { "container" } else { "venv" };
    let mut s = VENV_BUILD_SH.to_string();
    s.push_str(&format!(
        "hpcinit_venv_load() {{\n  {} || return 1\n  {load} || return 1\n}}\n",
        py.modules.reset
    ));
    s.push_str(&format!("hpcinit_venv_recipe() {{\n  {recipe_line}\n}}\n"));
    s.push_str(&text("hpcinit_requirements", &requirements.join("\n")));
    s.push_str(&text("hpcinit_verify_py", VERIFY));
    if match_mode.is_some() {
        s.push_str(&text("hpcinit_match_py", MATCH_PINS));
    }
    s.push_str(&format!(
        "hpcinit_venv_build {} {kind} {} {} {} \"${{1:-}}\" || return 1\n",
        sh_path(venv),
        sh(no_index.trim()),
        sh(match_mode.unwrap_or("")),
        sh(inputs_sha)
    ));
    s
}

/// `NAME=$(cat <<'…'` and the text: a variable the build reads.
fn text(name: &str, value: &str) -> String {
    let (open, body) = heredoc(value);
    format!("{name}=$(cat {open}\n{body}\n)\n")
}

/// pip's own progress lines among the build's output ("Collecting numpy", "Installing collected
/// packages: …"), trimmed, to show while it runs; nothing else.
pub fn pip_progress(line: &str) -> Option<&str> {
    let l = line.trim();
    ["Collecting", "Installing", "Downloading", "Processing", "Successfully"]
        .iter()
        .any(|w| l.starts_with(w))
        .then_some(l)
}

/// The lines of a failed build's output worth showing: pip's and Lmod's errors, never a tag.
pub fn error_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| crate::exchange::tagged(l).is_none())
        .filter(|l| l.contains("ERROR") || l.contains("rror:") || l.contains("Lmod has detected"))
        .collect()
}

/// One line of the build's answer (`venv_build.sh`, the import proof and the pin matcher).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildReport {
    /// A stage begins: modules, create, pip, match, install, verify, swap.
    Phase(String),
    /// The stage that failed (or `exists`: something not hpcinit's is in the way).
    Fail(String),
    Python(String),
    Module(String),
    Freeze(String),
    Import(String),
    ImportError(String),
    /// Built: the new environment's directory.
    Done(String),
}

impl Tagged for BuildReport {
    fn from_tag(tag: &str, payload: &str) -> Option<BuildReport> {
        let p = payload.to_string();
        Some(match tag {
            "phase" => BuildReport::Phase(p),
            "fail" => BuildReport::Fail(p),
            "python" => BuildReport::Python(p),
            "module" if !payload.trim().is_empty() => BuildReport::Module(p),
            "freeze" => BuildReport::Freeze(p),
            "import" => BuildReport::Import(p),
            "import-error" => BuildReport::ImportError(p),
            "done" => BuildReport::Done(p),
            _ => return None,
        })
    }
}

/// The build's answer, gathered.
#[derive(Debug, Default)]
pub struct BuildAnswer {
    pub fail: Option<String>,
    pub done: Option<String>,
    /// The interpreter's version (`3.11.9`).
    pub python: String,
    pub modules: Vec<String>,
    pub freeze: Vec<String>,
    pub imports: Vec<String>,
    pub import_errors: Vec<String>,
    /// From a lock: each pin, as the site's pip can provide it.
    pub pins: Vec<super::pins::PinMatch>,
}

impl BuildAnswer {
    pub fn parse(stdout: &str) -> BuildAnswer {
        let mut a = BuildAnswer { pins: tags(stdout), ..Default::default() };
        for report in tags::<BuildReport>(stdout) {
            match report {
                BuildReport::Phase(_) => {}
                BuildReport::Fail(f) => {
                    a.fail.get_or_insert(f);
                }
                BuildReport::Python(v) => {
                    if a.python.is_empty() {
                        a.python = v.split_whitespace().next().unwrap_or_default().to_string();
                    }
                }
                BuildReport::Module(m) => a.modules.push(m),
                BuildReport::Freeze(f) => a.freeze.push(f),
                BuildReport::Import(i) => a.imports.push(i),
                BuildReport::ImportError(e) => a.import_errors.push(e),
                BuildReport::Done(d) => {
                    a.done.get_or_insert(d);
                }
            }
        }
        a
    }
}
