//! The ssh config step: hpcinit's own file `~/.ssh/config.d/hpcinit` (this site's section
//! replaced, other sites kept) and the one `Include` line at the top of `~/.ssh/config`,
//! written at a symlink's target, atomically, with a backup the first time. Verified with
//! OpenSSH's own parser (`ssh -G`): the values ssh will use must be hpcinit's.

use super::{Applied, Check, Context, StepError, Task};
use crate::local::{atomic, include};
use crate::plan::ssh_config::{self, HostBlock, MANAGED_FILE};
use crate::plan::SshConfigPlan;
use crate::ssh_command::SshCommand;
use std::path::PathBuf;
use std::process::Stdio;

pub struct SshConfigTask {
    site: String,
    section: String,
    blocks: Vec<HostBlock>,
    line: String,
}

impl SshConfigTask {
    pub fn new(p: &SshConfigPlan) -> SshConfigTask {
        SshConfigTask {
            site: p.site.clone(),
            section: p.text.clone(),
            blocks: p.blocks.clone(),
            line: p.include_line.clone(),
        }
    }

    fn paths(cx: &Context) -> (PathBuf, PathBuf) {
        (cx.home(MANAGED_FILE), cx.home("~/.ssh/config"))
    }

    fn spellings(cx: &Context) -> Vec<String> {
        let abs = cx.home(MANAGED_FILE).display().to_string();
        vec![MANAGED_FILE.to_string(), "config.d/hpcinit".into(), abs]
    }

    fn managed_text(&self, cx: &Context) -> String {
        let existing = std::fs::read_to_string(Self::paths(cx).0).unwrap_or_default();
        ssh_config::merge(&existing, &self.site, Some(&self.section))
    }
}

impl Task for SshConfigTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        let (managed, config) = Self::paths(cx);
        let current = std::fs::read_to_string(&managed).ok();
        if current.as_deref() != Some(self.managed_text(cx).as_str()) {
            return Ok(Check::Needed(format!(
                "{} lacks this site's current entries",
                cx.env.tilde(&managed)
            )));
        }
        let target =
            atomic::resolve(&config).map_err(|source| StepError::Read { path: config.clone(), source })?;
        let bytes = std::fs::read(&target).unwrap_or_default();
        let spellings = Self::spellings(cx);
        let spellings: Vec<&str> = spellings.iter().map(String::as_str).collect();
        match include::add(&bytes, &self.line, &spellings) {
            Err(source) => return Err(StepError::Include { path: target, source }),
            Ok(Some(_)) => return Ok(Check::Needed("~/.ssh/config lacks the Include line".into())),
            Ok(None) => {}
        }
        let shadowed = verify_with_ssh(cx, &self.blocks, &config)?;
        let aliases: Vec<&str> =
            self.blocks.iter().filter(|b| b.criteria.is_none()).map(|b| b.alias.as_str()).collect();
        let mut done = format!("{MANAGED_FILE} has Host {}; ~/.ssh/config includes it", aliases.join(", "));
        for (patterns, jump) in shadowed {
            done.push_str(&format!(
                "; compute nodes {patterns} are reached through {jump}, whose entry for the same node names comes first"
            ));
        }
        Ok(Check::Done(done))
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let (managed, config) = Self::paths(cx);
        let mut done = Vec::new();
        let ssh_dir = cx.home("~/.ssh");
        let write_err = |path: &PathBuf| {
            let path = path.clone();
            move |source| StepError::Write { path, source }
        };
        if atomic::ensure_dir(&ssh_dir, 0o700).map_err(write_err(&ssh_dir))? {
            done.push("created ~/.ssh (0700)".to_string());
        }
        let dir = managed.parent().expect("managed file has a directory").to_path_buf();
        atomic::ensure_dir(&dir, 0o700).map_err(write_err(&dir))?;
        let text = self.managed_text(cx);
        if std::fs::read_to_string(&managed).ok().as_deref() != Some(text.as_str()) {
            atomic::write(&managed, text.as_bytes(), 0o600).map_err(write_err(&managed))?;
            done.push(format!("wrote {MANAGED_FILE}"));
        }
        let target =
            atomic::resolve(&config).map_err(|source| StepError::Read { path: config.clone(), source })?;
        let bytes = match std::fs::read(&target) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(StepError::Read { path: target, source }),
        };
        let spellings = Self::spellings(cx);
        let spellings: Vec<&str> = spellings.iter().map(String::as_str).collect();
        let new = include::add(&bytes, &self.line, &spellings)
            .map_err(|source| StepError::Include { path: target.clone(), source })?;
        if let Some(new) = new {
            // A file the person made read-only (or one on a read-only file system, as a
            // home-manager link into /nix/store is) is theirs to change: say what to add.
            let read_only =
                |why: String| StepError::ReadOnly { path: target.clone(), why, line: self.line.clone() };
            if let Some(mode) = crate::local::atomic::mode_of(&target) {
                if mode & 0o200 == 0 {
                    return Err(read_only(format!("is read-only (mode {mode:04o})")));
                }
            } else if std::fs::metadata(&target).is_ok_and(|m| m.permissions().readonly()) {
                return Err(read_only("is read-only".into()));
            }
            let rofs = |e: std::io::Error| {
                if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem {
                    read_only("is on a read-only file system".into())
                } else {
                    StepError::Write { path: target.clone(), source: e }
                }
            };
            let backup = atomic::backup_once(&target).map_err(rofs)?;
            atomic::write(&target, &new, 0o600).map_err(rofs)?;
            let shown =
                if target == config { "~/.ssh/config".to_string() } else { target.display().to_string() };
            let mut line = format!("added `{}` as the first line of {shown}", self.line);
            if let Some(b) = backup {
                line.push_str(&format!(" (copy of the original: {})", cx.env.tilde(&b)));
            }
            done.push(line);
        }
        Ok(Applied::Changed(done.join("; ")))
    }
}

