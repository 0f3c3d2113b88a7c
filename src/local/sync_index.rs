//! What the last code snapshot from this machine was made from, file by file, as git's index
//! keeps it: each file's size and time (the manifest's record) with what the record misses
//! (the time's nanoseconds, the change time, the inode: [`Stamp`]), and when that listing
//! began. A file whose record is the same now but whose stamp is not changed in a way rsync's
//! quick check (size and whole-second time) and the manifest cannot see: an edit in the same
//! second, an edit followed by `touch -r`. Such files are sent again whatever rsync thinks.
//! Where the file system keeps whole seconds only, a file modified in the second the last
//! listing began is suspect too (git's "racy" rule). Kept under hpcinit's state directory, one
//! file per site and project, written atomically after each snapshot; a missing or unreadable
//! one is no index (the sync then trusts the records, as before there was one).
//!
//! The index also names the snapshot it describes (its manifest's SHA-256) and keeps the
//! symbolic links, so the next sync can send only what changed since ([`SyncIndex::changes`]):
//! the cluster starts from a copy of that very snapshot or the sync copies as before.

use super::project::{EntryKind, Scan};
use crate::platform::Stamp;
use std::path::{Path, PathBuf};

const HEADER: &str = "hpcinit-sync-index 2";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncIndex {
    pub listed_at: (i64, u32),
    /// The SHA-256 of the manifest of the listing: the snapshot this index describes.
    pub base: String,
    /// Every file and link, sorted by path (as a listing is): compared with a listing in one
    /// pass, without hashing.
    entries: Vec<(Vec<u8>, Record)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Record {
    File { size: u64, mtime: i64, stamp: Stamp },
    Link(Vec<u8>),
}

/// What to do to a copy of the snapshot an index describes to make it hold a listing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Files and links new or changed (in any way, the ones the record misses included), sorted.
    pub send: Vec<Vec<u8>>,
    /// Paths that are no longer there (files, links, or whole directories of them), sorted.
    pub remove: Vec<Vec<u8>>,
    /// Of `send`, those whose record is unchanged but which changed all the same (an edit in
    /// the same second, `touch -r`).
    pub unseen: Vec<Vec<u8>>,
}

