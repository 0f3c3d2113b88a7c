//! The Python step's build script: a new environment beside the old one from the module's
//! Python, the requirements installed (or, from a lock, each pin matched against the site's pip
//! first), every requirement imported with the same modules loaded, the marker written, then the
//! venv link swapped; a watchdog ends a build whose connection is gone. Pure: text out.

use super::script_text::heredoc;
use crate::profile::raw::VenvRecipe;
use crate::profile::Profile;
use crate::quote::{sh, sh_path};

/// The import proof: imports every requirement, prints what it imported (and `pip freeze`'s
/// lines when it can be sure of them).
pub const VERIFY: &str = include_str!("verify_imports.py");
/// Matches the lock's pins against what the site's pip can install, before installing.
const MATCH_PINS: &str = include_str!("match_pins.py");

/// pip releases older than this are upgraded before installing (pip 23 reads every wheel and
/// metadata version in use today; 9 to 21 are what older module Pythons bring).
const PIP_CURRENT: u32 = 23;

/// A build whose connection is gone must stop: its next line of output would stop it, but
/// `python -m venv` and pip can be silent for minutes, and a build left running could swap its
/// venv in while a re-run builds another. A line every second; when it cannot be written (the
/// channel closed), the build's processes are ended (the session's process group, else the
/// build's shell). It ends by itself with the build.
pub(crate) const WATCHDOG: &str = r#"hpcinit_me=$BASHPID
( trap '' PIPE
  while sleep 1 </dev/null >/dev/null 2>&1 && kill -0 "$hpcinit_me" 2>/dev/null; do
    printf '@@hpcinit:alive\n' 2>/dev/null || { kill -TERM -- -$$ "$hpcinit_me" 2>/dev/null; exit 0; }
  done ) &
hpcinit_watch=$!
"#;

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

pub fn script(profile: &Profile, b: &Build) -> String {
    let Build { venv, load_line, recipe_line, no_index, requirements, match_mode, inputs_sha } = *b;
    let py = &profile.raw.python;
    let (req_open, req_body) = heredoc(&requirements.join("\n"));
    let (py_open, py_body) = heredoc(VERIFY);
    let containerized = py.venv.recipe == VenvRecipe::ContainerWrapper;
    let mut s = String::new();
    s.push_str("exec 2>&1\n");
    s.push_str(WATCHDOG);
    s.push_str(&format!("venv={}\n", sh_path(venv)));
    s.push_str(
        r#"parent=$(dirname "$venv"); base=$(basename "$venv")
mkdir -p "$parent" || { hpcinit_tag fail mkdir; return 1; }
stamp=$(date -u +%Y%m%dT%H%M%SZ)-$$
new="$parent/.$base.hpcinit-$stamp"
# What an interrupted build left behind (never the environment in use: it carries the marker).
for d in "$parent/.$base.hpcinit-"*; do
  [ -d "$d" ] && [ ! -f "$d/.hpcinit-ok" ] && rm -rf "$d"
done
hpcinit_tag phase modules
"#,
    );
    s.push_str(&format!("{} || {{ hpcinit_tag fail modules; return 1; }}\n", py.modules.reset));
    if !load_line.is_empty() {
        s.push_str(&format!("{load_line} || {{ hpcinit_tag fail modules; return 1; }}\n"));
    }
    s.push_str("hpcinit_tag phase create\n");
    if containerized {
        s.push_str("mkdir -p \"$new\"\n");
        s.push_str(&format!("cat >\"$new\"/.hpcinit-requirements.txt {req_open}\n{req_body}\n"));
    }
    s.push_str(&format!("{recipe_line} || {{ rm -rf \"$new\"; hpcinit_tag fail create; return 1; }}\n"));
    s.push_str("mkdir -p \"$new\"/.hpcinit\n");
    // From a lock, the pins go to locked.txt and the matcher writes requirements.txt.
    let req_file = if match_mode.is_some() { "locked.txt" } else { "requirements.txt" };
    s.push_str(&format!("cat >\"$new\"/.hpcinit/{req_file} {req_open}\n{req_body}\n"));
    if !containerized {
        s.push_str(&pip_and_install(no_index, match_mode));
    }
    // The module list (for the record and the lock) is taken while the imports are proven; the
    // proof writes `pip freeze`'s lines when it can be sure of them (a pip start costs more
    // than the proof), else pip freeze runs.
    s.push_str("module -t list >\"$new\"/.hpcinit/modules.txt 2>&1 &\nmodules=$!\n");
    s.push_str("hpcinit_tag phase verify\n");
    s.push_str(&format!(
        "\"$new\"/bin/python - \"$new\"/.hpcinit/requirements.txt \"$new\"/.hpcinit/freeze.txt {py_open} || {{ wait \"$modules\"; rm -rf \"$new\"; hpcinit_tag fail verify; return 1; }}\n{py_body}\n"
    ));
    s.push_str("[ -f \"$new\"/.hpcinit/freeze.txt ] || \"$new\"/bin/python -m pip freeze >\"$new\"/.hpcinit/freeze.txt 2>/dev/null\n");
    s.push_str(&swap(inputs_sha));
    s
}

