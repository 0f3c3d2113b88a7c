//! Writing the person's files without ever leaving one half-written: a temporary file in the
//! same directory, flushed to disk, then renamed over the old one (and the directory flushed).
//! A symlinked file is written at its target, so the link stays a link; the first time hpcinit
//! changes a file it already finds, a copy is kept beside it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The suffix of the copy kept the first time hpcinit changes a file.
pub const BACKUP_SUFFIX: &str = ".hpcinit-backup";

/// Replaces `path` with `bytes`. A new file gets `mode`; an existing one keeps its own mode.
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mode = match fs::metadata(path) {
        Ok(m) => permissions_of(&m).unwrap_or(mode),
        Err(_) => mode,
    };
    let tmp = dir.join(format!(".{name}.hpcinit-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = create_new(&tmp, mode)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // The rename itself is durable only once the directory is flushed.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` with `bytes` and `mode`; fails if it exists. Never replaces a file.
pub fn create(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = create_new(path, mode)?;
    let result = f.write_all(bytes).and_then(|_| f.sync_all());
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// Copies `path` to `path.hpcinit-backup` unless that copy exists; returns it when made.
pub fn backup_once(path: &Path) -> io::Result<Option<PathBuf>> {
    let mut name = path.as_os_str().to_owned();
    name.push(BACKUP_SUFFIX);
    let backup = PathBuf::from(name);
    if backup.symlink_metadata().is_ok() {
        return Ok(None);
    }
    match fs::read(path) {
        Ok(bytes) => {
            create(&backup, &bytes, 0o600)?;
            Ok(Some(backup))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The file a path finally names, following symlinks (relative ones from the link's
/// directory). A dangling link resolves to its missing target, which is then created.
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p)?;
                p = if target.is_absolute() {
                    target
                } else {
                    p.parent().unwrap_or(Path::new("/")).join(target)
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("{}: too many levels of symbolic links", path.display())))
}

/// Creates `dir` (and its parents) when missing, the last one with `mode`.
pub fn ensure_dir(dir: &Path, mode: u32) -> io::Result<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    fs::create_dir_all(dir)?;
    set_mode(dir, mode)?;
    Ok(true)
}

use crate::platform::{create_new, permissions_of};
pub use crate::platform::{private, restrict_to_owner, set_mode};

/// A file's permission bits, when the platform has them.
pub fn mode_of(path: &Path) -> Option<u32> {
    fs::metadata(path).ok().and_then(|m| permissions_of(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(windows, ignore = "Unix permission bits")]
    fn write_keeps_mode_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config");
        write(&p, b"a\n", 0o600).unwrap();
        assert_eq!(mode_of(&p), Some(0o600));
        set_mode(&p, 0o644).unwrap();
        write(&p, b"b\n", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"b\n");
        assert_eq!(mode_of(&p), Some(0o644), "an existing file keeps its mode");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn backup_only_the_first_time() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config");
        assert_eq!(backup_once(&p).unwrap(), None, "nothing to back up");
        fs::write(&p, b"original").unwrap();
        let b = backup_once(&p).unwrap().unwrap();
        fs::write(&p, b"changed").unwrap();
        assert_eq!(backup_once(&p).unwrap(), None);
        assert_eq!(fs::read(b).unwrap(), b"original");
    }

    #[test]
    #[cfg(unix)] // Unix symlinks
    fn resolves_relative_symlink_chains() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("dotfiles")).unwrap();
        fs::write(d.path().join("dotfiles/ssh_config"), b"x").unwrap();
        std::os::unix::fs::symlink("dotfiles/ssh_config", d.path().join("link1")).unwrap();
        std::os::unix::fs::symlink(d.path().join("link1"), d.path().join("config")).unwrap();
        let r = resolve(&d.path().join("config")).unwrap();
        assert_eq!(
            fs::canonicalize(r).unwrap(),
            fs::canonicalize(d.path().join("dotfiles/ssh_config")).unwrap()
        );
        assert_eq!(resolve(&d.path().join("none")).unwrap(), d.path().join("none"));
    }

    #[test]
    fn create_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("key");
        create(&p, b"1", 0o600).unwrap();
        assert_eq!(create(&p, b"2", 0o600).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"1");
    }
}
