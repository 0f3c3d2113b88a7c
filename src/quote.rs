//! Quoting for the POSIX shell on the cluster, and the checks that keep user input from
//! becoming options or extra lines. Nothing from user input reaches a shell unquoted.

use std::fmt::Write;

/// Quotes `s` as one POSIX shell word. Safe characters stay bare for readability.
pub fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '/' | '.' | '_' | '-' | '=' | ':' | ',' | '+' | '@' | '%')
        })
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A remote path for the shell: `~/x y` → `"$HOME"/'x y'`, `/abs` → quoted as is.
pub fn sh_path(p: &str) -> String {
    if p == "~" {
        return "\"$HOME\"".into();
    }
    match p.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", sh(rest)),
        None => sh(p),
    }
}

/// Joins words into one command line, each quoted.
pub fn sh_words<S: AsRef<str>>(words: &[S]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{}", sh(w.as_ref()));
    }
    out
}

/// Why a value may not be passed on: it would read as an option or break a line.
pub fn unsafe_reason(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("it is empty")
    } else if value.starts_with('-') {
        Some("it starts with `-`, so a command would read it as an option")
    } else if value.contains(['\n', '\r']) {
        Some("it holds a line break")
    } else if value.chars().any(|c| c.is_control()) {
        Some("it holds a control character")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh("abc/d.e"), "abc/d.e");
        assert_eq!(sh(""), "''");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), "'it'\\''s'");
        assert_eq!(sh("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(sh("`x`;y"), "'`x`;y'");
        assert_eq!(sh_words(&["echo", "a b", "c"]), "echo 'a b' c");
    }

    #[test]
    fn remote_paths_keep_home_expandable() {
        assert_eq!(sh_path("~/venvs/demo"), "\"$HOME\"/venvs/demo");
        assert_eq!(sh_path("~/my proj"), "\"$HOME\"/'my proj'");
        assert_eq!(sh_path("/scratch/alice"), "/scratch/alice");
        assert_eq!(sh_path("~"), "\"$HOME\"");
    }

    #[test]
    #[cfg_attr(windows, ignore = "the cluster side: runs sh")]
    fn quoted_words_survive_a_real_shell() {
        let nasty = ["a b", "it's", "$(touch /tmp/hpcinit-pwned)", "`id`", "x;y", "*", "-n", "\\", "\"q\""];
        for word in nasty {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s' {}", sh(word)))
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), word, "round trip of {word:?}");
        }
    }

    #[test]
    fn unsafe_values() {
        assert!(unsafe_reason("-oProxyCommand=x").is_some());
        assert!(unsafe_reason("a\nb").is_some());
        assert!(unsafe_reason("alice").is_none());
    }
}