/// pip brought up to date where it is old, the lock's pins matched (from a lock), then the
/// requirements installed.
fn pip_and_install(no_index: &str, match_mode: Option<&str>) -> String {
    let mut s = String::new();
    // An old pip (a module's Python can bring pip 9 to 21) cannot read today's wheels and
    // metadata: upgrade it. A current one is left alone (the upgrade costs a pip start).
    s.push_str("hpcinit_tag phase pip\n");
    s.push_str(&format!(
        "\"$new\"/bin/python -c 'import sys, pip; sys.exit(int(pip.__version__.split(\".\")[0]) < {PIP_CURRENT})' 2>/dev/null || \"$new\"/bin/python -m pip install{no_index} --upgrade pip || {{ rm -rf \"$new\"; hpcinit_tag fail pip; return 1; }}\n"
    ));
    if let Some(mode) = match_mode {
        let (m_open, m_body) = heredoc(MATCH_PINS);
        s.push_str("hpcinit_tag phase match\n");
        s.push_str(&format!(
            "\"$new\"/bin/python - \"$new\"/.hpcinit/locked.txt {mode} \"$new\"/.hpcinit/requirements.txt {m_open} || {{ rm -rf \"$new\"; hpcinit_tag fail match; return 1; }}\n{m_body}\n"
        ));
    }
    s.push_str("hpcinit_tag phase install\n");
    s.push_str(&format!(
        "if grep -q . \"$new\"/.hpcinit/requirements.txt; then\n  \"$new\"/bin/python -m pip install{no_index} --progress-bar off -r \"$new\"/.hpcinit/requirements.txt || {{ rm -rf \"$new\"; hpcinit_tag fail install; return 1; }}\nfi\n"
    ));
    s
}

/// The marker written, then the venv link swapped to the new environment (what was there
/// moved aside only with `replace` as the first argument), and the record printed.
fn swap(inputs_sha: &str) -> String {
    format!(
        r#"wait "$modules"
printf '%s\n' {sha} >"$new"/.hpcinit-ok
hpcinit_tag phase swap
old=
if [ -L "$venv" ]; then
  old=$(readlink "$venv")
elif [ -e "$venv" ]; then
  if [ "${{1:-}}" = replace ]; then
    old=".$base.hpcinit-replaced-$stamp"
    mv "$venv" "$parent/$old" || {{ rm -rf "$new"; hpcinit_tag fail swap; return 1; }}
  else
    rm -rf "$new"; hpcinit_tag fail exists; return 1
  fi
fi
ln -sfn ".$base.hpcinit-$stamp" "$venv.hpcinit-link" && mv -T "$venv.hpcinit-link" "$venv" || {{ rm -rf "$new"; hpcinit_tag fail swap; return 1; }}
case "$old" in .$base.hpcinit-*) rm -rf "${{parent:?}}/$old" ;; esac
sed 's/^/@@hpcinit:module /' "$new"/.hpcinit/modules.txt
sed 's/^/@@hpcinit:freeze /' "$new"/.hpcinit/freeze.txt
kill "$hpcinit_watch" 2>/dev/null
hpcinit_tag done "$new""#,
        sha = sh(inputs_sha)
    )
}
