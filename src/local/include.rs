//! The one line hpcinit owns in `~/.ssh/config`: `Include ~/.ssh/config.d/hpcinit`, as the
//! first line, so that OpenSSH (first value wins) reads hpcinit's entries before any `Host *`.
//!
//! Pure: bytes in, bytes out. Everything else in the file is kept byte for byte, whatever its
//! line endings, comments, encoding or final newline; removing the line gives the input back.

/// Why the Include line cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncludeError {
    #[error("~/.ssh/config starts with a byte-order mark, which OpenSSH rejects")]
    ByteOrderMark,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `text` with `line` as its first line, or `None` when an equivalent `Include` already comes
/// before the first `Host` or `Match` (then it applies to every host, and nothing changes).
/// `paths` are the spellings of the managed file that count as equivalent.
pub fn add(text: &[u8], line: &str, paths: &[&str]) -> Result<Option<Vec<u8>>, IncludeError> {
    if text.starts_with(BOM) {
        return Err(IncludeError::ByteOrderMark);
    }
    if global_lines(text).any(|l| is_include_of(l, paths)) {
        return Ok(None);
    }
    let eol: &[u8] = if first_line_ends_crlf(text) { b"\r\n" } else { b"\n" };
    let mut out = Vec::with_capacity(text.len() + line.len() + 2);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(eol);
    out.extend_from_slice(text);
    Ok(Some(out))
}

/// `text` without the exact line `add` wrote (first line, `\n` or `\r\n`), or `None` if it is
/// not there. `remove(add(x)) == x`.
pub fn remove(text: &[u8], line: &str) -> Option<Vec<u8>> {
    let rest = text.strip_prefix(line.as_bytes())?;
    let rest = rest.strip_prefix(b"\r\n").or_else(|| rest.strip_prefix(b"\n"))?;
    Some(rest.to_vec())
}

/// The lines before the first `Host` or `Match`: those that apply to every connection.
fn global_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n').take_while(|l| {
        let k = keyword(l);
        !(k.eq_ignore_ascii_case(b"host") || k.eq_ignore_ascii_case(b"match"))
    })
}

/// The keyword of a config line: the first word, ended by whitespace or `=`.
fn keyword(line: &[u8]) -> &[u8] {
    let line = trim_start(line);
    let end = line.iter().position(|&b| b.is_ascii_whitespace() || b == b'=').unwrap_or(line.len());
    &line[..end]
}

fn is_include_of(line: &[u8], paths: &[&str]) -> bool {
    let k = keyword(line);
    if !k.eq_ignore_ascii_case(b"include") {
        return false;
    }
    let args = &trim_start(line)[k.len()..];
    args.split(|&b| b.is_ascii_whitespace() || b == b'=')
        .filter(|w| !w.is_empty())
        .any(|w| paths.iter().any(|p| w == p.as_bytes() || strip_quotes(w) == p.as_bytes()))
}

fn strip_quotes(w: &[u8]) -> &[u8] {
    w.strip_prefix(b"\"").and_then(|w| w.strip_suffix(b"\"")).unwrap_or(w)
}

fn trim_start(line: &[u8]) -> &[u8] {
    let start = line.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(line.len());
    &line[start..]
}

