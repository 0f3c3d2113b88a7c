//! The private directory for shared-connection sockets where the home's path is too long for
//! one (`plan::ssh_config::control_path`): made with mode 0700 under /tmp, and checked before
//! every use, because /tmp is shared: it must be a directory (not a link), owned by this user,
//! and open to no one else, or ssh is not pointed at it. Touches only that directory.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("the directory for the shared connection's socket, {dir}, cannot be used: {why}")]
pub struct ControlDirError {
    pub dir: String,
    pub why: String,
}

impl crate::exit::Diagnostic for ControlDirError {
    fn hint(&self) -> Option<String> {
        Some(format!("remove {} (someone else may have made it) and run the same command again", self.dir))
    }
}

/// Makes `dir` (0700) if it is missing, then checks that it is this user's private directory.
pub fn ensure(dir: &Path) -> Result<(), ControlDirError> {
    let fail = |why: String| ControlDirError { dir: dir.display().to_string(), why };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        if std::fs::symlink_metadata(dir).is_err() {
            std::fs::DirBuilder::new().mode(0o700).create(dir).map_err(|e| fail(e.to_string()))?;
        }
        let m = std::fs::symlink_metadata(dir).map_err(|e| fail(e.to_string()))?;
        if !m.file_type().is_dir() {
            return Err(fail("it is not a directory".into()));
        }
        // SAFETY: getuid has no preconditions and cannot fail.
        let me = unsafe { libc::getuid() };
        if m.uid() != me {
            return Err(fail(format!("it belongs to user id {}, not to you", m.uid())));
        }
        if m.mode() & 0o077 != 0 {
            return Err(fail(format!("others may use it (mode {:o})", m.mode() & 0o777)));
        }
    }
    #[cfg(not(unix))]
    let _ = fail;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn made_private_and_refused_when_others_may_use_it() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("hpcinit-sockets");
        ensure(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        ensure(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(ensure(&dir).unwrap_err().why.contains("others may use it"));
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(ensure(&link).unwrap_err().why.contains("not a directory"));
    }
}
