//! VS Code's user settings (`settings.json`: JSON with comments and trailing commas), edited for
//! Remote-SSH on compute nodes: `remote.SSH.serverInstallPath` puts the VS Code server of each
//! node hpcinit opens on the person's scratch instead of a small home (vscode-remote-release
//! #6376, #472), and `remote.SSH.connectTimeout` gives a hop through the login node time to
//! answer. Edited through jsonc-parser's concrete syntax tree, which keeps every other byte
//! (comments, order, commas, indentation) as it was; the file is backed up once
//! (`settings.json.hpcinit-backup`), rewritten atomically, and what hpcinit added is recorded
//! (`vscode.json` in hpcinit's state directory) so that `hpcinit uninstall` takes exactly that
//! back out.
//!
//! Where the file lives: https://code.visualstudio.com/docs/configure/settings#_settings-file-locations

use crate::env::Env;
use jsonc_parser::cst::{CstInputValue, CstRootNode};
use jsonc_parser::ParseOptions;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const INSTALL_PATH: &str = "remote.SSH.serverInstallPath";
pub const CONNECT_TIMEOUT: &str = "remote.SSH.connectTimeout";
/// Seconds: VS Code's default is 15, short for a hop through a login node.
pub const TIMEOUT: u64 = 60;

/// The user settings file of VS Code on this machine (the Windows one's from WSL).
pub fn settings_file(env: &Env) -> Option<PathBuf> {
    if let Some(f) = env.var("HPCINIT_VSCODE_SETTINGS") {
        return Some(PathBuf::from(f));
    }
    let user = Path::new("Code").join("User").join("settings.json");
    if super::wsl::inside(env) {
        let home = super::wsl::windows_home(env)?.ok()?;
        return Some(home.linux.join("AppData").join("Roaming").join(user));
    }
    if crate::platform::WINDOWS {
        return env.var("APPDATA").map(|a| PathBuf::from(a).join(user));
    }
    if crate::platform::MACOS {
        return Some(env.home.join("Library").join("Application Support").join(user));
    }
    let config = env.var("XDG_CONFIG_HOME").map(PathBuf::from).unwrap_or_else(|| env.home.join(".config"));
    Some(config.join(user))
}

/// What hpcinit added to one settings file, for `uninstall`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Added {
    pub file: PathBuf,
    /// hpcinit created `remote.SSH.serverInstallPath` (it was not there).
    pub created_install_path: bool,
    /// The hosts hpcinit put in it: (site, host, the directory it gave the host).
    pub hosts: Vec<(String, String, String)>,
    /// `remote.SSH.connectTimeout` as it was before hpcinit set it: `None` when hpcinit did not
    /// touch it, `Some(None)` when it was absent.
    pub timeout_before: Option<Option<u64>>,
}

/// What an edit changes: the new text and, in words, each change; `None` when nothing is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub text: String,
    pub changes: Vec<String>,
}

fn parse(text: &str) -> Result<CstRootNode, String> {
    CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| e.to_string())
}

/// `text` with `host`'s (a node of `site`) VS Code server under `dir` and the connect timeout at
/// least [`TIMEOUT`]; `added` records what was added. Pure.
pub fn with_host(
    text: &str,
    site: &str,
    host: &str,
    dir: &str,
    added: &mut Added,
) -> Result<Option<Edit>, String> {
    let root = parse(text)?;
    let obj = match root.object_value() {
        Some(o) => o,
        None if root.value().is_none() => root.object_value_or_set(),
        None => return Err("its top level is not an object".into()),
    };
    let mut changes = Vec::new();
    let existed = obj.get(INSTALL_PATH).is_some();
    let map = obj
        .object_value_or_create(INSTALL_PATH)
        .ok_or_else(|| format!("`{INSTALL_PATH}` is there but is not an object"))?;
    let current = map
        .get(host)
        .and_then(|p| p.value())
        .and_then(|v| v.as_string_lit())
        .and_then(|s| s.decoded_value().ok());
    match current {
        Some(v) if v == dir => {}
        Some(other) => {
            // The person's own choice for this host stays.
            let _ = other;
        }
        None => {
            map.append(host, CstInputValue::String(dir.to_string()));
            if !existed {
                added.created_install_path = true;
            }
            if !added.hosts.iter().any(|(_, h, _)| h == host) {
                added.hosts.push((site.to_string(), host.to_string(), dir.to_string()));
            }
            changes.push(format!("{INSTALL_PATH}: {host} → {dir}"));
        }
    }
    let timeout = obj.get(CONNECT_TIMEOUT);
    let before = timeout
        .as_ref()
        .and_then(|p| p.value())
        .and_then(|v| v.as_number_lit())
        .and_then(|n| n.to_string().parse::<u64>().ok());
    let low = match (&timeout, before) {
        (None, _) => true,
        (Some(_), Some(b)) => b < TIMEOUT,
        // Not a plain number: the person's own, left alone.
        (Some(_), None) => false,
    };
    if low {
        match timeout {
            Some(p) => p.set_value(CstInputValue::Number(TIMEOUT.to_string())),
            None => {
                obj.append(CONNECT_TIMEOUT, CstInputValue::Number(TIMEOUT.to_string()));
            }
        }
        if added.timeout_before.is_none() {
            added.timeout_before = Some(before);
        }
        changes.push(format!(
            "{CONNECT_TIMEOUT}: {} → {TIMEOUT}",
            before.map_or("unset".to_string(), |b| b.to_string())
        ));
    }
    if changes.is_empty() {
        return Ok(None);
    }
    Ok(Some(Edit { text: root.to_string(), changes }))
}

