//! Text helpers for what hpcinit writes on the cluster: here-documents that carry any text
//! verbatim, SHA-256 hashes, and the `# hpcinit-sha256:` line that tells hpcinit's own,
//! unedited files apart from files a person changed. Pure.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A here-document that carries `text` verbatim: `(opening "<<'DELIM'", body + delimiter)`,
/// with a quoted delimiter that `text` does not contain.
pub fn heredoc(text: &str) -> (String, String) {
    let mut delim = String::from("HPCINIT_EOF");
    let mut n = 0;
    while text.lines().any(|l| l == delim) {
        n += 1;
        delim = format!("HPCINIT_EOF_{n}");
    }
    let mut body = text.to_string();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    (format!("<<'{delim}'"), format!("{body}{delim}"))
}

/// The prefix of the line that records a file's hash.
pub const STAMP: &str = "# hpcinit-sha256: ";

/// `text` with a `# hpcinit-sha256: <hash of text>` line inserted after line `after` (0: first).
pub fn stamped(text: &str, after: usize) -> String {
    let sha = sha256_hex(text);
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let stamp = format!("{STAMP}{sha}\n");
    lines.insert(after.min(lines.len()), &stamp);
    lines.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_delimiter_never_occurs_in_the_text() {
        let (open, rest) = heredoc("a\nHPCINIT_EOF\nb");
        assert_eq!(open, "<<'HPCINIT_EOF_1'");
        assert_eq!(rest, "a\nHPCINIT_EOF\nb\nHPCINIT_EOF_1");
        assert_eq!(heredoc("").1, "HPCINIT_EOF");
    }

    #[test]
    fn stamp_records_the_hash_of_the_rest() {
        let t = "#!/bin/bash\necho hi\n";
        let s = stamped(t, 1);
        assert_eq!(s, format!("#!/bin/bash\n{STAMP}{}\necho hi\n", sha256_hex(t)));
        let rest: String = s.split_inclusive('\n').filter(|l| !l.starts_with(STAMP)).collect();
        assert_eq!(sha256_hex(&rest), sha256_hex(t));
    }
}