fn first_line_ends_crlf(text: &[u8]) -> bool {
    match text.iter().position(|&b| b == b'\n') {
        Some(i) => i > 0 && text[i - 1] == b'\r',
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LINE: &str = "Include ~/.ssh/config.d/hpcinit";
    const PATHS: &[&str] = &["~/.ssh/config.d/hpcinit", "config.d/hpcinit"];

    fn added(text: &str) -> String {
        String::from_utf8(add(text.as_bytes(), LINE, PATHS).unwrap().expect("changed")).unwrap()
    }

    #[test]
    fn prepends_before_host_star() {
        assert_eq!(added("Host *\n    User me\n"), "Include ~/.ssh/config.d/hpcinit\nHost *\n    User me\n");
    }

    #[test]
    fn empty_and_missing_newline() {
        assert_eq!(added(""), "Include ~/.ssh/config.d/hpcinit\n");
        assert_eq!(added("Host a"), "Include ~/.ssh/config.d/hpcinit\nHost a");
    }

    #[test]
    fn keeps_crlf() {
        assert_eq!(
            added("Host a\r\n  User b\r\n"),
            "Include ~/.ssh/config.d/hpcinit\r\nHost a\r\n  User b\r\n"
        );
    }

    #[test]
    fn second_run_changes_nothing() {
        let once = added("# mine\nHost a\n");
        assert_eq!(add(once.as_bytes(), LINE, PATHS).unwrap(), None);
    }

    #[test]
    fn equivalent_spellings_count_when_global() {
        for text in ["include config.d/hpcinit\n", "  Include=\"~/.ssh/config.d/hpcinit\"\nHost x\n"] {
            assert_eq!(add(text.as_bytes(), LINE, PATHS).unwrap(), None, "{text}");
        }
        // Inside a Host block it only applies to that block: the global line is still added.
        let text = "Host x\n  Include ~/.ssh/config.d/hpcinit\n";
        assert!(add(text.as_bytes(), LINE, PATHS).unwrap().is_some());
        // Another file is not ours.
        assert!(add(b"Include ~/.ssh/config.d/other\n", LINE, PATHS).unwrap().is_some());
    }

    #[test]
    fn refuses_bom() {
        assert_eq!(add(b"\xEF\xBB\xBFHost a\n", LINE, PATHS), Err(IncludeError::ByteOrderMark));
    }

    #[test]
    fn remove_undoes_add() {
        for text in ["", "Host a", "Host a\r\nUser b\r\n", "\n\n# c\n", "Match all\n\u{e9}\n"] {
            let with = add(text.as_bytes(), LINE, PATHS).unwrap().unwrap();
            assert_eq!(remove(&with, LINE).unwrap(), text.as_bytes());
        }
        assert_eq!(remove(b"Host a\n", LINE), None);
    }

    #[test]
    fn non_utf8_bytes_survive() {
        let text = b"# caf\xE9\nHost a\n";
        let with = add(text, LINE, PATHS).unwrap().unwrap();
        assert_eq!(&with[LINE.len() + 1..], text);
    }

    /// Lines an ssh config is made of, hostile ones included: `Host *` first, `Match`, other
    /// `Include`s (also of hpcinit's file, quoted, after a `Host`), `key=value`, tabs, CR, a
    /// BOM, non-UTF-8 bytes, a NUL, very long lines.
    fn config_line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"Host *".to_vec()),
            Just(b"Host a b".to_vec()),
            Just(b"  Match host x exec \"true\"".to_vec()),
            Just(b"Include ~/.ssh/config.d/hpcinit".to_vec()),
            Just(b"include \"config.d/hpcinit\"".to_vec()),
            Just(b"Include=~/.ssh/other".to_vec()),
            Just(b"\tUser=me".to_vec()),
            Just(b"# Include ~/.ssh/config.d/hpcinit".to_vec()),
            Just(b"\xEF\xBB\xBFHost bom".to_vec()),
            Just(b"ProxyCommand ssh -W %h:%p jump # not a comment".to_vec()),
            Just(Vec::new()),
            proptest::collection::vec(any::<u8>(), 0..80),
            "[ -~]{0,300}".prop_map(String::into_bytes),
        ]
    }

    fn config_text() -> impl Strategy<Value = Vec<u8>> {
        (proptest::collection::vec((config_line(), 0..3u8), 0..24), any::<bool>()).prop_map(
            |(lines, last)| {
                let mut out = Vec::new();
                for (i, (l, eol)) in lines.iter().enumerate() {
                    out.extend_from_slice(l);
                    if i + 1 < lines.len() || last {
                        out.extend_from_slice(match eol {
                            0 => b"\n".as_slice(),
                            1 => b"\r\n",
                            _ => b"\r",
                        });
                    }
                }
                out
            },
        )
    }

    /// The edit's whole contract, for any bytes: an error only for a leading BOM; unchanged only
    /// when the line is already in effect; otherwise exactly the line (with the file's own line
    /// ending) followed by the input byte for byte, which `remove` gives back; and a second
    /// `add` changes nothing. Never a panic.
    fn contract(text: &[u8]) -> Result<(), TestCaseError> {
        match add(text, LINE, PATHS) {
            Err(IncludeError::ByteOrderMark) => prop_assert!(text.starts_with(BOM)),
            Ok(None) => prop_assert!(global_lines(text).any(|l| is_include_of(l, PATHS))),
            Ok(Some(out)) => {
                prop_assert!(!text.starts_with(BOM));
                let eol: &[u8] = if first_line_ends_crlf(text) { b"\r\n" } else { b"\n" };
                prop_assert_eq!(&out[..LINE.len()], LINE.as_bytes());
                prop_assert_eq!(&out[LINE.len()..LINE.len() + eol.len()], eol);
                prop_assert_eq!(&out[LINE.len() + eol.len()..], text);
                let back = remove(&out, LINE);
                prop_assert_eq!(back.as_deref(), Some(text));
                prop_assert_eq!(add(&out, LINE, PATHS), Ok(None), "a second run changes nothing");
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        #[test]
        fn any_config_text_gets_exactly_the_line_or_a_clear_error(text in config_text()) {
            contract(&text)?;
        }

        #[test]
        fn any_bytes_at_all(text in proptest::collection::vec(any::<u8>(), 0..4096)) {
            contract(&text)?;
        }
    }
}
