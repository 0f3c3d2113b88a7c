//! Reading module listings and picking the Python module. Pure.
//!
//! `module -t avail NAME` prints one module per line under `path:` headings, in both Lmod and
//! Tcl environment modules; markers follow the name (`(default)`, `(D)`, `<L>`), directories end
//! in `/`, and Lmod may add warnings or a spider report in prose. Only lines that are exactly
//! `NAME/version` count.

use crate::profile::scalar::PythonVersion;
use crate::quote::sh;

/// `module load A B`, each name quoted for the shell; `None` for no modules. Every script and
/// template that loads modules writes this one line.
pub fn load_command(modules: &[String]) -> Option<String> {
    (!modules.is_empty()).then(|| {
        let names: Vec<String> = modules.iter().map(|m| sh(m)).collect();
        format!("module load {}", names.join(" "))
    })
}

/// The line that gives a job script the `module` command before it is used. `module` is a
/// shell function the login profile defines; a batch job does not always inherit it (Slurm's
/// sbatch drops exported functions; Lmod's BASH_ENV brings it back, Environment Modules sets no
/// BASH_ENV by default), but both module systems export MODULESHOME, whose `init/bash` defines
/// it, as sites tell users to do in their scripts.
pub const MODULE_INIT: &str =
    "type module >/dev/null 2>&1 || . \"${MODULESHOME:?no module system: MODULESHOME is not set}/init/bash\"";

/// The shell function `hpcinit_modules`: the profile's reset (its failure ignored), then
/// `module load` of `modules`; it fails when the load does. Sent before the scripts that load
/// what jobs load (reading the environment, doctor).
pub fn modules_function(reset: &str, modules: &[String]) -> String {
    let load = load_command(modules).unwrap_or_else(|| ":".into());
    format!("hpcinit_modules() {{\n  {reset} >/dev/null 2>&1\n  {load}\n}}\n")
}

/// Module names `name/…` found in a listing, first occurrence order, without markers.
pub fn parse_avail(lines: &[String], name: &str) -> Vec<String> {
    let marker = regex::Regex::new(r"(\s*(\([^()]*\)|<[^<>]*>))+$").expect("static regex");
    let prefix = format!("{name}/");
    let mut found: Vec<String> = Vec::new();
    for line in lines {
        let l = line.trim();
        if l.is_empty() || l.ends_with(':') {
            continue;
        }
        let l = marker.replace(l, "");
        let l = l.trim();
        if l.contains(char::is_whitespace) || !l.starts_with(&prefix) || l.ends_with('/') {
            continue;
        }
        if !found.iter().any(|f| f == l) {
            found.push(l.to_string());
        }
    }
    found
}

/// The Python version each module provides, for modules whose name shows one.
pub fn with_versions(modules: &[String]) -> Vec<(PythonVersion, String)> {
    let mut v: Vec<(PythonVersion, String)> =
        modules.iter().filter_map(|m| PythonVersion::find_in(m).map(|v| (v, m.clone()))).collect();
    v.sort_by_key(|(v, _)| (v.major, v.minor, v.patch.unwrap_or(0)));
    v
}

/// Versions for a message: `3.10.13, 3.11.5`.
pub fn version_list(modules: &[(PythonVersion, String)]) -> String {
    if modules.is_empty() {
        return "none".into();
    }
    modules.iter().map(|(v, m)| format!("{v} ({m})")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn lmod_terse_listing() {
        // `module -t avail python` with Lmod 8.6 on the test cluster (case-insensitive match).
        let out = lines(
            "/tmp/hpcinit-cluster/modules/alliance:\npython/3.11\n/tmp/hpcinit-cluster/modules/easybuild:\nPython/3.11.2-GCCcore-12.2.0\n",
        );
        assert_eq!(parse_avail(&out, "python"), ["python/3.11"]);
        assert_eq!(parse_avail(&out, "Python"), ["Python/3.11.2-GCCcore-12.2.0"]);
    }

    #[test]
    fn lmod_markers_directories_and_spider_prose() {
        let out = lines(
            "/cvmfs/soft.computecanada.ca/easybuild/modules/2023/x86-64-v3/Core:\npython/\npython/3.10.13\npython/3.11.5(default)\npython/3.12.4 (D)\n\n  python: python/3.13.2\n----\nLmod Warning: something\n",
        );
        assert_eq!(parse_avail(&out, "python"), ["python/3.10.13", "python/3.11.5", "python/3.12.4"]);
        let out = lines("python/3.12.4<L>\npython/3.13.2(D)\n");
        assert_eq!(parse_avail(&out, "python"), ["python/3.12.4", "python/3.13.2"]);
    }

    #[test]
    fn tcl_environment_modules_listing() {
        // Environment Modules 4/5 (`module -t avail python3`): headings end in ':', symbolic
        // versions in parentheses.
        let out = lines(
            "/apps/dcc/etc/modulefiles:\npython3/3.10.7\npython3/3.11.4(default)\npython3/3.12.9(latest:3.12)\n/apps/other:\npython3/3.11.4\n",
        );
        assert_eq!(parse_avail(&out, "python3"), ["python3/3.10.7", "python3/3.11.4", "python3/3.12.9"]);
    }

    #[test]
    fn versions_sorted_oldest_first() {
        let m = vec!["Python/3.12.3-GCCcore-13.3.0".to_string(), "Python/3.11.3-GCCcore-12.3.0".to_string()];
        let v = with_versions(&m);
        assert_eq!(v[0].1, "Python/3.11.3-GCCcore-12.3.0");
        assert_eq!(
            version_list(&v),
            "3.11.3 (Python/3.11.3-GCCcore-12.3.0), 3.12.3 (Python/3.12.3-GCCcore-13.3.0)"
        );
    }
}
