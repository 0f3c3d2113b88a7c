//! WSL: hpcinit running inside the Windows Subsystem for Linux, and the Windows side of the same
//! laptop. Detected the documented way: WSL registers its interop handler as
//! `/proc/sys/fs/binfmt_misc/WSLInterop` (`WSLInterop-late` on newer releases); the Windows home
//! is what `cmd.exe /c echo %USERPROFILE%` prints, turned into a Linux path by `wslpath -u`
//! (https://learn.microsoft.com/windows/wsl/filesystems). A private key copied to the Windows
//! side is restricted to the Windows user with `icacls.exe` (inheritance removed, the user alone
//! granted), as Windows' OpenSSH requires of a private key
//! (https://learn.microsoft.com/windows-server/administration/openssh/openssh_keymanagement).
//!
//! Runs Windows programs through WSL's interop; writes only the record of the keys it copied
//! (`windows-keys` in hpcinit's state directory).

use crate::env::Env;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The files WSL's interop handler appears as; either one means "inside WSL".
pub const INTEROP: [&str; 2] =
    ["/proc/sys/fs/binfmt_misc/WSLInterop", "/proc/sys/fs/binfmt_misc/WSLInterop-late"];

/// The Windows user's home, as both sides name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowsHome {
    /// `C:\Users\alice`, as Windows names it.
    pub windows: String,
    /// `/mnt/c/Users/alice`, where WSL sees it.
    pub linux: PathBuf,
    /// The Windows account (`%USERNAME%`), the one the key's ACL grants.
    pub user: String,
}

/// Why the Windows side could not be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WslError(pub String);

/// Whether this is WSL: its interop handler is registered (`HPCINIT_WSL_INTEROP` names another
/// file to look for, so that tests can stand in for WSL).
pub fn inside(env: &Env) -> bool {
    match env.var("HPCINIT_WSL_INTEROP") {
        Some(f) => Path::new(f).exists(),
        None => INTEROP.iter().any(|f| Path::new(f).exists()),
    }
}

/// The Windows home and user, asked of Windows itself; `None` outside WSL.
pub fn windows_home(env: &Env) -> Option<Result<WindowsHome, WslError>> {
    inside(env).then(|| {
        let profile = windows_var(env, "USERPROFILE")?;
        let user = windows_var(env, "USERNAME")?;
        let linux = run(env, "wslpath", &["-u", &profile])?;
        if !linux.starts_with('/') {
            return Err(WslError(format!("`wslpath -u {profile}` printed {linux:?}, not a path")));
        }
        Ok(WindowsHome { windows: profile, linux: PathBuf::from(linux), user })
    })
}

/// `%NAME%` as Windows' own shell expands it.
fn windows_var(env: &Env, name: &str) -> Result<String, WslError> {
    let v = run(env, "cmd.exe", &["/c", &format!("echo %{name}%")])?;
    if v.is_empty() || v == format!("%{name}%") {
        return Err(WslError(format!("Windows has no {name} (`cmd.exe /c echo %{name}%` printed {v:?})")));
    }
    Ok(v)
}

