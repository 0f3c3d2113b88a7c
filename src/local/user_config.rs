//! The person's own `~/.ssh/config`, as OpenSSH reads it, before hpcinit touches it. `ssh -G
//! -F FILE` parses exactly that file (and what it includes); when OpenSSH rejects it, every ssh
//! the person runs fails the same way, and adding hpcinit's Include line would only move the
//! line numbers. So hpcinit changes nothing and says which line of *their* file OpenSSH
//! refuses, in OpenSSH's words, with the fix for the known cases. The one fix it applies
//! itself, only when asked (`--fix-config` or a yes in the wizard), is an `IgnoreUnknown` line
//! at the top of the file for keywords this OpenSSH does not know, written atomically with a
//! backup of the original.

use super::atomic;
use crate::ssh_command::SshCommand;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Why OpenSSH refuses the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A keyword only Apple's ssh knows (`UseKeychain`), as written in the file.
    MacOnly(String),
    /// A keyword this OpenSSH does not know (newer, or misspelt), as written in the file.
    Unknown(String),
    /// The file starts with a UTF-8 byte-order mark.
    ByteOrderMark,
    /// `Match all` together with other criteria.
    MatchAll,
    /// A keyword with nothing after it.
    MissingArgument(String),
    Other,
}

/// OpenSSH's refusal of the person's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The file OpenSSH names (the person's config, or a file it includes).
    pub file: PathBuf,
    pub line: Option<usize>,
    /// OpenSSH's own words.
    pub words: String,
    pub kind: Kind,
}

/// Keywords of Apple's ssh that OpenSSH does not have.
const MAC_ONLY: &[&str] = &["usekeychain"];

impl Rejection {
    /// The fix, in words, for this kind.
    pub fn hint(&self) -> String {
        let at = self.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        match &self.kind {
            Kind::MacOnly(k) => format!(
                "`{k}` is a macOS keyword. Add `IgnoreUnknown {k}` as the first line of {} (run again with --fix-config to have hpcinit add it, with a backup), or delete the line{at}",
                self.file.display()
            ),
            Kind::Unknown(k) => format!(
                "this OpenSSH does not know `{k}` (newer than `ssh -V`, or misspelt). Add `IgnoreUnknown {k}` as the first line of {} (run again with --fix-config to have hpcinit add it, with a backup), or fix the line{at}",
                self.file.display()
            ),
            Kind::ByteOrderMark => format!(
                "{} starts with a byte-order mark (an editor saved it as \"UTF-8 with BOM\"): save it as plain UTF-8",
                self.file.display()
            ),
            Kind::MatchAll => format!("`Match all` stands alone: remove `all`, or the other criteria{at}"),
            Kind::MissingArgument(k) => format!("give `{k}` a value, or delete the line{at}"),
            Kind::Other => format!("fix{at} of {} as OpenSSH says, then run hpcinit again", self.file.display()),
        }
    }

    /// The keyword an `IgnoreUnknown` line makes OpenSSH skip, where that is the fix.
    pub fn ignorable(&self) -> Option<&str> {
        match &self.kind {
            Kind::MacOnly(k) | Kind::Unknown(k) => Some(k),
            _ => None,
        }
    }
}

/// What OpenSSH says of `config` (`None`: it reads it, or there is no file or no ssh).
pub fn check(config: &Path, vars: &std::collections::BTreeMap<String, String>) -> Option<Rejection> {
    if !config.is_file() {
        return None;
    }
    let out = SshCommand::new(Some(config), vars)
        .args(["-G", "hpcinit-config-check.invalid"])
        .command()
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if out.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Some(parse(&stderr, config))
}

/// Reads OpenSSH's complaint: `FILE: line N: words` or `FILE line N: words`.
pub fn parse(stderr: &str, config: &Path) -> Rejection {
    let re = regex::Regex::new(r"^(?P<file>.+?):? line (?P<line>\d+): (?P<words>.+)$").expect("static regex");
    let found = stderr.lines().find_map(|l| re.captures(l.trim_end()));
    let Some(c) = found else {
        let words = stderr.lines().next().unwrap_or("ssh rejected it").trim().to_string();
        return Rejection { file: config.to_path_buf(), line: None, words, kind: Kind::Other };
    };
    let file = PathBuf::from(&c["file"]);
    let line: usize = c["line"].parse().unwrap_or(0);
    let words = c["words"].to_string();
    let written = keyword_at(&file, line);
    let kind = if let Some(k) = words.strip_prefix("Bad configuration option: ") {
        if k.starts_with("\\357\\273\\277") {
            Kind::ByteOrderMark
        } else {
            let k = written.unwrap_or_else(|| k.to_string());
            if MAC_ONLY.contains(&k.to_ascii_lowercase().as_str()) {
                Kind::MacOnly(k)
            } else {
                Kind::Unknown(k)
            }
        }
    } else if words.contains("'all' cannot be combined") {
        Kind::MatchAll
    } else if words.starts_with("no argument after keyword") || words.starts_with("Missing argument") {
        Kind::MissingArgument(written.unwrap_or_default())
    } else {
        Kind::Other
    };
    Rejection { file, line: Some(line), words, kind }
}