/// Asks OpenSSH which values it will use for each alias; they must be the ones hpcinit wrote.
/// A block of compute-node names that another site's block for the same names comes before (two
/// profiles of one cluster: the same nodes, another way to its login node) is not an error: the
/// (patterns, the other alias) are returned so that the run says which way ssh goes.
fn verify_with_ssh(
    cx: &Context,
    blocks: &[HostBlock],
    config: &std::path::Path,
) -> Result<Vec<(String, String)>, StepError> {
    let mut shadowed = Vec::new();
    if cx.options.transport == super::Transport::Ssh2
        && super::Transport::detect(cx.env) == super::Transport::Ssh2
    {
        return Ok(shadowed); // no OpenSSH here to ask
    }
    // A `Match` block's values depend on where ssh runs (the gateway only from outside).
    for b in blocks.iter().filter(|b| b.criteria.is_none()) {
        // A block of name patterns (the compute nodes) is asked about a name its first matches.
        let name = b.alias.split_whitespace().next().unwrap_or_default().replace(['*', '?'], "1");
        let out = SshCommand::new(cx.env.ssh_config_override().as_deref(), &cx.env.vars)
            .args(["-G", &name])
            .command()
            .stdin(Stdio::null())
            .output()
            .map_err(|source| StepError::Read { path: "ssh".into(), source })?;
        if !out.status.success() {
            return Err(StepError::ConfigRejected {
                alias: b.alias.clone(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let seen = String::from_utf8_lossy(&out.stdout).into_owned();
        let nodes = b.alias.contains(['*', '?']);
        if nodes {
            if let (Some(jump), Some(ours)) =
                (disagreement(&seen, "ProxyJump", b.get("ProxyJump").unwrap_or("")), b.get("ProxyJump"))
            {
                let ours_first =
                    ssh_config::sites(&std::fs::read_to_string(cx.home(MANAGED_FILE)).unwrap_or_default())
                        .contains(&jump);
                if ours_first && jump != ours {
                    shadowed.push((b.alias.clone(), jump));
                    continue;
                }
            }
        }
        for (key, value) in &b.options {
            if let Some(actual) = disagreement(&seen, key, value) {
                return Err(StepError::Overridden {
                    alias: b.alias.clone(),
                    option: key.clone(),
                    expected: format!("{key} {value}"),
                    actual,
                    config: config.to_path_buf(),
                });
            }
        }
    }
    Ok(shadowed)
}

/// What `ssh -G` reports for `key` when it differs from `value` (`None` when they agree or
/// when `-G` prints the option in a form not compared here).
pub fn disagreement(g: &str, key: &str, value: &str) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    let first = |k: &str| {
        g.lines().find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(' ')).map(str::to_string))
    };
    let actual = first(&lower)?;
    let agrees = match lower.as_str() {
        // ssh -G expands %C, lists every known_hosts file, and prints yes/no as true/false.
        "controlpath" => actual.starts_with(value.trim_end_matches("%C")),
        "userknownhostsfile" => actual.split_whitespace().next() == Some(value),
        "stricthostkeychecking" => actual == "true" || actual == value,
        "controlmaster" if value == "no" => actual == "false" || actual == "no",
        "hostname" | "user" | "port" | "hostkeyalias" | "identityfile" | "proxyjump" | "identitiesonly"
        | "controlmaster" => actual == value,
        _ => true,
    };
    (!agrees).then_some(actual)
}

#[cfg(test)]
mod tests {
    use super::disagreement;

    #[test]
    fn compares_what_ssh_g_prints() {
        let g = "hostname h\nport 2222\nidentityfile /h/.ssh/k\nidentityfile ~/.ssh/id_rsa\ncontrolpath /h/.ssh/cm-0123\nuserknownhostsfile /h/.ssh/known_hosts.d/hpcinit /h/.ssh/known_hosts2\nstricthostkeychecking true\ncontrolmaster auto\n";
        assert_eq!(disagreement(g, "HostName", "h"), None);
        assert_eq!(disagreement(g, "Port", "22"), Some("2222".into()));
        assert_eq!(disagreement(g, "IdentityFile", "/h/.ssh/k"), None);
        assert_eq!(disagreement(g, "ControlPath", "/h/.ssh/cm-%C"), None);
        assert_eq!(disagreement(g, "UserKnownHostsFile", "/h/.ssh/known_hosts.d/hpcinit"), None);
        assert_eq!(disagreement(g, "StrictHostKeyChecking", "yes"), None);
        assert_eq!(disagreement(g, "ControlMaster", "auto"), None);
        assert_eq!(disagreement(g, "ServerAliveInterval", "60"), None, "not compared");
    }
}