/// A program's first line of output, trimmed (Windows programs end lines with CR LF).
fn run(env: &Env, program: &str, args: &[&str]) -> Result<String, WslError> {
    let out = command(env, program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| WslError(format!("cannot run {program}: {e}")))?;
    if !out.status.success() {
        return Err(WslError(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_string())
}

pub(crate) fn command(env: &Env, program: &str) -> Command {
    let mut cmd = Command::new(program);
    // cmd.exe warns about, and falls back from, a Linux working directory it cannot name.
    if let Some(root) = ["/mnt/c", "/"].iter().find(|d| Path::new(d).is_dir()) {
        cmd.current_dir(root);
    }
    cmd.env_clear().envs(&env.vars);
    cmd
}

/// The Windows name of a file under the Windows home (`C:\Users\alice\.ssh\…`).
pub fn windows_path(home: &WindowsHome, rel: &str) -> String {
    format!("{}\\{}", home.windows.trim_end_matches('\\'), rel.replace('/', "\\"))
}

/// Gives the Windows user alone access to `rel` under the Windows home: `icacls.exe FILE
/// /inheritance:r /grant:r USER:F`, then reads the ACL back and checks that it names nobody else.
pub fn restrict(env: &Env, home: &WindowsHome, rel: &str) -> Result<(), WslError> {
    let file = windows_path(home, rel);
    let grant = format!("{}:F", home.user);
    let out = command(env, "icacls.exe")
        .args([file.as_str(), "/inheritance:r", "/grant:r", grant.as_str()])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| WslError(format!("cannot run icacls.exe: {e}")))?;
    if !out.status.success() {
        return Err(WslError(format!("icacls.exe {file}: {}", String::from_utf8_lossy(&out.stdout).trim())));
    }
    let acl = acl(env, &file)?;
    match others(&acl, &home.user) {
        None => Ok(()),
        Some(who) => Err(WslError(format!("{file} is still open to {who} (icacls.exe shows: {acl})"))),
    }
}

/// What `icacls.exe FILE` prints about `file`.
pub fn acl(env: &Env, file: &str) -> Result<String, WslError> {
    let out = command(env, "icacls.exe")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| WslError(format!("cannot run icacls.exe: {e}")))?;
    Ok(String::from_utf8_lossy(&out.stdout).replace('\r', ""))
}

/// The first account other than `user` that `icacls` output grants anything to. Its lines are
/// `FILE DOMAIN\user:(F)` then indented `DOMAIN\other:(R)`, then a summary line.
pub fn others(acl: &str, user: &str) -> Option<String> {
    acl.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (who, rights) = l.rsplit_once(":(")?;
            // The first line starts with the file's name: the account is what follows the last
            // space ("NT AUTHORITY\SYSTEM" is then "AUTHORITY\SYSTEM", still SYSTEM).
            let who = who.rsplit_once(' ').map_or(who, |(_, tail)| tail);
            (!rights.is_empty()).then_some(who.trim().to_string())
        })
        .find(|who| {
            let name = who.rsplit('\\').next().unwrap_or(who);
            !name.eq_ignore_ascii_case(user) && !name.eq_ignore_ascii_case("SYSTEM")
        })
}

/// The record of the key files hpcinit created on the Windows side (relative to the Windows
/// home, one per line; a `.pub` only where none was there): `uninstall` removes only those.
pub fn copied_keys_file(env: &Env) -> PathBuf {
    super::state::dir(env).join("windows-keys")
}

pub fn copied_keys(env: &Env) -> Vec<String> {
    std::fs::read_to_string(copied_keys_file(env))
        .map(|t| t.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// Writes the record with `keys` (removed when empty).
pub fn record_copied_keys(env: &Env, keys: &[String]) -> std::io::Result<()> {
    let path = copied_keys_file(env);
    if keys.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
    super::atomic::write(&path, text.as_bytes(), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_other_accounts_in_icacls_output() {
        let own = "C:\\Users\\alice\\.ssh\\id_ed25519_hpcinit LAPTOP\\alice:(F)\n\nSuccessfully processed 1 files; Failed processing 0 files\n";
        assert_eq!(others(own, "alice"), None);
        let open = "C:\\Users\\alice\\.ssh\\k LAPTOP\\alice:(F)\n                      BUILTIN\\Users:(RX)\n                      NT AUTHORITY\\SYSTEM:(F)\n";
        assert_eq!(others(open, "alice").as_deref(), Some("BUILTIN\\Users"));
        let system = "C:\\k LAPTOP\\alice:(F)\n    NT AUTHORITY\\SYSTEM:(F)\n";
        assert_eq!(others(system, "Alice"), None, "SYSTEM may read it; names compare without case");
    }

    #[test]
    fn windows_paths_use_backslashes() {
        let h = WindowsHome {
            windows: "C:\\Users\\alice".into(),
            linux: "/mnt/c/Users/alice".into(),
            user: "alice".into(),
        };
        assert_eq!(windows_path(&h, ".ssh/id_ed25519_hpcinit"), "C:\\Users\\alice\\.ssh\\id_ed25519_hpcinit");
    }
}
