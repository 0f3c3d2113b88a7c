//! All ambient state in one value: home, working directory, environment variables, terminals.
//! Commands read the world only through it, so tests can build one around a temporary home.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Env {
    pub home: PathBuf,
    pub cwd: PathBuf,
    pub vars: BTreeMap<String, String>,
    pub stdin_tty: bool,
    pub stdout_tty: bool,
    /// The account's home in the password database, which is where OpenSSH looks for
    /// `~/.ssh/config` (it ignores `$HOME` there). `None` when unknown.
    pub account_home: Option<PathBuf>,
}

impl Env {
    /// The process's own environment.
    pub fn from_process() -> Env {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        let home = vars
            .get("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(dirs::home_dir)
            .unwrap_or_else(|| PathBuf::from("/"));
        Env {
            home,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            vars,
            stdin_tty: std::io::stdin().is_terminal(),
            stdout_tty: std::io::stdout().is_terminal(),
            account_home: account_home(),
        }
    }

    /// The config file to hand OpenSSH with `-F`: `~/.ssh/config` of this `$HOME` when it is
    /// not the account's home (OpenSSH would read the other one); `None` when they agree, so
    /// that ssh reads the system-wide config too, as it does when the person types `ssh saga`.
    pub fn ssh_config_override(&self) -> Option<PathBuf> {
        let same = self.account_home.as_ref().is_some_and(|a| {
            a == &self.home
                || (a.canonicalize().ok().is_some() && a.canonicalize().ok() == self.home.canonicalize().ok())
        });
        (!same).then(|| self.home.join(".ssh").join("config"))
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// hpcinit's config directory: `$XDG_CONFIG_HOME/hpcinit`, else `~/.config/hpcinit`
    /// (on macOS too, as for most command-line tools).
    pub fn config_dir(&self) -> PathBuf {
        match self.var("XDG_CONFIG_HOME") {
            Some(x) if Path::new(x).is_absolute() => PathBuf::from(x).join("hpcinit"),
            _ => self.home.join(".config").join("hpcinit"),
        }
    }

    /// Where the user's own profiles live.
    pub fn user_profiles_dir(&self) -> PathBuf {
        self.config_dir().join("profiles")
    }

    /// Colours only on a terminal, and never with `NO_COLOR` set (https://no-color.org).
    pub fn color(&self) -> bool {
        self.stdout_tty && self.var("NO_COLOR").is_none() && self.var("TERM") != Some("dumb")
    }

    /// `~/.ssh/x` (or Windows' `~\.ssh\x`, as [`Env::tilde`] shows it there) and `.ssh/x` → the
    /// path under the home; an absolute path as it is.
    pub fn untilde(&self, shown: &str) -> PathBuf {
        if shown == "~" {
            return self.home.clone();
        }
        let rest = shown.strip_prefix("~/").or_else(|| shown.strip_prefix("~\\")).unwrap_or(shown);
        self.home.join(rest)
    }

    /// `/home/alice/.ssh/x` → `~/.ssh/x`, for display and for ssh config lines (Windows:
    /// `~\.ssh\x`, one separator throughout).
    pub fn tilde(&self, path: &Path) -> String {
        let shown = match path.strip_prefix(&self.home) {
            Ok(rest) if rest.as_os_str().is_empty() => return "~".into(),
            Ok(rest) => format!("~/{}", rest.display()),
            Err(_) => path.display().to_string(),
        };
        if crate::platform::WINDOWS {
            shown.replace('/', "\\")
        } else {
            shown
        }
    }
}

/// A path as a person writes it: Windows' canonical form `\\?\C:\…` (what `canonicalize`
/// returns there) without its `\\?\` prefix (`\\?\UNC\server\share` → `\\server\share`);
/// elsewhere, the path itself.
pub fn plain(path: PathBuf) -> PathBuf {
    let s = path.to_string_lossy();
    if let Some(rest) = s.strip_prefix(r"\\?\UNC\") {
        return PathBuf::from(format!(r"\\{rest}"));
    }
    match s.strip_prefix(r"\\?\") {
        Some(rest) => PathBuf::from(rest),
        None => path,
    }
}

use crate::platform::account_home;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_canonical_paths_are_shown_plain() {
        assert_eq!(plain(PathBuf::from(r"\\?\C:\Users\alice\proj")), PathBuf::from(r"C:\Users\alice\proj"));
        assert_eq!(plain(PathBuf::from(r"\\?\UNC\srv\share\p")), PathBuf::from(r"\\srv\share\p"));
        assert_eq!(plain(PathBuf::from("/home/alice/proj")), PathBuf::from("/home/alice/proj"));
    }

    fn env(vars: &[(&str, &str)]) -> Env {
        Env {
            home: "/home/a".into(),
            cwd: "/".into(),
            vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            stdin_tty: true,
            stdout_tty: true,
            account_home: Some("/home/a".into()),
        }
    }

    #[test]
    #[cfg_attr(windows, ignore = "Unix paths: XDG directories are absolute /… paths")]
    fn config_dir_follows_xdg() {
        assert_eq!(env(&[]).config_dir(), PathBuf::from("/home/a/.config/hpcinit"));
        assert_eq!(env(&[("XDG_CONFIG_HOME", "/x")]).config_dir(), PathBuf::from("/x/hpcinit"));
        assert_eq!(env(&[("XDG_CONFIG_HOME", "rel")]).config_dir(), PathBuf::from("/home/a/.config/hpcinit"));
    }

    #[test]
    fn shown_paths_lead_back_to_the_home() {
        let e = env(&[]);
        for shown in ["~/.ssh/k", "~\\.ssh/k", ".ssh/k"] {
            assert_eq!(e.untilde(shown), PathBuf::from("/home/a/.ssh/k"), "{shown}");
        }
        assert_eq!(e.untilde("~"), PathBuf::from("/home/a"));
        assert_eq!(e.untilde("/etc/k"), PathBuf::from("/etc/k"), "an absolute path stays");
    }

    #[test]
    fn no_color_wins() {
        assert!(env(&[]).color());
        assert!(!env(&[("NO_COLOR", "1")]).color());
    }

    #[test]
    #[cfg_attr(windows, ignore = "Unix paths (Windows shows ~\\…; see shown_paths_lead_back_to_the_home)")]
    fn tilde_paths() {
        let e = env(&[]);
        assert_eq!(e.tilde(Path::new("/home/a/.ssh/k")), "~/.ssh/k");
        assert_eq!(e.tilde(Path::new("/home/ab/k")), "/home/ab/k");
    }
}
