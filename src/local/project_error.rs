//! What can go wrong reading a project's files for a snapshot, and what to do about it.

use std::path::PathBuf;

/// The project's own exclude file, in gitignore syntax.
pub const IGNORE_FILE: &str = ".hpcinitignore";

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("exclude pattern `{pattern}` is not valid: {message}")]
    Pattern { pattern: String, message: String },
    /// Files or folders of the project hpcinit may not read, every one of them.
    #[error("hpcinit may not read {} in the project {}:{}", plural(paths.len()), root.display(), list(paths))]
    Unreadable { root: PathBuf, paths: Vec<String> },
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{n} entries")
    }
}

/// The paths, one per line (at most 20 shown).
fn list(paths: &[String]) -> String {
    let mut s: String = paths.iter().take(20).map(|p| format!("\n  {p}")).collect();
    if paths.len() > 20 {
        s.push_str(&format!("\n  … and {} more", paths.len() - 20));
    }
    s
}

impl crate::exit::Diagnostic for ProjectError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            ProjectError::Read { .. } => {
                "check that you may read it, or leave it out with a line in .hpcinitignore".into()
            }
            ProjectError::Pattern { .. } => {
                "patterns use .gitignore syntax, e.g. `--exclude 'data/'` or `--exclude '*.h5'`".into()
            }
            ProjectError::Unreadable { root, paths } => format!(
                "if they are not code, leave them out with these lines in {}: {}; or give yourself read access (chmod u+r)",
                root.join(IGNORE_FILE).display(),
                paths.iter().map(|p| format!("`/{p}`")).collect::<Vec<_>>().join(", ")
            ),
        })
    }
}
