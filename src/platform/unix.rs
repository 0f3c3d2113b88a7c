//! Unix: permission bits, file names as raw bytes, `access(2)`, `gethostname(2)`, the password
//! database.

use super::file_facts::FileFacts;
use std::ffi::{CStr, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Opens a new file (never an existing one) for writing, with `mode`.
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(mode).open(path)
}

/// Makes `options` create the file readable by its owner alone (0600).
pub fn private(options: &mut OpenOptions) {
    options.mode(0o600);
}

/// A file's permission bits.
pub fn permissions_of(m: &fs::Metadata) -> Option<u32> {
    Some(m.permissions().mode() & 0o7777)
}

/// Sets a file's permission bits.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Nothing to do: the file was created 0600.
pub fn restrict_to_owner(_path: &Path) -> io::Result<()> {
    Ok(())
}

pub fn file_facts(meta: &fs::Metadata) -> FileFacts {
    FileFacts {
        size: meta.len(),
        mtime: meta.mtime(),
        executable: meta.mode() & 0o111 != 0,
        stamp: super::Stamp {
            mtime_ns: meta.mtime_nsec() as u32,
            ctime: meta.ctime(),
            ctime_ns: meta.ctime_nsec() as u32,
            ino: meta.ino(),
        },
    }
}

/// A file name's bytes, as they are.
pub fn os_bytes(s: &OsStr) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A manifest's relative path (bytes, `/`-separated) as a path here.
pub fn path_from_bytes(rel: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(rel))
}

/// Whether this process may read the file (rsync would stop at it otherwise): its mode bits
/// answer for almost every file without a system call; `access(2)` decides the rest (ACLs,
/// other groups).
pub fn readable(path: &Path, meta: &fs::Metadata) -> bool {
    // SAFETY: geteuid and getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let mode = meta.mode();
    let clearly = if meta.uid() == uid {
        mode & 0o400 != 0
    } else if meta.gid() == gid {
        mode & 0o040 != 0
    } else {
        mode & 0o004 != 0
    };
    if clearly {
        return true;
    }
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::R_OK) == 0 }
}

/// The machine's host name (`gethostname(2)`; macOS has no `/etc/hostname`).
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned()).filter(|h| !h.is_empty())
}

/// The home directory of the current user in the password database.
pub fn account_home() -> Option<PathBuf> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, both alive and sized as passed.
    let rc = unsafe {
        libc::getpwuid_r(libc::getuid(), &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result)
    };
    if rc != 0 || result.is_null() || pwd.pw_dir.is_null() {
        return None;
    }
    // SAFETY: pw_dir points into `buf`, NUL-terminated by getpwuid_r.
    let dir = unsafe { CStr::from_ptr(pwd.pw_dir) };
    Some(PathBuf::from(OsStr::from_bytes(dir.to_bytes())))
}

/// Not Windows: OpenSSH multiplexes, paths are shown with `/`.
pub const WINDOWS: bool = false;

/// What libssh2 can run a session over: a socket.
pub trait Socket: std::os::fd::AsRawFd {}
impl<T: std::os::fd::AsRawFd> Socket for T {}

/// The socket end [`spawn_on_socket`] gives back.
pub type CommandSocket = std::os::unix::net::UnixStream;

/// Starts `command` with its standard input and output on one end of a socket pair (standard
/// error piped) and gives back the other end: a byte stream to whatever the command connects
/// to (`ssh -W`).
pub fn spawn_on_socket(
    mut command: std::process::Command,
) -> io::Result<(CommandSocket, std::process::Child)> {
    use std::process::Stdio;
    let (ours, theirs) = CommandSocket::pair()?;
    let child = command
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs.try_clone()?)))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stderr(Stdio::piped())
        .spawn()?;
    Ok((ours, child))
}

/// On Ctrl-C: writes `message` to standard error and exits with `code` (a SIGINT handler that
/// calls only async-signal-safe functions).
pub fn on_interrupt(message: &'static [u8], code: i32) {
    static MESSAGE: std::sync::OnceLock<(&'static [u8], i32)> = std::sync::OnceLock::new();
    let _ = MESSAGE.set((message, code));
    extern "C" fn on_sigint(_: libc::c_int) {
        // Only async-signal-safe calls here: write(2) and _exit(2).
        if let Some((m, code)) = MESSAGE.get() {
            unsafe {
                libc::write(2, m.as_ptr().cast(), m.len());
                libc::_exit(*code);
            }
        }
    }
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: installs a handler that only calls async-signal-safe functions.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

/// The flag [`interrupt_flag`] sets.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on Ctrl-C (and a closed terminal, SIGTERM) only sets a flag, which the caller
/// polls to end what it started (a job, a forward) before it exits; returns the flag.
pub fn interrupt_flag() -> &'static std::sync::atomic::AtomicBool {
    extern "C" fn on_signal(_: libc::c_int) {
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let handler: extern "C" fn(libc::c_int) = on_signal;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::signal(sig, handler as libc::sighandler_t);
        }
    }
    &INTERRUPTED
}

/// macOS: the browser is opened with `open`.
pub const MACOS: bool = cfg!(target_os = "macos");

/// The names VS Code's command-line launcher has on PATH.
pub const VSCODE: &[&str] = &["code"];
