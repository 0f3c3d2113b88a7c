//! The one way hpcinit runs the system's `ssh` (as cargo-util's `ProcessBuilder` is cargo's):
//! a cleared environment with only the person's variables hpcinit passes on, `LANG=C` and
//! `LC_ALL=C` so that ssh's errors read the same everywhere and can be classified, the config
//! file named with `-F` where the run's `$HOME` is not the account's (OpenSSH reads the
//! account's), and the batch options for commands that ride on the shared connection and must
//! never prompt. Every `ssh`, `ssh -G`, `ssh -O` and rsync's `-e` is made here.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The options of a command that rides on the shared connection: it never asks anything, never
/// becomes a master itself, and gives up on a dead network.
pub const BATCH: [&str; 6] = ["-o", "BatchMode=yes", "-o", "ControlMaster=no", "-o", "ConnectTimeout=20"];

/// One `ssh` invocation, built up and then run (or shown).
#[derive(Debug, Clone)]
pub struct SshCommand {
    config: Option<PathBuf>,
    vars: BTreeMap<String, String>,
    args: Vec<OsString>,
}

impl SshCommand {
    /// `ssh` reading `config` (`None`: OpenSSH's own choice) with the environment `vars`.
    pub fn new(config: Option<&Path>, vars: &BTreeMap<String, String>) -> SshCommand {
        SshCommand { config: config.map(Path::to_path_buf), vars: vars.clone(), args: Vec::new() }
    }

    /// The same command reading another config file.
    pub fn with_config(mut self, config: &Path) -> SshCommand {
        self.config = Some(config.to_path_buf());
        self
    }

    /// Adds the [`BATCH`] options.
    pub fn batch(self) -> SshCommand {
        self.args(BATCH)
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> SshCommand {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> SshCommand {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// The environment ssh (or rsync and the ssh it starts) runs with.
    pub fn environment(&self) -> BTreeMap<String, String> {
        locale_c(&self.vars)
    }

    /// The process, ready to be given its standard streams and run.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.env_clear().envs(self.environment());
        if let Some(f) = &self.config {
            cmd.arg("-F").arg(f);
        }
        cmd.args(&self.args);
        cmd
    }
}

/// `vars` with `LANG=C` and `LC_ALL=C`.
pub fn locale_c(vars: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut v = vars.clone();
    v.insert("LANG".into(), "C".into());
    v.insert("LC_ALL".into(), "C".into());
    v
}

/// rsync's `-e` for a copy over the shared connection: `relay` (hpcinit's own `rsh` command,
/// which drops whatever the cluster's login files print before rsync starts), then ssh with the
/// config and the [`BATCH`] options. rsync splits the value at spaces and honours quotes (not
/// backslashes), so each word with a space is quoted.
pub fn rsync_rsh(relay: &[&str], config: Option<&str>) -> String {
    let mut words: Vec<String> = relay.iter().map(|w| w.to_string()).collect();
    words.push("ssh".into());
    if let Some(f) = config {
        words.push("-F".into());
        words.push(f.into());
    }
    words.extend(BATCH.iter().map(|w| w.to_string()));
    words.iter().map(|w| rsync_word(w)).collect::<Vec<_>>().join(" ")
}

fn rsync_word(w: &str) -> String {
    if w.is_empty() || w.contains([' ', '\t', '\'', '"']) {
        let q = if w.contains('\'') { '"' } else { '\'' };
        format!("{q}{w}{q}")
    } else {
        w.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_cleared_but_for_the_passed_variables_and_the_c_locale() {
        let vars = BTreeMap::from([("HOME".to_string(), "/h".to_string()), ("LANG".into(), "de_DE".into())]);
        let c = SshCommand::new(Some(Path::new("/h/.ssh/config")), &vars).batch().arg("saga").arg("true");
        let cmd = c.command();
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args[..2], ["-F", "/h/.ssh/config"]);
        assert_eq!(args[2..8], BATCH);
        assert_eq!(args[8..], ["saga", "true"]);
        let env: BTreeMap<_, _> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_string_lossy().into_owned(), v?.to_string_lossy().into_owned())))
            .collect();
        assert_eq!(env.get("LANG").map(String::as_str), Some("C"));
        assert_eq!(env.get("LC_ALL").map(String::as_str), Some("C"));
        assert_eq!(env.get("HOME").map(String::as_str), Some("/h"));
    }

    #[test]
    fn rsyncs_rsh_quotes_words_with_spaces() {
        assert_eq!(
            rsync_rsh(&["/opt/my tools/hpcinit", "rsh"], Some("/h/it's/config")),
            "'/opt/my tools/hpcinit' rsh ssh -F \"/h/it's/config\" -o BatchMode=yes -o ControlMaster=no -o ConnectTimeout=20"
        );
        assert_eq!(
            rsync_rsh(&["hpcinit", "rsh"], None),
            "hpcinit rsh ssh -o BatchMode=yes -o ControlMaster=no -o ConnectTimeout=20"
        );
    }
}
