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
        }
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

    /// `/home/alice/.ssh/x` → `~/.ssh/x`, for display and for ssh config lines.
    pub fn tilde(&self, path: &Path) -> String {
        match path.strip_prefix(&self.home) {
            Ok(rest) if rest.as_os_str().is_empty() => "~".into(),
            Ok(rest) => format!("~/{}", rest.display()),
            Err(_) => path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        Env {
            home: "/home/a".into(),
            cwd: "/".into(),
            vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            stdin_tty: true,
            stdout_tty: true,
        }
    }

    #[test]
    fn config_dir_follows_xdg() {
        assert_eq!(env(&[]).config_dir(), PathBuf::from("/home/a/.config/hpcinit"));
        assert_eq!(env(&[("XDG_CONFIG_HOME", "/x")]).config_dir(), PathBuf::from("/x/hpcinit"));
        assert_eq!(env(&[("XDG_CONFIG_HOME", "rel")]).config_dir(), PathBuf::from("/home/a/.config/hpcinit"));
    }

    #[test]
    fn no_color_wins() {
        assert!(env(&[]).color());
        assert!(!env(&[("NO_COLOR", "1")]).color());
    }

    #[test]
    fn tilde_paths() {
        let e = env(&[]);
        assert_eq!(e.tilde(Path::new("/home/a/.ssh/k")), "~/.ssh/k");
        assert_eq!(e.tilde(Path::new("/home/ab/k")), "/home/ab/k");
    }
}