/// The keyword of `file`'s line `line` (1-based), as the person wrote it.
fn keyword_at(file: &Path, line: usize) -> Option<String> {
    let text = std::fs::read(file).ok()?;
    let text = String::from_utf8_lossy(&text);
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let word = l.trim().split(|c: char| c.is_whitespace() || c == '=').next()?;
    (!word.is_empty()).then(|| word.to_string())
}

/// `text` with `IgnoreUnknown <keyword>` as its first line, keeping the patterns of the first
/// `IgnoreUnknown` already there (OpenSSH uses the first one it reads).
pub fn with_ignore_unknown(text: &[u8], keyword: &str) -> Vec<u8> {
    let s = String::from_utf8_lossy(text);
    let existing = s.lines().find_map(|l| {
        let mut words = l.trim().splitn(2, |c: char| c.is_whitespace() || c == '=');
        let k = words.next()?;
        k.eq_ignore_ascii_case("IgnoreUnknown").then(|| words.next().unwrap_or("").trim().to_string())
    });
    let mut patterns: Vec<String> = existing
        .map(|e| e.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    if !patterns.iter().any(|p| p.eq_ignore_ascii_case(keyword)) {
        patterns.push(keyword.to_string());
    }
    let newline = if text.windows(2).any(|w| w == b"\r\n") { "\r\n" } else { "\n" };
    let mut out = format!("IgnoreUnknown {}{newline}", patterns.join(",")).into_bytes();
    out.extend_from_slice(text);
    out
}

/// Adds the `IgnoreUnknown` line to `config` (at its symlink's target), atomically, keeping the
/// original beside it; the backup's path.
pub fn fix(config: &Path, keyword: &str) -> std::io::Result<PathBuf> {
    let target = atomic::resolve(config)?;
    let original = std::fs::read(&target)?;
    let backup = PathBuf::from(format!("{}.hpcinit-fix-backup", target.display()));
    if !backup.exists() {
        atomic::write(&backup, &original, 0o600)?;
    }
    let mode = mode_of(&target);
    atomic::write(&target, &with_ignore_unknown(&original, keyword), mode)?;
    Ok(backup)
}

/// The file's permission bits (0600 where there are none).
fn mode_of(p: &Path) -> u32 {
    atomic::mode_of(p).map_or(0o600, |m| m & 0o777)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(stderr: &str, file_text: &str) -> Rejection {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config");
        std::fs::write(&f, file_text).unwrap();
        let stderr = stderr.replace("FILE", &f.display().to_string());
        let mut r = parse(&stderr, &f);
        r.file = PathBuf::from("config");
        r
    }

    #[test]
    fn reads_each_complaint_of_openssh() {
        let r = rejection(
            "FILE: line 2: Bad configuration option: usekeychain\n",
            "Host a\n    UseKeychain yes\n",
        );
        assert_eq!((r.line, r.kind.clone()), (Some(2), Kind::MacOnly("UseKeychain".into())));
        assert!(r.hint().contains("IgnoreUnknown UseKeychain"), "{}", r.hint());
        let r = rejection("FILE: line 2: Bad configuration option: tag\n", "Host a\n  Tag=work\n");
        assert_eq!(r.kind, Kind::Unknown("Tag".into()));
        let r =
            rejection("FILE: line 1: Bad configuration option: \\357\\273\\277host\n", "\u{feff}Host a\n");
        assert_eq!(r.kind, Kind::ByteOrderMark);
        let r = rejection("FILE line 1: 'all' cannot be combined with other Match attributes\nFILE line 1: Bad Match condition\n", "Match all host x\n");
        assert_eq!((r.line, r.kind.clone()), (Some(1), Kind::MatchAll));
        let r = rejection("FILE line 2: no argument after keyword \"user\"\n", "Host a\n  User\n");
        assert_eq!(r.kind, Kind::MissingArgument("User".into()));
        let r = rejection("FILE line 2: Bad port 'abc'.\n", "Host a\n  Port abc\n");
        assert_eq!((r.line, r.kind.clone(), r.words.as_str()), (Some(2), Kind::Other, "Bad port 'abc'."));
    }

    #[test]
    fn ignore_unknown_goes_first_and_keeps_the_patterns_already_there() {
        assert_eq!(with_ignore_unknown(b"Host a\n", "UseKeychain"), b"IgnoreUnknown UseKeychain\nHost a\n");
        assert_eq!(
            with_ignore_unknown(b"Host a\r\n  IgnoreUnknown AddKeysToAgent,Foo\r\n", "Tag"),
            b"IgnoreUnknown AddKeysToAgent,Foo,Tag\r\nHost a\r\n  IgnoreUnknown AddKeysToAgent,Foo\r\n"
        );
    }
}