/// One path of a listing beside the index's record of it.
enum Pair<'a> {
    Both(&'a crate::local::project::Entry, &'a Record),
    Now(&'a crate::local::project::Entry),
    Then(&'a [u8]),
}

impl SyncIndex {
    /// The index of `scan`, whose manifest's SHA-256 is `base`.
    pub fn of(scan: &Scan, base: &str) -> SyncIndex {
        let entries = scan
            .entries
            .iter()
            .map(|e| {
                let r = match &e.kind {
                    EntryKind::File { size, mtime, .. } => {
                        Record::File { size: *size, mtime: *mtime, stamp: e.stamp }
                    }
                    EntryKind::Link { target } => Record::Link(target.clone()),
                };
                (e.rel.clone(), r)
            })
            .collect();
        SyncIndex { listed_at: scan.listed_at, base: base.to_string(), entries }
    }

    /// Walks `scan` and the index side by side (both sorted by path).
    fn pairs<'a>(&'a self, scan: &'a Scan, mut f: impl FnMut(Pair<'a>)) {
        let (now, then) = (&scan.entries, &self.entries);
        let (mut i, mut j) = (0, 0);
        while i < now.len() || j < then.len() {
            match (now.get(i), then.get(j)) {
                (Some(n), Some((rel, r))) => match n.rel.as_slice().cmp(rel.as_slice()) {
                    std::cmp::Ordering::Equal => {
                        f(Pair::Both(n, r));
                        i += 1;
                        j += 1;
                    }
                    std::cmp::Ordering::Less => {
                        f(Pair::Now(n));
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        f(Pair::Then(rel));
                        j += 1;
                    }
                },
                (Some(n), None) => {
                    f(Pair::Now(n));
                    i += 1;
                }
                (None, Some((rel, _))) => {
                    f(Pair::Then(rel));
                    j += 1;
                }
                (None, None) => break,
            }
        }
    }

    /// Whether a file of the listing whose record equals the index's changed all the same.
    fn unseen(&self, size: u64, mtime: i64, now: &Stamp, then: &Record) -> Option<bool> {
        let Record::File { size: s, mtime: m, stamp } = then else { return None };
        if (*s, *m) != (size, mtime) {
            return None; // the record differs: the manifest and rsync see the change
        }
        let coarse = now.mtime_ns == 0 && now.ctime_ns == 0;
        Some(stamp != now || (coarse && mtime >= self.listed_at.0))
    }

    /// What changed from this index's listing to `scan`: every file whose record or stamp
    /// differs (or that is suspect by the racy rule), every new or re-pointed link, every path
    /// gone. A path that changed kind (a file now a link, or the reverse) is sent; a file whose
    /// path is now a directory (or the reverse) is removed and its new contents sent.
    pub fn changes(&self, scan: &Scan) -> Changes {
        let mut out = Changes::default();
        self.pairs(scan, |pair| match pair {
            Pair::Both(e, then) => {
                let same = match (&e.kind, then) {
                    (EntryKind::File { size, mtime, .. }, _) => {
                        match self.unseen(*size, *mtime, &e.stamp, then) {
                            Some(true) => {
                                out.unseen.push(e.rel.clone());
                                false
                            }
                            Some(false) => true,
                            None => false,
                        }
                    }
                    (EntryKind::Link { target }, Record::Link(t)) => target == t,
                    (EntryKind::Link { .. }, Record::File { .. }) => false,
                };
                if !same {
                    out.send.push(e.rel.clone());
                }
            }
            Pair::Now(e) => out.send.push(e.rel.clone()),
            Pair::Then(rel) => out.remove.push(rel.to_vec()),
        });
        out
    }

    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut t = String::with_capacity(64 + self.entries.len() * 96);
        let _ = writeln!(t, "{HEADER} {} {} {}", self.listed_at.0, self.listed_at.1, self.base);
        // In path order: hex keeps the bytes' order, and a shorter path's tab sorts first.
        for (rel, r) in &self.entries {
            hex_into(&mut t, rel);
            let _ = match r {
                Record::File { size, mtime, stamp: s } => {
                    writeln!(t, "\t{size}\t{mtime}\t{}\t{}\t{}\t{}", s.mtime_ns, s.ctime, s.ctime_ns, s.ino)
                }
                Record::Link(target) => {
                    t.push_str("\tl\t");
                    hex_into(&mut t, target);
                    writeln!(t)
                }
            };
        }
        t
    }

    /// Reads [`SyncIndex::text`]; `None` for anything else.
    pub fn parse(text: &str) -> Option<SyncIndex> {
        let mut lines = text.lines();
        let head = lines.next()?.strip_prefix(HEADER)?;
        let mut at = head.split_whitespace();
        let listed_at = (at.next()?.parse().ok()?, at.next()?.parse().ok()?);
        let base = at.next()?.to_string();
        let mut entries = Vec::new();
        for l in lines.filter(|l| !l.is_empty()) {
            let mut f = l.split('\t');
            let rel = unhex(f.next()?)?;
            let second = f.next()?;
            let r = if second == "l" {
                Record::Link(unhex(f.next()?)?)
            } else {
                let mut n = || f.next();
                let size = second.parse().ok()?;
                let mtime = n()?.parse().ok()?;
                let stamp = Stamp {
                    mtime_ns: n()?.parse().ok()?,
                    ctime: n()?.parse().ok()?,
                    ctime_ns: n()?.parse().ok()?,
                    ino: n()?.parse().ok()?,
                };
                Record::File { size, mtime, stamp }
            };
            if f.next().is_some() {
                return None;
            }
            entries.push((rel, r));
        }
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Some(SyncIndex { listed_at, base, entries })
    }
}

