//! `hpcinit diff`: what differs between two environments (two sites, or a lock file and a
//! site): Python by `major.minor`, modules by logical name (each site's toolchain is its own and
//! shown, not counted), packages by normalized name and version, a release that differs only in
//! a site's local label (`+computecanada`) counted as the same. Pure.

use crate::local::lock::{LockedModule, ModuleRole};
use serde::Serialize;
use std::collections::BTreeMap;

/// One side: a site's environment or the lock.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// `sandbox`, or `hpcinit.lock (sandbox)`.
    pub label: String,
    pub python: String,
    pub modules: Vec<LockedModule>,
    /// `pip freeze` lines.
    #[serde(skip)]
    pub freeze: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub name: String,
    pub left: Option<String>,
    pub right: Option<String>,
    pub same: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub left: Side,
    pub right: Side,
    /// Same `major.minor`.
    pub python_same: bool,
    /// Modules by logical name: the Python module's row and each toolchain module's.
    pub modules: Vec<Row>,
    /// Every package on either side, sorted by name.
    pub packages: Vec<Row>,
    /// No difference that matters: same Python minor, same package versions.
    pub same: bool,
}

/// `numpy`, `Numpy`, `numpy_` → `numpy` (PEP 503 normalization).
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// `name==1.0` → (`name`, `1.0`); `name @ url` → (`name`, `@ url`).
fn split(line: &str) -> Option<(String, String)> {
    let l = line.trim();
    if l.is_empty() || l.starts_with('#') {
        return None;
    }
    if let Some((n, v)) = l.split_once("==") {
        return Some((n.trim().to_string(), v.trim_start_matches('=').trim().to_string()));
    }
    if let Some((n, v)) = l.split_once(" @ ") {
        return Some((n.trim().to_string(), format!("@ {}", v.trim())));
    }
    Some((l.to_string(), String::new()))
}

fn public(v: &str) -> &str {
    v.split('+').next().unwrap_or(v)
}

fn minor(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

pub fn compare(left: Side, right: Side) -> Comparison {
    let python_same = minor(&left.python) == minor(&right.python);
    let mut modules = Vec::new();
    let python_of =
        |s: &Side| s.modules.iter().find(|m| m.role == ModuleRole::Python).map(|m| m.exact.clone());
    modules.push(Row {
        name: "python".into(),
        left: python_of(&left),
        right: python_of(&right),
        same: python_same,
    });
    let mut toolchain: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for m in left.modules.iter().filter(|m| m.role == ModuleRole::Toolchain) {
        toolchain.entry(m.logical.clone()).or_default().0 = Some(m.exact.clone());
    }
    for m in right.modules.iter().filter(|m| m.role == ModuleRole::Toolchain) {
        toolchain.entry(m.logical.clone()).or_default().1 = Some(m.exact.clone());
    }
    for (name, (l, r)) in toolchain {
        // Each site brings its own toolchain: shown, not a difference of the environment.
        modules.push(Row { name, left: l, right: r, same: true });
    }
    let mut pk: BTreeMap<String, (String, Option<String>, Option<String>)> = BTreeMap::new();
    for (n, v) in left.freeze.iter().filter_map(|l| split(l)) {
        pk.entry(normalize(&n)).or_insert_with(|| (n.clone(), None, None)).1 = Some(v);
    }
    for (n, v) in right.freeze.iter().filter_map(|l| split(l)) {
        pk.entry(normalize(&n)).or_insert_with(|| (n.clone(), None, None)).2 = Some(v);
    }
    let packages: Vec<Row> = pk
        .into_values()
        .map(|(name, l, r)| {
            let same = match (&l, &r) {
                (Some(a), Some(b)) => public(a) == public(b),
                _ => false,
            };
            Row { name, left: l, right: r, same }
        })
        .collect();
    let same = python_same && packages.iter().all(|p| p.same);
    Comparison { left, right, python_same, modules, packages, same }
}

impl Comparison {
    /// The rows that differ, one line each: `hpcinit-stats 1.2 ≠ 1.3`, `extra: only on sandbox`.
    pub fn differences(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.python_same {
            out.push(format!("Python {} ≠ {}", self.left.python, self.right.python));
        }
        for p in self.packages.iter().filter(|p| !p.same) {
            out.push(match (&p.left, &p.right) {
                (Some(a), Some(b)) => format!("{} {a} ≠ {b}", p.name),
                (Some(a), None) => format!("{} {a}: only in {}", p.name, self.left.label),
                (None, Some(b)) => format!("{} {b}: only in {}", p.name, self.right.label),
                (None, None) => unreachable!("a row has a side"),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::lock::requested_modules;

    fn side(label: &str, python: &str, loaded: &[&str], base: &str, freeze: &[&str]) -> Side {
        let loaded: Vec<String> = loaded.iter().map(|s| s.to_string()).collect();
        Side {
            label: label.into(),
            python: python.into(),
            modules: requested_modules(&loaded, base, &["StdEnv/2023".into()]),
            freeze: freeze.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_same_environment_under_two_naming_schemes() {
        let a = side(
            "sandbox",
            "3.11.2",
            &["StdEnv/2023", "python/3.11"],
            "python",
            &["hpcinit-demo==1.0", "numpy==1.26.4+computecanada"],
        );
        let b = side(
            "sandbox-mfa",
            "3.11.4",
            &["Python/3.11.4-GCCcore-12.3.0"],
            "Python",
            &["hpcinit_demo==1.0", "numpy==1.26.4"],
        );
        let c = compare(a, b);
        assert!(c.python_same && c.same, "{:?}", c.differences());
        assert_eq!(c.modules[0].left.as_deref(), Some("python/3.11"));
        assert_eq!(c.modules[0].right.as_deref(), Some("Python/3.11.4-GCCcore-12.3.0"));
        assert_eq!(c.modules[1].name, "stdenv 2023");
        assert_eq!(c.packages.len(), 2, "hpcinit-demo and hpcinit_demo are one package");
    }

    #[test]
    fn versions_and_packages_on_one_side_differ() {
        let a = side("a", "3.11.2", &[], "python", &["hpcinit-stats==1.2", "extra==1.0"]);
        let b = side("b", "3.12.1", &[], "python", &["hpcinit-stats==1.3", "mine @ file:///x"]);
        let c = compare(a, b);
        assert!(!c.same);
        assert_eq!(
            c.differences(),
            [
                "Python 3.11.2 ≠ 3.12.1",
                "extra 1.0: only in a",
                "hpcinit-stats 1.2 ≠ 1.3",
                "mine @ file:///x: only in b"
            ]
        );
        assert_eq!(normalize("Foo__Bar.baz"), "foo-bar-baz");
    }
}
