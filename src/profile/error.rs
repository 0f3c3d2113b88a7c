//! Errors of reading, checking and finding profiles.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file is not a valid profile. `file:line:column` point at the fault.
    #[error("invalid profile {file}:{line}:{column}: {message}")]
    Invalid { file: String, line: u64, column: u64, message: String, snippet: String, hint: String },

    #[error("cannot read profile {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no site profile named `{name}`")]
    Unknown { name: String, known: Vec<String> },

    #[error("{display_name} has been retired ({when})")]
    Retired { display_name: String, when: String, successor: String, detail: String },

    #[error("the name `{name}` is used by two profiles: {first} and {second}")]
    Conflict { name: String, first: String, second: String },
}

impl ProfileError {
    pub(crate) fn invalid(
        file: &str,
        text: &str,
        line: u64,
        column: u64,
        message: String,
        hint: String,
    ) -> Self {
        ProfileError::Invalid {
            file: file.to_string(),
            line,
            column,
            snippet: snippet(file, text, line, column),
            message,
            hint,
        }
    }

    /// Turns a YAML reader error into one that names the file and shows the line.
    pub(crate) fn from_yaml(file: &str, text: &str, err: &serde_saphyr::Error) -> Self {
        let raw = err.without_snippet().to_string();
        let message = strip_location(&raw);
        let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        let hint = if message.contains("unknown field") {
            "check the field's spelling and indentation; every field is described in docs/adding-a-site.md"
        } else if message.contains("missing field") {
            "add the field; every field is described in docs/adding-a-site.md"
        } else if message.contains("unknown variant") {
            "use one of the values listed; see docs/adding-a-site.md"
        } else {
            "fix the value, then check the file with `hpcinit profiles validate FILE`"
        };
        Self::invalid(file, text, line, column, message, hint.to_string())
    }
    /// Extra lines shown under the error (the offending line of YAML, the retirement note).
    pub fn detail(&self) -> Option<String> {
        match self {
            ProfileError::Invalid { snippet, .. } => Some(snippet.clone()),
            ProfileError::Retired { detail, .. } => Some(detail.clone()),
            _ => None,
        }
    }
}

/// `error: line 4 column 3: unknown field …` → `unknown field …`.
pub(crate) fn strip_location(msg: &str) -> String {
    let re = regex::Regex::new(r"^(?:error: )?(?:line \d+ column \d+: )?").expect("static regex");
    let first = msg.lines().next().unwrap_or("");
    let tail = regex::Regex::new(r",? at line \d+,? column \d+$").expect("static regex");
    tail.replace(&re.replace(first, ""), "").trim().to_string()
}

/// Where a YAML error is, what it says without its own location, and the line with a caret:
/// `(line, column, message, snippet)`.
pub(crate) fn located(file: &str, text: &str, e: &serde_saphyr::Error) -> (u64, u64, String, String) {
    let raw = e.without_snippet().to_string();
    let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
    (line, column, strip_location(&raw), snippet(file, text, line, column))
}

/// The offending line with a caret under the column, rustc style.
pub(crate) fn snippet(file: &str, text: &str, line: u64, column: u64) -> String {
    let n = line.max(1) as usize;
    let src = text.lines().nth(n - 1).unwrap_or("");
    let width = n.to_string().len();
    let pad = " ".repeat(width);
    let caret = " ".repeat(column.saturating_sub(1) as usize);
    format!("{pad}--> {file}:{line}:{column}\n{pad} |\n{n} | {src}\n{pad} | {caret}^")
}

impl crate::exit::Diagnostic for ProfileError {
    fn hint(&self) -> Option<String> {
        match self {
            ProfileError::Invalid { hint, .. } => Some(hint.clone()),
            ProfileError::Read { .. } => Some("check the path and its permissions".into()),
            ProfileError::Unknown { known, .. } => Some(format!(
                "known sites: {}; `hpcinit profiles list` shows them with their aliases",
                known.join(", ")
            )),
            ProfileError::Retired { successor, .. } => Some(format!("use `hpcinit --site {successor}`")),
            ProfileError::Conflict { .. } => {
                Some("rename one of them; a profile may override another only under the same `name`".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_points_at_column() {
        let s = snippet("x.yaml", "a: 1\n  hots: 2\n", 2, 3);
        assert_eq!(s, " --> x.yaml:2:3\n  |\n2 |   hots: 2\n  |   ^");
    }

    #[test]
    fn strips_reader_prefix() {
        assert_eq!(strip_location("error: line 4 column 3: unknown field `x`"), "unknown field `x`");
        assert_eq!(strip_location("unknown field `x`"), "unknown field `x`");
        assert_eq!(strip_location("expected string scalar at line 95, column 5"), "expected string scalar");
    }
}