/// `text` without what `added` records for `site` (values the person changed since are left as
/// they are); once no site's host is left, the timeout as it was and an emptied map gone too.
/// `added` keeps what is left. Pure.
pub fn without(text: &str, site: &str, added: &mut Added) -> Result<String, String> {
    let root = parse(text)?;
    let Some(obj) = root.object_value() else { return Ok(text.to_string()) };
    let (gone, kept): (Vec<_>, Vec<_>) = added.hosts.drain(..).partition(|(s, _, _)| s == site);
    added.hosts = kept;
    let last = added.hosts.is_empty();
    if let Some(map) = obj.object_value(INSTALL_PATH) {
        for (_, host, dir) in &gone {
            if let Some(p) = map.get(host) {
                let v = p.value().and_then(|v| v.as_string_lit()).and_then(|s| s.decoded_value().ok());
                if v.as_deref() == Some(dir.as_str()) {
                    p.remove();
                }
            }
        }
        if last && added.created_install_path && map.properties().is_empty() {
            if let Some(p) = obj.get(INSTALL_PATH) {
                p.remove();
            }
        }
    }
    if let (true, Some(before)) = (last, added.timeout_before) {
        if let Some(p) = obj.get(CONNECT_TIMEOUT) {
            let now = p.value().and_then(|v| v.as_number_lit()).map(|n| n.to_string());
            if now.as_deref() == Some(TIMEOUT.to_string().as_str()) {
                match before {
                    None => p.remove(),
                    Some(b) => p.set_value(CstInputValue::Number(b.to_string())),
                }
            }
        }
    }
    Ok(root.to_string())
}

fn record_file(env: &Env) -> PathBuf {
    super::state::dir(env).join("vscode.json")
}

/// What hpcinit added so far (to the settings file it names).
pub fn added(env: &Env) -> Option<Added> {
    serde_json::from_str(&std::fs::read_to_string(record_file(env)).ok()?).ok()
}

pub fn save_added(env: &Env, a: &Added) -> std::io::Result<()> {
    super::atomic::ensure_dir(&super::state::dir(env), 0o700)?;
    let text = serde_json::to_string_pretty(a).map_err(std::io::Error::other)?;
    super::atomic::write(&record_file(env), format!("{text}\n").as_bytes(), 0o600)
}

pub fn forget_added(env: &Env) {
    let _ = std::fs::remove_file(record_file(env));
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINE: &str = "// my settings\n{\n    // font\n    \"editor.fontSize\": 14, // big\n    \"files.exclude\": {\n        \"**/.git\": true,\n    },\n    \"remote.SSH.connectTimeout\": 30,\n}\n";

    #[test]
    fn only_the_two_keys_change_and_every_other_byte_stays() {
        let mut added = Added::default();
        let e = with_host(MINE, "narval", "nc10101", "/scratch/a", &mut added).unwrap().unwrap();
        assert_eq!(
            e.text,
            "// my settings\n{\n    // font\n    \"editor.fontSize\": 14, // big\n    \"files.exclude\": {\n        \"**/.git\": true,\n    },\n    \"remote.SSH.connectTimeout\": 60,\n    \"remote.SSH.serverInstallPath\": {\n        \"nc10101\": \"/scratch/a\"\n    },\n}\n"
        );
        assert_eq!(e.changes.len(), 2, "{:?}", e.changes);
        assert_eq!(added.timeout_before, Some(Some(30)));
        assert!(added.created_install_path);
        // Again: nothing to do; another node: one entry more.
        assert_eq!(with_host(&e.text, "narval", "nc10101", "/scratch/a", &mut added).unwrap(), None);
        let e2 = with_host(&e.text, "narval", "nc10202", "/scratch/a", &mut added).unwrap().unwrap();
        assert_eq!(e2.changes, ["remote.SSH.serverInstallPath: nc10202 → /scratch/a"]);
        let e3 = with_host(&e2.text, "rorqual", "rc10101", "/scratch/a", &mut added).unwrap().unwrap();
        let one = without(&e3.text, "narval", &mut added).unwrap();
        assert!(one.contains("\"rc10101\"") && !one.contains("nc10") && one.contains(": 60,"), "{one}");
        assert_eq!(
            without(&one, "rorqual", &mut added).unwrap(),
            MINE,
            "uninstall gives the file back byte for byte"
        );
        assert!(added.hosts.is_empty());
    }

    #[test]
    fn an_empty_or_missing_file_gets_an_object_and_the_persons_own_values_stay() {
        let mut added = Added::default();
        let e = with_host("", "x", "n1", "/s", &mut added).unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(&e.text).unwrap();
        assert_eq!(v[INSTALL_PATH]["n1"], "/s");
        assert_eq!(v[CONNECT_TIMEOUT], 60);
        let theirs = "{ \"remote.SSH.serverInstallPath\": { \"n1\": \"/home/me\" }, \"remote.SSH.connectTimeout\": 120 }";
        assert_eq!(with_host(theirs, "x", "n1", "/s", &mut Added::default()).unwrap(), None);
        assert!(with_host("[1]", "x", "n1", "/s", &mut Added::default()).is_err());
        assert!(with_host("{ \"remote.SSH.serverInstallPath\": 3 }", "x", "n1", "/s", &mut Added::default())
            .is_err());
    }
}
