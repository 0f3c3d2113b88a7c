//! The manifest of a snapshot: each file or link the project sends as one record (`path TAB f
//! TAB size TAB mtime`, a link `path TAB l TAB target`), NUL-terminated and sorted bytewise, as
//! the cluster's `find` lists what a snapshot holds; and the exclude rules that tell rsync what
//! was left out. Pure: the listing itself is [`super::project::scan`].

use super::project::{Entry, EntryKind, Scan, OWN_FILES};
use sha2::{Digest, Sha256};

impl Entry {
    /// Its manifest record, without the terminating NUL.
    pub fn record(&self) -> Vec<u8> {
        let mut r = Vec::with_capacity(self.rel.len() + 32);
        self.write_record(&mut r);
        r
    }

    fn write_record(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        out.extend_from_slice(&self.rel);
        match &self.kind {
            EntryKind::File { size, mtime, .. } => {
                let _ = write!(out, "\tf\t{size}\t{mtime}");
            }
            EntryKind::Link { target } => {
                out.extend_from_slice(b"\tl\t");
                out.extend_from_slice(target);
            }
        }
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
        // The entries are sorted by path, which is the records' order unless a name holds a
        // byte below the tab that follows each path: then the records are sorted themselves.
        let plain = self.entries.iter().all(|e| e.rel.iter().all(|b| *b > b'\t'));
        let mut out = Vec::with_capacity(self.entries.len() * 64);
        if plain {
            for e in &self.entries {
                e.write_record(&mut out);
                out.push(0);
            }
            return out;
        }
        let mut records: Vec<Vec<u8>> = self.entries.iter().map(Entry::record).collect();
        records.sort();
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
    pub fn rsync_excludes(&self) -> Result<Vec<u8>, super::project::ProjectError> {
        let mut out = Vec::new();
        for (rel, is_dir) in self.excluded()? {
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
        Ok(out)
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
