//! The git state of the project: the commit checked out and whether the work tree differs
//! from it, read with the `git` program (read-only: `rev-parse`, `status`).

use std::path::Path;
use std::process::{Command, Stdio};

/// The commit the code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitState {
    pub short_sha: String,
    /// Tracked files changed or untracked files present: the snapshot is not the commit.
    pub dirty: bool,
}

impl GitState {
    /// The end of a snapshot's name: `-1a2b3c4` or `-1a2b3c4-dirty`.
    pub fn suffix(git: Option<&GitState>) -> String {
        match git {
            Some(g) if g.dirty => format!("-{}-dirty", g.short_sha),
            Some(g) => format!("-{}", g.short_sha),
            None => String::new(),
        }
    }
}

/// The commit checked out at `root` and whether the work tree differs (hpcinit.lock aside),
/// if `root` is a git work tree and git is installed.
pub fn git_state(root: &Path) -> Option<GitState> {
    if !root.join(".git").exists() {
        return None;
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let short_sha = git(&["rev-parse", "--short", "HEAD"])?;
    // hpcinit writes hpcinit.lock into the project just before the first snapshot: it is
    // hpcinit's own file, not a change of the person's code, so it does not make the name
    // `-dirty` (the snapshot holds it as written). See docs/snapshots.md.
    let status =
        git(&["status", "--porcelain", "--untracked-files=normal", "--", ":/", ":(exclude)hpcinit.lock"])?;
    Some(GitState { short_sha, dirty: !status.is_empty() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_names_commit_and_dirt() {
        let g = GitState { short_sha: "1a2b3c4".into(), dirty: true };
        assert_eq!(GitState::suffix(Some(&g)), "-1a2b3c4-dirty");
        assert_eq!(GitState::suffix(None), "");
    }

    #[test]
    #[cfg_attr(windows, ignore = "runs git, which Wine does not provide")]
    fn hpcinit_lock_alone_does_not_make_a_checkout_dirty() {
        let d = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok =
                Command::new("git").arg("-C").arg(d.path()).args(args).output().unwrap().status.success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(d.path().join("main.py"), "print(1)\n").unwrap();
        git(&["add", "."]);
        git(&["-c", "user.email=a@b", "-c", "user.name=n", "commit", "-qm", "x"]);
        std::fs::write(d.path().join("hpcinit.lock"), "lock-version: 1\n").unwrap();
        assert!(!git_state(d.path()).unwrap().dirty, "the lock hpcinit wrote");
        std::fs::write(d.path().join("main.py"), "print(2)\n").unwrap();
        assert!(git_state(d.path()).unwrap().dirty, "a change of the person's code");
    }
}
