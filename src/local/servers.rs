//! The interactive jobs hpcinit started (notebook servers, VS Code and shell sessions), recorded
//! on this machine while they run (one JSON file each under the state directory's `jupyter/`,
//! 0600): what `hpcinit jupyter|code|shell --list` shows, what `--stop` cancels and `--job`
//! reconnects to. A record holds no token: the token stays on
//! the cluster, in the server's own runtime file, and is read again over the shared connection.
//! The page that opens the browser (it carries the token, as Jupyter's own does) is written
//! beside them, readable by the person alone, and removed when the session ends.

use crate::env::Env;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// What runs in the job: `jupyter`, `code` or `shell` (records from before this field are
    /// notebook servers).
    #[serde(default = "jupyter")]
    pub kind: String,
    pub site: String,
    pub job: String,
    pub project: String,
    /// When the job was submitted (seconds since the epoch).
    pub submitted: u64,
    /// Its time limit, in minutes.
    pub minutes: u32,
    /// Left running when hpcinit ends (`--persist`); otherwise hpcinit cancels it on the way out
    /// and a record left behind means a run that did not get to.
    pub persist: bool,
    #[serde(default)]
    pub node: Option<String>,
    /// The loopback port of this machine that was forwarded to it.
    #[serde(default)]
    pub local_port: Option<u16>,
}

fn jupyter() -> String {
    "jupyter".into()
}

/// `<state>/jupyter`.
pub fn dir(env: &Env) -> PathBuf {
    super::state::dir(env).join("jupyter")
}

fn file(env: &Env, site: &str, job: &str) -> PathBuf {
    dir(env).join(format!("{site}-{job}.json"))
}

/// Writes (or rewrites) the record, atomically, 0600.
pub fn record(env: &Env, s: &Server) -> std::io::Result<()> {
    super::atomic::ensure_dir(&dir(env), 0o700)?;
    let text = serde_json::to_string_pretty(s).map_err(std::io::Error::other)?;
    super::atomic::write(&file(env, &s.site, &s.job), format!("{text}\n").as_bytes(), 0o600)
}

pub fn forget(env: &Env, site: &str, job: &str) {
    let _ = std::fs::remove_file(file(env, site, job));
}

/// Every record, oldest first; unreadable files are skipped.
pub fn all(env: &Env) -> Vec<Server> {
    let mut v: Vec<Server> = std::fs::read_dir(dir(env))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
        .collect();
    v.sort_by_key(|s| s.submitted);
    v
}

/// The records of one kind (`jupyter`, `code`, `shell`), oldest first.
pub fn of_kind(env: &Env, kind: &str) -> Vec<Server> {
    all(env).into_iter().filter(|s| s.kind == kind).collect()
}

/// The page that sends the browser to `url` (a form posted by itself, as Jupyter's own
/// `jpserver-…-open.html`): the browser is started with this file's path, so the token is on
/// no command line. Readable by the person alone.
pub fn opener(env: &Env, job: &str, url: &str) -> std::io::Result<PathBuf> {
    super::atomic::ensure_dir(&dir(env), 0o700)?;
    let path = dir(env).join(format!("open-{job}.html"));
    let escaped = url.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<meta http-equiv=\"refresh\" content=\"0;url={escaped}\">\n<title>Jupyter Lab (hpcinit)</title></head>\n<body><p>Opening <a href=\"{escaped}\">Jupyter Lab</a>…</p></body></html>\n"
    );
    super::atomic::write(&path, page.as_bytes(), 0o600)?;
    Ok(path)
}

/// Starts the person's browser on `page`: the Windows browser from WSL, `open` on macOS,
/// `xdg-open` elsewhere on Unix. The program's name, or why it could not start.
pub fn open_browser(env: &Env, page: &Path) -> Result<&'static str, String> {
    use std::process::{Command, Stdio};
    let (program, mut cmd) = if crate::platform::WINDOWS {
        let mut c = Command::new("cmd");
        c.args(["/c", "start", ""]).arg(page);
        ("start", c)
    } else if super::wsl::inside(env) {
        let win = Command::new("wslpath")
            .arg("-w")
            .arg(page)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .ok_or("wslpath could not name the page for Windows")?;
        let mut c = Command::new("explorer.exe");
        c.arg(win);
        ("explorer.exe", c)
    } else if crate::platform::MACOS {
        let mut c = Command::new("open");
        c.arg(page);
        ("open", c)
    } else {
        if env.var("DISPLAY").is_none() && env.var("WAYLAND_DISPLAY").is_none() {
            return Err("no graphical session here (neither DISPLAY nor WAYLAND_DISPLAY is set)".into());
        }
        let mut c = Command::new("xdg-open");
        c.arg(page);
        ("xdg-open", c)
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    cmd.spawn().map(|_| program).map_err(|e| format!("{program}: {e}"))
}