/// The index file for a project's snapshots on a site.
pub fn path(env: &crate::env::Env, site: &str, project: &str) -> PathBuf {
    super::state::dir(env).join("sync").join(format!("{site}--{project}.index"))
}

/// The index at `path`, if there is a readable one.
pub fn load(path: &Path) -> Option<SyncIndex> {
    SyncIndex::parse(&std::fs::read_to_string(path).ok()?)
}

/// The base (its manifest's hash) the index at `path` names, read from its first line alone: a
/// copy can start on it while the rest is read. The whole index may still turn out unreadable.
pub fn base_of(path: &Path) -> Option<String> {
    use std::io::BufRead;
    let mut head = String::new();
    std::io::BufReader::with_capacity(512, std::fs::File::open(path).ok()?).read_line(&mut head).ok()?;
    let base = head.trim_end().strip_prefix(HEADER)?.split_whitespace().nth(2)?;
    (base.len() == 64 && base.bytes().all(|b| b.is_ascii_hexdigit())).then(|| base.to_string())
}

/// Writes `index` beside `path`, to be put in place by [`Prepared::commit`] once the snapshot
/// it describes exists (written while the copy runs, so it costs the sync nothing).
pub fn prepare(path: &Path, index: &SyncIndex) -> std::io::Result<Prepared> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Renamed into place, not flushed: losing it in a crash only costs the next sync its index.
    let tmp = path.with_extension(format!("index.{}.tmp", std::process::id()));
    std::fs::write(&tmp, index.text())?;
    Ok(Prepared { tmp, path: path.to_path_buf() })
}

/// An index written beside its place; removed when dropped without [`Prepared::commit`].
pub struct Prepared {
    tmp: PathBuf,
    path: PathBuf,
}

