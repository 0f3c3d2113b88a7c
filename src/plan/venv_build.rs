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

/// A stage of the build, as `venv_build.sh` tags it (`phase STAGE` when it begins, `fail STAGE`
/// when it stops there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildStage {
    Modules,
    Create,
    Pip,
    /// Only for a build from a lock.
    Match,
    Install,
    Verify,
    Swap,
    /// Not a phase: something not hpcinit's is where the environment goes.
    Exists,
    /// Not a phase: the environment's parent directory could not be made.
    Mkdir,
}

impl BuildStage {
    fn from_word(word: &str) -> Option<BuildStage> {
        Some(match word.trim() {
            "modules" => BuildStage::Modules,
            "create" => BuildStage::Create,
            "pip" => BuildStage::Pip,
            "match" => BuildStage::Match,
            "install" => BuildStage::Install,
            "verify" => BuildStage::Verify,
            "swap" => BuildStage::Swap,
            "exists" => BuildStage::Exists,
            "mkdir" => BuildStage::Mkdir,
            _ => return None,
        })
    }

    /// What the progress bar says while it runs.
    pub fn label(self) -> &'static str {
        match self {
            BuildStage::Modules => "loading modules",
            BuildStage::Create => "creating the environment",
            BuildStage::Pip => "updating pip",
            BuildStage::Match => "matching the lock's versions",
            BuildStage::Install => "installing requirements",
            BuildStage::Verify => "importing every requirement",
            BuildStage::Swap => "putting it in place",
            BuildStage::Exists => "checking what is there",
            BuildStage::Mkdir => "making the parent directory",
        }
    }
}

/// The build's phases in order; `Match` runs only for a build from a lock.
pub const PHASES: &[BuildStage] = &[
    BuildStage::Modules,
    BuildStage::Create,
    BuildStage::Pip,
    BuildStage::Match,
    BuildStage::Install,
    BuildStage::Verify,
    BuildStage::Swap,
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
    /// A stage begins.
    Phase(BuildStage),
    /// The stage that failed; `None` for a stage this hpcinit does not know.
    Fail(Option<BuildStage>),
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
            "phase" => BuildReport::Phase(BuildStage::from_word(payload)?),
            "fail" => BuildReport::Fail(BuildStage::from_word(payload)),
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
    /// The build stopped, at this stage (`None` inside: one this hpcinit does not know).
    pub fail: Option<Option<BuildStage>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builds_stages_are_typed() {
        let out = "@@hpcinit:phase modules\nmotd\n@@hpcinit:phase install\n@@hpcinit:fail install\n";
        let r = tags::<BuildReport>(out);
        assert_eq!(
            r,
            [
                BuildReport::Phase(BuildStage::Modules),
                BuildReport::Phase(BuildStage::Install),
                BuildReport::Fail(Some(BuildStage::Install))
            ]
        );
        assert_eq!(
            BuildAnswer::parse("@@hpcinit:fail something-new\n").fail,
            Some(None),
            "an unknown stage still fails"
        );
        assert!(tags::<BuildReport>("@@hpcinit:phase something-new\n").is_empty());
        assert_eq!(pip_progress("  Collecting numpy\n"), Some("Collecting numpy"));
        assert_eq!(pip_progress("@@hpcinit:phase pip"), None);
        assert_eq!(
            error_lines("@@hpcinit:fail install ERROR\nERROR: No matching distribution\nok\n"),
            ["ERROR: No matching distribution"]
        );
    }
}
