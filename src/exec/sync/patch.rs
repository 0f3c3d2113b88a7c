//! The pieces of a code snapshot that need no connection: what changed between two listings
//! of the project (sent as a patch in the snapshot's finishing script when small), a listing
//! against a snapshot's manifest, the modes snapshot files get, and base64 for names.

use crate::local::project::{EntryKind, Scan};
use crate::plan::snapshot::Put;
use std::collections::BTreeMap;

/// Files that changed while a copy started early ran are sent in the finishing script when they
/// are this small together (a lock file); more, and rsync runs again.
const PATCH_LIMIT: u64 = 256 * 1024;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Patch {
    /// Paths to remove, NUL-separated.
    pub remove: Vec<u8>,
    /// (path, target) pairs, NUL-separated.
    pub links: Vec<u8>,
    /// Files new or changed, with their content.
    pub puts: Vec<Put>,
}

impl Patch {
    /// From `then` to `now` (files read under `root`); `None` when the files to send are
    /// more than [`PATCH_LIMIT`] together, or one cannot be read.
    pub fn between(then: &Scan, now: &Scan, root: &std::path::Path) -> Option<Patch> {
        let before: BTreeMap<&[u8], &EntryKind> =
            then.entries.iter().map(|e| (e.rel.as_slice(), &e.kind)).collect();
        let mut patch = Patch::default();
        let mut size = 0u64;
        for e in &now.entries {
            if before.get(e.rel.as_slice()) == Some(&&e.kind) {
                continue;
            }
            match &e.kind {
                EntryKind::Link { target } => {
                    patch.links.extend(&e.rel);
                    patch.links.push(0);
                    patch.links.extend(target);
                    patch.links.push(0);
                }
                EntryKind::File { size: n, mtime, .. } => {
                    size += n;
                    if size > PATCH_LIMIT {
                        return None;
                    }
                    let content = std::fs::read(root.join(crate::platform::path_from_bytes(&e.rel))).ok()?;
                    let mode = snapshot_mode(&e.kind) as u32;
                    patch.puts.push(Put { rel: e.rel.clone(), mode, mtime: *mtime, content });
                }
            }
        }
        let kept: std::collections::BTreeSet<&[u8]> = now.entries.iter().map(|e| e.rel.as_slice()).collect();
        for e in then.entries.iter().filter(|e| !kept.contains(e.rel.as_slice())) {
            patch.remove.extend(&e.rel);
            patch.remove.push(0);
        }
        Some(patch)
    }
}

/// The files `rels` of `scan`, read now to be sent whatever their record says; `None` when
/// they are more than [`PATCH_LIMIT`] together (`limited`) or one cannot be read.
pub fn puts_of(scan: &Scan, rels: &[Vec<u8>], root: &std::path::Path, limited: bool) -> Option<Vec<Put>> {
    let mut puts = Vec::new();
    let mut size = 0u64;
    for e in scan.entries.iter().filter(|e| rels.contains(&e.rel)) {
        let EntryKind::File { size: n, mtime, .. } = e.kind else { continue };
        size += n;
        if limited && size > PATCH_LIMIT {
            return None;
        }
        let content = std::fs::read(root.join(crate::platform::path_from_bytes(&e.rel))).ok()?;
        puts.push(Put { rel: e.rel.clone(), mode: snapshot_mode(&e.kind) as u32, mtime, content });
    }
    Some(puts)
}

/// What differs between the local scan and a snapshot's manifest: (new, changed, deleted).
pub fn diff(scan: &Scan, manifest: &[u8]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let remote = crate::local::manifest::parse_manifest(manifest);
    let mut local: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for e in &scan.entries {
        local.insert(e.rel.clone(), e.record());
    }
    let show = |p: &Vec<u8>| String::from_utf8_lossy(p).into_owned();
    let new = local.keys().filter(|k| !remote.contains_key(*k)).map(show).collect();
    let changed =
        local.iter().filter(|(k, r)| remote.get(*k).is_some_and(|x| x != *r)).map(|(k, _)| show(k)).collect();
    let deleted = remote.keys().filter(|k| !local.contains_key(*k)).map(show).collect();
    (new, changed, deleted)
}

/// Mode bits a snapshot's file gets: read-only, executable where it was.
pub fn snapshot_mode(kind: &EntryKind) -> i32 {
    match kind {
        EntryKind::File { executable: true, .. } => 0o555,
        _ => 0o444,
    }
}

pub fn decode64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s.trim()).ok()
}

pub fn encode64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::project::Entry;

    fn file(rel: &str, size: u64, mtime: i64) -> Entry {
        Entry {
            rel: rel.as_bytes().to_vec(),
            kind: EntryKind::File { size, mtime, executable: false },
            stamp: Default::default(),
        }
    }

    fn scan(entries: Vec<Entry>) -> Scan {
        Scan { entries, ..Default::default() }
    }

    #[test]
    fn a_patch_carries_what_changed_since_the_early_listing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hpcinit.lock"), "lock\n").unwrap();
        std::fs::write(dir.path().join("main.py"), "print(2)\n").unwrap();
        let then = scan(vec![file("gone.py", 3, 1), file("main.py", 9, 1), file("same.py", 4, 1)]);
        let now = scan(vec![
            file("hpcinit.lock", 5, 7),
            Entry {
                rel: b"link".to_vec(),
                kind: EntryKind::Link { target: b"same.py".to_vec() },
                stamp: Default::default(),
            },
            file("main.py", 9, 2),
            file("same.py", 4, 1),
        ]);
        let p = Patch::between(&then, &now, dir.path()).unwrap();
        assert_eq!(p.remove, b"gone.py\0");
        assert_eq!(p.links, b"link\0same.py\0");
        assert_eq!(
            p.puts,
            [
                Put { rel: b"hpcinit.lock".to_vec(), mode: 0o444, mtime: 7, content: b"lock\n".to_vec() },
                Put { rel: b"main.py".to_vec(), mode: 0o444, mtime: 2, content: b"print(2)\n".to_vec() },
            ]
        );
        // Nothing changed: an empty patch.
        assert_eq!(Patch::between(&now, &now, dir.path()).unwrap(), Patch::default());
        // Too much, or a file gone since it was listed: rsync runs again instead.
        let big = scan(vec![file("hpcinit.lock", PATCH_LIMIT + 1, 7)]);
        assert_eq!(Patch::between(&then, &big, dir.path()), None);
        let missing = scan(vec![file("vanished.py", 1, 1)]);
        assert_eq!(Patch::between(&then, &missing, dir.path()), None);
    }
}
