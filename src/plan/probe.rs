//! The probe: one script, one round trip, that answers everything the remote steps decide on —
//! login shell, `$HOME`, the profile's environment variables, the state of each path hpcinit
//! creates (scratch link, logs, venv), the hashes of the files it writes, the module system and
//! the Python modules it offers, and which commands exist. It prints one tagged JSON line and
//! changes nothing. Pure text here; `exec` runs it and parses the answer into
//! [`super::RemoteFacts`].

use crate::quote::{sh, sh_path};
use serde::Serialize;

/// What one probe asks about.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeRequest {
    /// Environment variables to report.
    pub env: Vec<String>,
    /// `(key, path)`: a path as the plan writes it (`~/…`, absolute, or `$VAR`).
    pub paths: Vec<(String, String)>,
    /// Remote files whose hashes are wanted.
    pub files: Vec<String>,
    /// The venv's marker file.
    pub venv_marker: Option<String>,
    /// Commands to look for on PATH.
    pub commands: Vec<String>,
    pub modules: ModuleQuery,
}

/// How to list the Python modules.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModuleQuery {
    /// The module name without version (`python`, `Python`, `python3`).
    pub name: String,
    /// The profile's reset (`module purge`) and what must be loaded first.
    pub reset: String,
    pub prerequisites: Vec<String>,
}

/// A path for the shell: `$VAR` stays an expansion, the rest is quoted.
pub fn shell_path(p: &str) -> String {
    match p.strip_prefix('$') {
        Some(var) if is_var(var) => format!("\"${{{var}:-}}\""),
        _ => sh_path(p),
    }
}

fn is_var(v: &str) -> bool {
    let mut c = v.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

impl ProbeRequest {
    /// The script body; `list_modules` false skips the (slower) module listing on re-probes.
    pub fn body(&self, list_modules: bool) -> String {
        let mut s = String::new();
        let mut out = |line: String| {
            s.push_str(&line);
            s.push('\n');
        };
        out("printf '@@hpcinit:probe {'".into());
        out("printf '\"user\":%s' \"$(hpcinit_js \"$(id -un)\")\"".into());
        out("printf ',\"home\":%s' \"$(hpcinit_js \"$HOME\")\"".into());
        out("printf ',\"shell\":%s' \"$(hpcinit_js \"${SHELL:-}\")\"".into());
        out("printf ',\"env\":{'".into());
        let mut sep = "";
        for v in self.env.iter().filter(|v| is_var(v)) {
            out(format!(
                "if [ -n \"${{{v}+x}}\" ]; then printf '{sep}\"{v}\":%s' \"$(hpcinit_js \"${v}\")\"; else printf '{sep}\"{v}\":null'; fi"
            ));
            sep = ",";
        }
        out("printf '},\"paths\":{'".into());
        for (i, (key, path)) in self.paths.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            out(format!("printf '{sep}\"{key}\":'; hpcinit_path {}", shell_path(path)));
        }
        out("printf '},\"files\":{'".into());
        for (i, f) in self.files.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            out(format!("printf '{sep}%s:' \"$(hpcinit_js {})\"; hpcinit_file {}", sh(f), sh_path(f)));
        }
        out("printf '}'".into());
        if let Some(m) = &self.venv_marker {
            out(format!(
                "if [ -f {m} ]; then printf ',\"venv_marker\":%s' \"$(hpcinit_js \"$(head -n 1 {m})\")\"; fi",
                m = sh_path(m)
            ));
        }
        // Lmod sets LMOD_CMD; Tcl environment modules set MODULESHOME (Lmod does too).
        out("if [ -n \"${LMOD_CMD:-}\" ] || [ -n \"${LMOD_VERSION:-}\" ]; then hpcinit_ms=lmod; hpcinit_mv=${LMOD_VERSION:-}".into());
        out("elif type module >/dev/null 2>&1 || [ -n \"${MODULESHOME:-}\" ]; then hpcinit_ms=tcl; hpcinit_mv=${MODULES_VERSION:-${MODULE_VERSION:-}}".into());
        out("else hpcinit_ms=none; hpcinit_mv=; fi".into());
        out("printf ',\"module_system\":{\"kind\":\"%s\",\"version\":%s}' \"$hpcinit_ms\" \"$(hpcinit_js \"$hpcinit_mv\")\"".into());
        if list_modules && !self.modules.name.is_empty() {
            let name = sh(&self.modules.name);
            let mut load = self.modules.reset.clone() + " >/dev/null 2>&1";
            if !self.modules.prerequisites.is_empty() {
                let pre = super::modules::load_command(&self.modules.prerequisites).unwrap_or_default();
                load.push_str(&format!("; {pre} >/dev/null 2>&1"));
            }
            out("if [ \"$hpcinit_ms\" != none ]; then".into());
            out(format!("  hpcinit_av=$( ({load}; module -t avail {name}) 2>&1 )"));
            // Hierarchical trees (Lmod) can hide a module until its parents load: ask spider too.
            out(format!(
                "  case \"$hpcinit_av\" in *{name}/*) ;; *) [ \"$hpcinit_ms\" = lmod ] && hpcinit_av=\"$hpcinit_av\n$( (module -t spider {name}) 2>&1 )\";; esac"
            ));
            out("  printf ',\"module_lines\":%s' \"$(printf '%s\\n' \"$hpcinit_av\" | hpcinit_jlines)\""
                .into());
            out("fi".into());
        }
        out("printf ',\"commands\":['".into());
        out("hpcinit_sep=''".into());
        let cmds: Vec<String> = self.commands.iter().map(|c| sh(c)).collect();
        out(format!(
            "for c in {}; do if command -v \"$c\" >/dev/null 2>&1; then printf '%s\"%s\"' \"$hpcinit_sep\" \"$c\"; hpcinit_sep=','; fi; done",
            cmds.join(" ")
        ));
        out("printf ']}\\n'".into());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_paths_stay_expansions_and_others_are_quoted() {
        assert_eq!(shell_path("$USERWORK"), "\"${USERWORK:-}\"");
        assert_eq!(shell_path("~/my dir"), "\"$HOME\"/'my dir'");
        assert_eq!(shell_path("$(id)"), "'$(id)'");
    }
}
