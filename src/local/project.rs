//! The project's code as a snapshot will hold it: the project root (the git top-level, or the
//! `--project-dir` given), the files that are sent, and the commit they come from. Reads the
//! project directory (and runs `git` there when it is installed); changes nothing.
//!
//! What is sent: every file and symbolic link under the root, except `.git`, what git ignores
//! (`.gitignore` at any level, `.git/info/exclude`, the global excludes file), virtual
//! environments (any directory holding `pyvenv.cfg` or `conda-meta`), caches (`__pycache__`,
//! `.pytest_cache`, …), and the project's own excludes: `.hpcinitignore` files (gitignore
//! syntax, at any level) and `--exclude PATTERN`. Empty directories are not sent, as in git.
//!
//! The listing becomes the snapshot's manifest ([`super::manifest`]), which travels with the
//! files; the cluster can build the same text from what a snapshot holds, with `find`, so equal
//! SHA-256 digests prove a snapshot intact (`hpcinit sync --verify`, doctor).

pub use super::git::{git_state, GitState};
pub use super::project_error::{ProjectError, IGNORE_FILE};
use crate::platform;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::WalkBuilder;
use std::path::{Path, PathBuf};

/// Patterns never sent (gitignore syntax, from the project root).
pub const BUILT_IN_EXCLUDES: &[&str] = &[
    ".git/",
    "__pycache__/",
    "*.py[cod]",
    ".venv/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".ipynb_checkpoints/",
    ".tox/",
    ".nox/",
    ".hypothesis/",
    ".DS_Store",
    // hpcinit's own files inside a snapshot.
    "/.hpcinit-manifest",
    "/.hpcinit-snapshot",
    "/.hpcinit-finish",
];

/// hpcinit's own files at a snapshot's top, sent beside the project's: never an rsync exclude
/// rule, or they would be left out too.
pub(super) const OWN_FILES: &[&[u8]] = &[b".hpcinit-manifest", b".hpcinit-snapshot", b".hpcinit-finish"];

/// One thing sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the root, `/`-separated, as bytes (names need not be UTF-8).
    pub rel: Vec<u8>,
    pub kind: EntryKind,
    /// What the manifest's record misses (files only): see [`crate::platform::Stamp`].
    pub stamp: crate::platform::Stamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File { size: u64, mtime: i64, executable: bool },
    Link { target: Vec<u8> },
}

/// The left-out paths with whether each is a directory, or why they could not be found (the
/// directory, and what went wrong).
type LeftOut = Result<Vec<(Vec<u8>, bool)>, (PathBuf, String)>;

/// The project's files, as they are now.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Sorted by path.
    pub entries: Vec<Entry>,
    /// The root and the directories walked, from which [`Scan::excluded`] is found when asked
    /// for (a copy of the changes only never needs it).
    pub(crate) root: PathBuf,
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) excluded: std::sync::OnceLock<LeftOut>,
    /// Directories left out because they hold a virtual environment, relative to the root.
    pub venvs: Vec<String>,
    /// When the listing began (seconds and nanoseconds since the epoch): a file modified in
    /// that same second may have changed after it was listed (see `sync_index`).
    pub listed_at: (i64, u32),
}

/// The root of the project holding `dir`: its git top-level, unless that is the home directory
/// (a dotfiles repository) or `/`; otherwise `dir` itself.
pub fn root_of(dir: &Path, home: &Path) -> PathBuf {
    for d in dir.ancestors() {
        if d.join(".git").exists() {
            if d == home || d.parent().is_none() {
                break;
            }
            return d.to_path_buf();
        }
    }
    dir.to_path_buf()
}

/// Files that make a directory a project even outside git.
const PROJECT_FILES: &[&str] =
    &["requirements.txt", "pyproject.toml", "setup.py", "setup.cfg", "environment.yml", "Pipfile"];

/// Whether `dir` (as [`root_of`] gives it) is a project: a git work tree, or a folder with a
/// requirements.txt, pyproject.toml or the like, and never the home directory itself.
pub fn is_project(dir: &Path, home: &Path) -> bool {
    dir != home && (dir.join(".git").exists() || PROJECT_FILES.iter().any(|f| dir.join(f).is_file()))
}

/// What the walk's threads gather.
#[derive(Default)]
struct Found {
    entries: Vec<Entry>,
    dirs: Vec<PathBuf>,
    unreadable: Vec<String>,
    error: Option<ProjectError>,
}

