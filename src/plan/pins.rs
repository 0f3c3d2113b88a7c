//! What the lock's pins came to on a site: the matcher script (`match_pins.py`) reports one
//! tagged line per pinned package; this turns them into the report a person reads, package by
//! package, with the closest version the site offers. Pure.

use serde::Serialize;

/// How a pinned version fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinKind {
    /// The very version.
    Exact,
    /// The same release with another local label (`1.26.4+computecanada` ↔ `1.26.4`).
    SameRelease,
    /// Not there; a newer one is.
    Upgrade,
    /// Not there; only older ones are.
    Older,
    /// No version of the package at all.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinMatch {
    pub kind: PinKind,
    pub name: String,
    pub wanted: String,
    /// The version taken or closest (`None` when there is none).
    pub found: Option<String>,
    /// The newest versions the site offers (at most eight).
    pub available: Vec<String>,
}

impl PinMatch {
    /// From the payload of `@@hpcinit:pin KIND NAME WANTED FOUND AVAILABLE`.
    pub fn parse(payload: &str) -> Option<PinMatch> {
        let f: Vec<&str> = payload.split_whitespace().collect();
        let [kind, name, wanted, found, available] = f[..] else { return None };
        let kind = match kind {
            "exact" => PinKind::Exact,
            "same-release" => PinKind::SameRelease,
            "upgrade" => PinKind::Upgrade,
            "older" => PinKind::Older,
            "none" => PinKind::None,
            _ => return None,
        };
        let dash = |s: &str| (s != "-").then(|| s.to_string());
        Some(PinMatch {
            kind,
            name: name.into(),
            wanted: wanted.into(),
            found: dash(found),
            available: dash(available).map(|a| a.split(',').map(String::from).collect()).unwrap_or_default(),
        })
    }

    /// Installed as pinned (or as the same release).
    pub fn met(&self, upgrades: bool) -> bool {
        matches!(self.kind, PinKind::Exact | PinKind::SameRelease)
            || (upgrades && self.kind == PinKind::Upgrade)
    }

    /// One line for the person: what was pinned, what the site has, what is closest.
    pub fn line(&self, upgrades: bool) -> String {
        let found = self.found.as_deref().unwrap_or("-");
        let avail = if self.available.is_empty() {
            String::new()
        } else {
            format!(" (available: {})", self.available.join(", "))
        };
        match self.kind {
            PinKind::Exact => format!("{} {}", self.name, self.wanted),
            PinKind::SameRelease => {
                format!("{} {} → {found}: the same release, built for this site", self.name, self.wanted)
            }
            PinKind::Upgrade if upgrades => {
                format!(
                    "{} {} → {found}: the closest newer version (--allow-upgrades)",
                    self.name, self.wanted
                )
            }
            PinKind::Upgrade => {
                format!("{} {}: not available; closest newer {found}{avail}", self.name, self.wanted)
            }
            PinKind::Older => format!(
                "{} {}: not available and nothing newer; closest older {found}{avail}",
                self.name, self.wanted
            ),
            PinKind::None => format!("{} {}: no version of it here", self.name, self.wanted),
        }
    }
}

/// Every pin line in `stdout`.
pub fn matches(stdout: &str) -> Vec<PinMatch> {
    crate::exchange::tags(stdout)
}

impl crate::exchange::Tagged for PinMatch {
    fn from_tag(tag: &str, payload: &str) -> Option<PinMatch> {
        if tag == "pin" {
            PinMatch::parse(payload)
        } else {
            None
        }
    }
}

/// The lines of pins not installed as pinned: unmet ones (stopping the build) and changed ones.
pub fn unmet(all: &[PinMatch], upgrades: bool) -> Vec<String> {
    all.iter().filter(|m| !m.met(upgrades)).map(|m| m.line(upgrades)).collect()
}

/// The lines of pins installed at another version than the lock's (reported, never silent).
pub fn changed(all: &[PinMatch], upgrades: bool) -> Vec<String> {
    all.iter().filter(|m| m.met(upgrades) && m.kind != PinKind::Exact).map(|m| m.line(upgrades)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str) -> PinMatch {
        PinMatch::parse(p).unwrap()
    }

    #[test]
    fn reads_the_matchers_lines() {
        let out = "noise\n@@hpcinit:pin exact hpcinit-demo 1.0 1.0 1.0,2.0\n@@hpcinit:pin upgrade hpcinit-stats 1.2 1.3 1.0,1.3\n@@hpcinit:pin none nothing 1.0 - -\n@@hpcinit:pin-as-is foo @ https://x/foo.whl\n";
        let all = matches(out);
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].available, ["1.0", "1.3"]);
        assert_eq!(all[2].found, None);
        assert!(PinMatch::parse("upgrade a 1").is_none());
    }

    #[test]
    fn says_what_is_missing_and_what_is_closest() {
        let up = m("upgrade hpcinit-stats 1.2 1.3 1.0,1.3");
        assert_eq!(
            up.line(false),
            "hpcinit-stats 1.2: not available; closest newer 1.3 (available: 1.0, 1.3)"
        );
        assert_eq!(up.line(true), "hpcinit-stats 1.2 → 1.3: the closest newer version (--allow-upgrades)");
        let old = m("older scipy 1.14.0 1.13.1 1.12.0,1.13.1");
        assert!(old.line(true).contains("closest older 1.13.1"));
        let same = m("same-release numpy 1.26.4+computecanada 1.26.4 1.26.4");
        assert!(same.met(false));
        let all = vec![m("exact a 1.0 1.0 1.0"), up.clone(), old.clone(), same.clone()];
        assert_eq!(unmet(&all, false).len(), 2);
        assert_eq!(unmet(&all, true).len(), 1, "--allow-upgrades never takes an older version");
        assert_eq!(changed(&all, true).len(), 2, "the upgrade and the site's build are reported");
        assert_eq!(changed(&all, false).len(), 1);
    }
}
