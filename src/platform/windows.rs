//! Windows (and any other non-Unix system): no permission bits — a private key is restricted
//! to the user with `icacls`, as Microsoft's OpenSSH documentation does
//! (https://learn.microsoft.com/windows-server/administration/openssh/openssh_keymanagement);
//! file names as UTF-8 with `/`; `COMPUTERNAME`.

use super::file_facts::FileFacts;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Opens a new file (never an existing one) for writing; it gets the folder's ACL.
pub fn create_new(path: &Path, _mode: u32) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// The default ACL of the user's profile directory; [`restrict_to_owner`] narrows a key's.
pub fn private(_options: &mut OpenOptions) {}

pub fn permissions_of(_m: &fs::Metadata) -> Option<u32> {
    None
}

pub fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Windows' OpenSSH refuses a private key others may read ("UNPROTECTED PRIVATE KEY FILE"):
/// inherited permissions are removed and the user alone is granted access.
pub fn restrict_to_owner(path: &Path) -> io::Result<()> {
    let user = std::env::var("USERNAME").map_err(|_| io::Error::other("USERNAME is not set"))?;
    let out = std::process::Command::new("icacls")
        .arg(path)
        .args(["/inheritance:r", "/grant:r", &format!("{user}:F")])
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("icacls: {}", String::from_utf8_lossy(&out.stdout).trim())))
    }
}

pub fn file_facts(meta: &fs::Metadata) -> FileFacts {
    let since = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    let mtime = since.map(|d| d.as_secs() as i64).unwrap_or(0);
    let stamp = super::Stamp { mtime_ns: since.map(|d| d.subsec_nanos()).unwrap_or(0), ..Default::default() };
    FileFacts { size: meta.len(), mtime, executable: false, stamp }
}

/// A file name as UTF-8 with `/` (the cluster's form).
pub fn os_bytes(s: &OsStr) -> Vec<u8> {
    s.to_string_lossy().replace('\\', "/").into_bytes()
}

pub fn path_from_bytes(rel: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(rel).into_owned())
}

pub fn readable(path: &Path, _meta: &fs::Metadata) -> bool {
    File::open(path).is_ok()
}

pub fn hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok().filter(|h| !h.is_empty())
}

/// Windows has no password database: the home is `%USERPROFILE%`.
pub fn account_home() -> Option<PathBuf> {
    None
}

/// Windows: OpenSSH cannot multiplex, paths are shown with `\`.
pub const WINDOWS: bool = true;

/// What libssh2 can run a session over: a socket.
#[cfg(windows)]
pub trait Socket: std::os::windows::io::AsRawSocket {}
#[cfg(windows)]
impl<T: std::os::windows::io::AsRawSocket> Socket for T {}

/// The socket end [`spawn_on_socket`] would give back.
pub type CommandSocket = std::net::TcpStream;

/// Not here yet: reading a host key through a gateway's `ssh -W` (the built-in client's own
/// tunnel does it on Windows).
pub fn spawn_on_socket(_command: std::process::Command) -> io::Result<(CommandSocket, std::process::Child)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "reading a host key through a gateway's ssh is not supported on this system yet",
    ))
}

/// On Ctrl-C: writes `message` to standard error and exits with `code` (a console control
/// handler, `SetConsoleCtrlHandler`).
#[cfg(windows)]
pub fn on_interrupt(message: &'static [u8], code: i32) {
    use windows_sys::Win32::System::Console::{SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_C_EVENT};
    static MESSAGE: std::sync::OnceLock<(&'static [u8], i32)> = std::sync::OnceLock::new();
    let _ = MESSAGE.set((message, code));
    unsafe extern "system" fn on_ctrl(kind: u32) -> windows_sys::core::BOOL {
        if kind == CTRL_C_EVENT || kind == CTRL_BREAK_EVENT {
            use std::io::Write;
            if let Some((m, code)) = MESSAGE.get() {
                let _ = std::io::stderr().write_all(m);
                std::process::exit(*code);
            }
        }
        0
    }
    // SAFETY: registers a handler function that lives for the whole process.
    unsafe {
        SetConsoleCtrlHandler(Some(on_ctrl), 1);
    }
}

/// Neither Unix nor Windows: the system's own Ctrl-C.
#[cfg(not(windows))]
pub fn on_interrupt(_message: &'static [u8], _code: i32) {}

/// The flag [`interrupt_flag`] sets.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on Ctrl-C (and Ctrl-Break, a closed console) only sets a flag, which the caller
/// polls to end what it started before it exits; returns the flag.
#[cfg(windows)]
pub fn interrupt_flag() -> &'static std::sync::atomic::AtomicBool {
    use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
    unsafe extern "system" fn on_ctrl(_kind: u32) -> windows_sys::core::BOOL {
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        1
    }
    // SAFETY: registers a handler function that lives for the whole process.
    unsafe {
        SetConsoleCtrlHandler(Some(on_ctrl), 1);
    }
    &INTERRUPTED
}

/// Neither Unix nor Windows: the flag is never set.
#[cfg(not(windows))]
pub fn interrupt_flag() -> &'static std::sync::atomic::AtomicBool {
    &INTERRUPTED
}

/// Not macOS.
pub const MACOS: bool = false;

/// The names VS Code's command-line launcher has on PATH (the installer puts `code.cmd` in its
/// `bin` directory).
pub const VSCODE: &[&str] = &["code.cmd", "code.exe"];