/// Lists what a snapshot of `root` holds: see the module documentation for the rules. The walk
/// runs on as many threads as there are cores (ripgrep's walker), reading each directory once
/// more afterwards for what was left out.
pub fn scan(root: &Path, excludes: &[String]) -> Result<Scan, ProjectError> {
    let listed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() as i64, d.subsec_nanos()))
        .unwrap_or_default();
    let matcher = own_excludes(root, excludes)?;
    let venvs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut walk = WalkBuilder::new(root);
    walk.hidden(false)
        .ignore(false)
        .parents(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .require_git(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE);
    let root_buf = root.to_path_buf();
    let venv_list = venvs.clone();
    walk.filter_entry(move |e| {
        let is_dir = e.file_type().is_some_and(|t| t.is_dir());
        let path = e.path();
        if path == root_buf {
            return true;
        }
        // Parents were checked when the walk entered them.
        if matcher.matched(path, is_dir).is_ignore() {
            return false;
        }
        if is_dir && (path.join("pyvenv.cfg").is_file() || path.join("conda-meta").is_dir()) {
            if let Ok(rel) = path.strip_prefix(&root_buf) {
                venv_list.lock().expect("not poisoned").push(rel.to_string_lossy().into_owned());
            }
            return false;
        }
        true
    });
    let found = std::sync::Mutex::new(Found { dirs: vec![root.to_path_buf()], ..Found::default() });
    walk.build_parallel().run(|| {
        let found = &found;
        Box::new(move |item| {
            let seen = visit(item, root);
            let mut f = found.lock().expect("not poisoned");
            match seen {
                Ok(Seen::Entry(e)) => f.entries.push(e),
                Ok(Seen::Dir(d)) => f.dirs.push(d),
                Ok(Seen::Unreadable(u)) => f.unreadable.push(u),
                Ok(Seen::Nothing) => {}
                Err(e) => {
                    f.error.get_or_insert(e);
                    return ignore::WalkState::Quit;
                }
            }
            ignore::WalkState::Continue
        })
    });
    let Found { mut entries, mut dirs, mut unreadable, error } = found.into_inner().expect("not poisoned");
    if let Some(e) = error {
        return Err(e);
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    dirs.sort();
    let mut venvs = std::mem::take(&mut *venvs.lock().expect("not poisoned"));
    venvs.sort();
    if !unreadable.is_empty() {
        unreadable.sort();
        unreadable.dedup();
        return Err(ProjectError::Unreadable { root: root.to_path_buf(), paths: unreadable });
    }
    Ok(Scan { entries, root: root.to_path_buf(), dirs, excluded: Default::default(), venvs, listed_at })
}

impl Scan {
    /// What is left out, as the top-most paths (a directory once, not each file in it), with
    /// whether each is a directory: rsync's exclude rules. Found the first time it is asked
    /// for, by reading each kept directory once more.
    pub fn excluded(&self) -> Result<&[(Vec<u8>, bool)], ProjectError> {
        let found = self.excluded.get_or_init(|| {
            left_out(&self.root, &self.dirs, &self.entries).map_err(|e| match e {
                ProjectError::Read { path, source } => (path, source.to_string()),
                other => (self.root.clone(), other.to_string()),
            })
        });
        match found {
            Ok(v) => Ok(v),
            Err((path, why)) => {
                Err(ProjectError::Read { path: path.clone(), source: std::io::Error::other(why.clone()) })
            }
        }
    }

    /// A listing with these left-out paths (tests).
    #[cfg(test)]
    pub fn with_excluded(excluded: Vec<(Vec<u8>, bool)>) -> Scan {
        Scan { excluded: std::sync::OnceLock::from(Ok(excluded)), ..Scan::default() }
    }
}

/// One walk item, as the scan keeps it.
enum Seen {
    Entry(Entry),
    Dir(PathBuf),
    Unreadable(String),
    Nothing,
}

fn visit(item: Result<ignore::DirEntry, ignore::Error>, root: &Path) -> Result<Seen, ProjectError> {
    let e = match item {
        Ok(e) => e,
        // Every unreadable entry is listed, not the first alone (see below).
        Err(err) => return Ok(Seen::Unreadable(unreadable_entry(&err, root))),
    };
    let Some(ft) = e.file_type() else { return Ok(Seen::Nothing) };
    let path = e.path();
    if ft.is_dir() {
        return Ok(if path == root { Seen::Nothing } else { Seen::Dir(path.to_path_buf()) });
    }
    let read = |source| ProjectError::Read { path: path.to_path_buf(), source };
    let rel = rel_bytes(path.strip_prefix(root).unwrap_or(path));
    if ft.is_symlink() {
        let target = std::fs::read_link(path).map_err(read)?;
        return Ok(Seen::Entry(Entry {
            rel,
            kind: EntryKind::Link { target: platform::os_bytes(target.as_os_str()) },
            stamp: Default::default(),
        }));
    }
    if !ft.is_file() {
        // Sockets, pipes and devices are not code: left out.
        return Ok(Seen::Nothing);
    }
    let meta = std::fs::symlink_metadata(path).map_err(read)?;
    if !platform::readable(path, &meta) {
        return Ok(Seen::Unreadable(String::from_utf8_lossy(&rel).into_owned()));
    }
    let stamp = platform::file_facts(&meta).stamp;
    Ok(Seen::Entry(Entry { rel, kind: file_kind(&meta), stamp }))
}

/// A walk error's path as the `.hpcinitignore` line names it (`data/`, `token.txt`).
fn unreadable_entry(err: &ignore::Error, root: &Path) -> String {
    let path = err_path(err).unwrap_or_else(|| root.to_path_buf());
    let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
    format!("{rel}{}", if path.is_dir() { "/" } else { "" })
}

/// Every entry of a kept directory that is neither kept nor a kept directory: what was left out.
fn left_out(root: &Path, dirs: &[PathBuf], entries: &[Entry]) -> Result<Vec<(Vec<u8>, bool)>, ProjectError> {
    let kept_dirs: std::collections::HashSet<Vec<u8>> =
        dirs.iter().map(|d| rel_bytes(d.strip_prefix(root).unwrap_or(d))).collect();
    let kept: std::collections::HashSet<&[u8]> = entries.iter().map(|e| e.rel.as_slice()).collect();
    let mut out = Vec::new();
    for d in dirs {
        let read = |source| ProjectError::Read { path: d.clone(), source };
        for child in std::fs::read_dir(d).map_err(read)? {
            let child = child.map_err(read)?;
            let path = child.path();
            let rel = rel_bytes(path.strip_prefix(root).unwrap_or(&path));
            let is_dir = child.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let is_kept = kept.contains(rel.as_slice()) || (is_dir && kept_dirs.contains(&rel));
            if !is_kept {
                out.push((rel, is_dir));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn err_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => err_path(err),
        _ => None,
    }
}

fn own_excludes(root: &Path, excludes: &[String]) -> Result<Gitignore, ProjectError> {
    let mut b = GitignoreBuilder::new(root);
    for p in BUILT_IN_EXCLUDES.iter().copied().chain(excludes.iter().map(String::as_str)) {
        b.add_line(None, p)
            .map_err(|e| ProjectError::Pattern { pattern: p.to_string(), message: e.to_string() })?;
    }
    b.build().map_err(|e| ProjectError::Pattern { pattern: excludes.join(" "), message: e.to_string() })
}

fn file_kind(meta: &std::fs::Metadata) -> EntryKind {
    let f = platform::file_facts(meta);
    EntryKind::File { size: f.size, mtime: f.mtime, executable: f.executable }
}

fn rel_bytes(rel: &Path) -> Vec<u8> {
    platform::os_bytes(rel.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::manifest::parse_manifest;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn names(scan: &Scan) -> Vec<String> {
        scan.entries.iter().map(Entry::display).collect()
    }

    #[test]
    #[cfg_attr(windows, ignore = "runs git, which Wine does not provide")]
    fn git_ignores_venvs_caches_and_own_excludes_are_left_out() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir(r.join(".git")).unwrap();
        write(r, ".git/config", "x");
        write(r, ".gitignore", "data/\n*.log\n!keep.log\n");
        write(r, "src/.gitignore", "generated.py\n");
        write(r, "src/main.py", "print(1)\n");
        write(r, "src/generated.py", "x");
        write(r, "src/__pycache__/main.cpython-311.pyc", "x");
        write(r, "run.log", "x");
        write(r, "keep.log", "x");
        write(r, "data/big.bin", "x");
        write(r, "env/pyvenv.cfg", "home = /usr/bin\n");
        write(r, "env/lib/site.py", "x");
        write(r, "conda/conda-meta/history", "x");
        write(r, ".hpcinitignore", "results/\n");
        write(r, "results/out.csv", "x");
        write(r, "notes/draft.md", "x");
        write(r, "- dash 'q' \"d\".py", "x");
        let scan = scan(r, &["notes/".into()]).unwrap();
        assert_eq!(
            names(&scan),
            vec![
                "- dash 'q' \"d\".py",
                ".gitignore",
                ".hpcinitignore",
                "keep.log",
                "src/.gitignore",
                "src/main.py"
            ]
        );
        assert_eq!(scan.venvs, vec!["conda", "env"]);
        let ex: Vec<String> = scan
            .rsync_excludes()
            .unwrap()
            .split(|b| *b == 0)
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect();
        for rule in [
            "/.git/",
            "/data/",
            "/run.log",
            "/env/",
            "/conda/",
            "/results/",
            "/notes/",
            "/src/generated.py",
            "/src/__pycache__/",
        ] {
            assert!(ex.contains(&rule.to_string()), "{rule} in {ex:?}");
        }
        assert!(
            !ex.iter().any(|r| r.starts_with("/data/") && r.len() > 6),
            "inside a left-out directory, nothing more"
        );
    }

    #[test]
    fn exclude_rules_escape_wildcards() {
        let s = Scan::with_excluded(vec![(b"a[1]*.txt".to_vec(), false)]);
        assert_eq!(s.rsync_excludes().unwrap(), b"/a\\[1]\\*.txt\0".to_vec());
    }

    #[test]
    fn manifest_is_sorted_nul_terminated_records() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "b.txt", "hello");
        write(d.path(), "a/x.py", "");
        #[cfg(unix)]
        std::os::unix::fs::symlink("b.txt", d.path().join("link")).unwrap();
        let s = scan(d.path(), &[]).unwrap();
        let m = String::from_utf8(s.manifest()).unwrap();
        let recs: Vec<&str> = m.split('\0').collect();
        assert!(recs[0].starts_with("a/x.py\tf\t0\t"), "{recs:?}");
        assert!(recs[1].starts_with("b.txt\tf\t5\t"), "{recs:?}");
        #[cfg(unix)]
        assert_eq!(recs[2], "link\tl\tb.txt");
        assert_eq!(recs.last(), Some(&""), "NUL-terminated");
        assert_eq!(parse_manifest(&s.manifest()).len(), s.entries.len());
        assert_eq!(s.manifest_sha().len(), 64);
    }

    #[test]
    fn the_manifest_is_in_record_order_whatever_the_names() {
        let file = |rel: &[u8]| Entry {
            rel: rel.to_vec(),
            kind: EntryKind::File { size: 1, mtime: 2, executable: false },
            stamp: Default::default(),
        };
        for names in [&[&b"a"[..], b"a.b", b"a/b", b"b"][..], &[b"a", b"a\x01b", b"a/b"]] {
            let s = Scan { entries: names.iter().map(|n| file(n)).collect(), ..Scan::default() };
            let mut records: Vec<Vec<u8>> = s.entries.iter().map(Entry::record).collect();
            records.sort();
            let want: Vec<u8> = records.into_iter().flat_map(|r| r.into_iter().chain([0])).collect();
            assert_eq!(s.manifest(), want, "{names:?}");
        }
    }

    #[test]
    fn a_bad_pattern_names_itself() {
        let d = tempfile::tempdir().unwrap();
        let e = scan(d.path(), &["x[z-a]".into()]).unwrap_err();
        assert!(e.to_string().contains("x[z-a]"), "{e}");
    }

    #[test]
    fn root_is_the_git_top_level_but_never_home() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("home");
        let repo = home.join("code/proj");
        std::fs::create_dir_all(repo.join("sub/deep")).unwrap();
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        assert_eq!(root_of(&repo.join("sub/deep"), &home), repo);
        std::fs::create_dir_all(home.join(".git")).unwrap();
        let other = home.join("other");
        std::fs::create_dir_all(&other).unwrap();
        assert_eq!(root_of(&other, &home), other, "a dotfiles repository is not the project");
    }

    #[test]
    fn a_project_is_a_git_tree_or_has_requirements_and_is_never_home() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("home");
        let (empty, reqs, git) = (home.join("Downloads"), home.join("a"), home.join("b"));
        for p in [&empty, &reqs, &git.join(".git")] {
            std::fs::create_dir_all(p).unwrap();
        }
        std::fs::write(reqs.join("requirements.txt"), "numpy\n").unwrap();
        std::fs::write(home.join("pyproject.toml"), "").unwrap();
        assert!(!is_project(&home, &home), "the home directory, whatever it holds");
        assert!(!is_project(&empty, &home));
        assert!(is_project(&reqs, &home) && is_project(&git, &home));
    }
}
