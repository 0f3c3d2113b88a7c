//! The manifest of a snapshot: each file or link the project sends as one record (`path TAB f
//! TAB size TAB mtime`, a link `path TAB l TAB target`), NUL-terminated and sorted bytewise, as
//! the cluster's `find` lists what a snapshot holds; and the exclude rules that tell rsync what
//! was left out. Pure: the listing itself is [`super::project::scan`].

use super::project::{Entry, EntryKind, Scan, OWN_FILES};
use sha2::{Digest, Sha256};

impl Entry {
    /// Its manifest record, without the terminating NUL.
    pub fn record(&self) -> Vec<u8> {
        let mut r = self.rel.clone();
        match &self.kind {
            EntryKind::File { size, mtime, .. } => r.extend(format!("\tf\t{size}\t{mtime}").bytes()),
            EntryKind::Link { target } => {
                r.extend(b"\tl\t");
                r.extend(target);
            }
        }
        r
    }

    /// The path for messages.
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.rel).into_owned()
    }
}

impl Scan {
    pub fn files(&self) -> usize {
        self.entries.iter().filter(|e| matches!(e.kind, EntryKind::File { .. })).count()
    }

    pub fn bytes(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e.kind {
                EntryKind::File { size, .. } => size,
                EntryKind::Link { .. } => 0,
            })
            .sum()
    }

    /// The manifest text: each record NUL-terminated, sorted bytewise as `LC_ALL=C sort -z` does.
    pub fn manifest(&self) -> Vec<u8> {
        let mut records: Vec<Vec<u8>> = self.entries.iter().map(Entry::record).collect();
        records.sort();
        let mut out = Vec::new();
        for r in records {
            out.extend(r);
            out.push(0);
        }
        out
    }

    pub fn manifest_sha(&self) -> String {
        hex_sha256(&self.manifest())
    }

    /// rsync's exclude rules for what is left out (`--exclude-from=- --from0`): each path
    /// anchored at the project root, wildcards escaped, directories with a trailing `/`.
    pub fn rsync_excludes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (rel, is_dir) in &self.excluded {
            if OWN_FILES.contains(&rel.as_slice()) {
                continue;
            }
            out.push(b'/');
            for b in rel {
                if matches!(b, b'*' | b'?' | b'[' | b'\\') {
                    out.push(b'\\');
                }
                out.push(*b);
            }
            if *is_dir {
                out.push(b'/');
            }
            out.push(0);
        }
        out
    }
}

/// The SHA-256 of `bytes`, in hex.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Parses a manifest (as the cluster keeps it in `.hpcinit-manifest`) into path → record.
pub fn parse_manifest(text: &[u8]) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    text.split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let cut = r.iter().position(|b| *b == b'\t').unwrap_or(r.len());
            (r[..cut].to_vec(), r.to_vec())
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