impl Prepared {
    pub fn commit(self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.path)
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn hex_into(out: &mut String, b: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for x in b {
        out.push(DIGITS[usize::from(x >> 4)] as char);
        out.push(DIGITS[usize::from(x & 15)] as char);
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::project::Entry;

    fn file(rel: &str, size: u64, mtime: i64, stamp: Stamp) -> Entry {
        Entry {
            rel: rel.as_bytes().to_vec(),
            kind: EntryKind::File { size, mtime, executable: false },
            stamp,
        }
    }

    /// Entries in path order, as a listing has them.
    trait Sorted {
        fn sorted(self) -> Vec<Entry>;
    }

    impl<I: Iterator<Item = Entry>> Sorted for I {
        fn sorted(self) -> Vec<Entry> {
            let mut v: Vec<Entry> = self.collect();
            v.sort_by(|a, b| a.rel.cmp(&b.rel));
            v
        }
    }

    fn stamp(ns: u32, ctime: i64, ino: u64) -> Stamp {
        Stamp { mtime_ns: ns, ctime, ctime_ns: ns, ino }
    }

    #[test]
    fn the_base_is_read_from_the_first_line_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        let base = "ab".repeat(32);
        std::fs::write(&path, format!("{HEADER} 1700000000 5 {base}\nthe rest is not read\n")).unwrap();
        assert_eq!(base_of(&path), Some(base.clone()));
        assert_eq!(load(&path).map(|i| i.base), None, "the whole index does not parse");
        std::fs::write(&path, format!("hpcinit-sync-index 1 1700000000 5 {base}\n")).unwrap();
        assert_eq!(base_of(&path), None, "another format names no base");
        std::fs::write(&path, format!("{HEADER} 1700000000 5 not-a-hash\n")).unwrap();
        assert_eq!(base_of(&path), None);
        assert_eq!(base_of(&dir.path().join("none.index")), None);
    }

    #[test]
    fn a_change_the_record_cannot_see_is_found() {
        let then = Scan {
            entries: vec![
                file("same.py", 10, 100, stamp(5, 100, 1)),
                file("same_second.py", 10, 100, stamp(5, 100, 2)),
                file("touched_back.py", 10, 100, stamp(5, 100, 3)),
                file("resized.py", 10, 100, stamp(5, 100, 4)),
            ]
            .into_iter()
            .sorted(),
            listed_at: (100, 900),
            ..Default::default()
        };
        let index = SyncIndex::parse(&SyncIndex::of(&then, &then.manifest_sha()).text()).expect("round trip");
        assert_eq!(index, SyncIndex::of(&then, &then.manifest_sha()));
        let now = Scan {
            entries: vec![
                file("same.py", 10, 100, stamp(5, 100, 1)),
                file("same_second.py", 10, 100, stamp(7, 100, 2)),
                file("touched_back.py", 10, 100, Stamp { ctime: 160, ..stamp(5, 100, 3) }),
                file("resized.py", 11, 100, stamp(9, 101, 4)),
                file("new.py", 1, 100, stamp(1, 1, 9)),
            ]
            .into_iter()
            .sorted(),
            ..Default::default()
        };
        assert_eq!(index.changes(&now).unseen, [b"same_second.py".to_vec(), b"touched_back.py".to_vec()]);
        let c = index.changes(&now);
        assert_eq!(names(&c.send), ["new.py", "resized.py", "same_second.py", "touched_back.py"]);
    }

    fn link(rel: &str, target: &str) -> Entry {
        Entry {
            rel: rel.as_bytes().to_vec(),
            kind: EntryKind::Link { target: target.as_bytes().to_vec() },
            stamp: Stamp::default(),
        }
    }

    fn names(v: &[Vec<u8>]) -> Vec<&str> {
        v.iter().map(|r| std::str::from_utf8(r).unwrap()).collect()
    }

    #[test]
    fn changes_send_what_differs_and_remove_what_is_gone() {
        let then = Scan {
            entries: vec![
                file("a", 1, 50, stamp(1, 50, 1)),
                file("d/x.py", 1, 50, stamp(1, 50, 2)),
                file("gone.py", 1, 50, stamp(1, 50, 3)),
                link("l", "a"),
                link("l2", "a"),
                file("same.py", 1, 50, stamp(1, 50, 4)),
                file("touched.py", 1, 50, stamp(1, 50, 5)),
            ],
            listed_at: (100, 0),
            ..Default::default()
        };
        let index = SyncIndex::parse(&SyncIndex::of(&then, &then.manifest_sha()).text()).expect("round trip");
        assert_eq!(index, SyncIndex::of(&then, &then.manifest_sha()));
        assert_eq!(index.base, then.manifest_sha());
        assert_eq!(index.changes(&then), Changes::default());
        let now = Scan {
            entries: vec![
                file("a/inside.py", 1, 60, stamp(1, 60, 6)), // a file, now a directory
                file("d", 1, 60, stamp(1, 60, 7)),           // a directory, now a file
                link("l", "d"),                              // re-pointed
                file("l2", 1, 60, stamp(1, 60, 8)),          // a link, now a file
                file("new.py", 1, 60, stamp(1, 60, 9)),
                file("same.py", 1, 50, stamp(1, 50, 4)),
                file("touched.py", 1, 50, Stamp { ctime: 70, ..stamp(1, 50, 5) }), // `touch -r`
            ],
            ..Default::default()
        };
        let c = index.changes(&now);
        assert_eq!(names(&c.send), ["a/inside.py", "d", "l", "l2", "new.py", "touched.py"]);
        assert_eq!(names(&c.remove), ["a", "d/x.py", "gone.py"]);
        assert_eq!(names(&c.unseen), ["touched.py"]);
    }

    #[test]
    fn whole_second_times_are_suspect_in_the_second_of_the_listing() {
        let then = Scan {
            entries: vec![file("old.py", 1, 50, Stamp::default()), file("racy.py", 1, 100, Stamp::default())],
            listed_at: (100, 0),
            ..Default::default()
        };
        let index = SyncIndex::of(&then, &then.manifest_sha());
        assert_eq!(index.changes(&then).unseen, [b"racy.py".to_vec()]);
        assert_eq!(SyncIndex::parse("not an index"), None);
    }
}
