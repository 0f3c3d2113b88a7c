//! One hpcinit at a time changes a person's files. Two runs at once (a second terminal, a
//! script started twice, a teaching assistant's loop) would both edit `~/.ssh/config`, the
//! managed file and the state records; each write is atomic, but the later would undo the
//! earlier's work. Every command that writes takes an exclusive lock (std's `File::try_lock`:
//! `flock` on Unix, `LockFileEx` on Windows) on
//! `$XDG_STATE_HOME/hpcinit/run.lock` first; a second run waits for it (saying for whom) up to
//! `HPCINIT_LOCK_WAIT` seconds (default 300), then gives up with exit 1 having changed nothing.
//! The kernel drops the lock when its process ends, however it ends: no stale lock to delete.

use crate::env::Env;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Seconds a run waits for another by default.
pub const DEFAULT_WAIT: u64 = 300;

/// Held while the run lasts; dropping it (or the process ending) releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Still held: clear the name, so that nobody later reads it as the holder.
        let _ = self._file.set_len(0);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunLockError {
    #[error("another hpcinit run is changing your setup ({holder}); waited {waited} s for it")]
    Busy { holder: String, waited: u64, path: PathBuf },
    #[error("cannot use the lock file {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::exit::Diagnostic for RunLockError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            RunLockError::Busy { .. } => "let it finish (or stop it), then run this again; HPCINIT_LOCK_WAIT=SECONDS waits longer. The lock ends with its process, so there is no file to delete".into(),
            RunLockError::Io { .. } => "check that hpcinit's state directory (~/.local/state/hpcinit) is yours and writable".into(),
        })
    }
}

/// The lock file: beside hpcinit's state records.
pub fn path(env: &Env) -> PathBuf {
    super::state::dir(env).join("run.lock")
}

fn try_lock(f: &File) -> std::io::Result<bool> {
    match f.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Takes the lock for `what` (the command line, shown to a run that has to wait), waiting for
/// another run up to `HPCINIT_LOCK_WAIT` seconds; `on_wait` hears once whom it waits for.
pub fn acquire(env: &Env, what: &str, on_wait: &mut dyn FnMut(&str)) -> Result<RunLock, RunLockError> {
    let path = path(env);
    let io = |source| RunLockError::Io { path: path.clone(), source };
    if let Some(dir) = path.parent() {
        super::atomic::ensure_dir(dir, 0o700).map_err(io)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    super::atomic::private(&mut options);
    let mut file = options.open(&path).map_err(io)?;
    let wait = env.var("HPCINIT_LOCK_WAIT").and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_WAIT);
    let start = Instant::now();
    let mut told = false;
    while !try_lock(&file).map_err(io)? {
        let mut holder = String::new();
        let _ = file.rewind().and_then(|_| file.read_to_string(&mut holder));
        let holder = holder.trim().to_string();
        let holder = if holder.is_empty() { "a run just starting".to_string() } else { holder };
        if start.elapsed() >= Duration::from_secs(wait) {
            return Err(RunLockError::Busy { holder, waited: wait, path });
        }
        if !told {
            on_wait(&holder);
            told = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Ours now: say who holds it, for a run that has to wait.
    let me = format!("pid {}: {what}", std::process::id());
    let _ = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(me.as_bytes()));
    Ok(RunLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(home: &std::path::Path, wait: &str) -> Env {
        let mut e = Env::from_process();
        e.home = home.to_path_buf();
        e.vars.clear();
        e.vars.insert("HPCINIT_LOCK_WAIT".into(), wait.into());
        e
    }

    #[test]
    fn a_second_taker_waits_then_gives_up_naming_the_first() {
        let home = tempfile::tempdir().unwrap();
        let first = acquire(&env(home.path(), "0"), "hpcinit --site saga", &mut |_| {}).unwrap();
        let mut heard = Vec::new();
        let e =
            acquire(&env(home.path(), "0"), "hpcinit sync", &mut |h| heard.push(h.to_string())).unwrap_err();
        match &e {
            RunLockError::Busy { holder, .. } => {
                assert_eq!(holder, &format!("pid {}: hpcinit --site saga", std::process::id()))
            }
            e => panic!("{e}"),
        }
        assert!(e.to_string().contains("another hpcinit run is changing your setup"), "{e}");
        drop(first);
        // Released: the next one gets it at once.
        acquire(&env(home.path(), "0"), "hpcinit sync", &mut |_| {}).unwrap();
    }
}
