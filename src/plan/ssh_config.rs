//! The text of hpcinit's own ssh config file (one `Host` block per site) and the one `Include`
//! line it puts at the top of `~/.ssh/config`. Pure: text in, text out.

use std::fmt::Write;

/// Where hpcinit's managed file lives, relative to home (`~/` form, as written in `Include`).
pub const MANAGED_FILE: &str = "~/.ssh/config.d/hpcinit";
/// hpcinit's known_hosts file, holding only host keys it verified (relative to home).
pub const KNOWN_HOSTS_FILE: &str = ".ssh/known_hosts.d/hpcinit";
/// Short, fixed-length socket names: `%C` is a hash of local host, remote host, port and user
/// (relative to home).
pub const CONTROL_PATH: &str = ".ssh/cm-%C";

/// The longest socket path hpcinit writes: a Unix socket's path holds 104 bytes on macOS
/// (`sun_path`; 108 on Linux), and ssh binds `PATH.` + 16 random characters first, then renames.
const SOCKET_PATH_MAX: usize = 104;

/// The ControlPath for `home`: `HOME/.ssh/cm-%C`, or where that would not fit in a Unix socket
/// (a long home or user name), `/tmp/hpcinit-<hash of home>/cm-%C`, a private directory
/// hpcinit makes (0700, checked before use). The second value is that directory.
pub fn control_path(home: &str) -> (String, Option<String>) {
    let usual = format!("{}/{CONTROL_PATH}", home.trim_end_matches('/'));
    // `%C` is 40 hex characters; ssh's temporary name adds 17.
    if usual.len() - 2 + 40 + 17 < SOCKET_PATH_MAX {
        return (usual, None);
    }
    use sha2::Digest;
    let hash = sha2::Sha256::digest(home.as_bytes());
    let dir = format!("/tmp/hpcinit-{}", hash.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>());
    (format!("{dir}/cm-%C"), Some(dir))
}

/// The line added at the top of `~/.ssh/config`, before any `Host` or `Match`: OpenSSH takes
/// the first value it reads, so an `Include` appended after a `Host *` block would lose to it.
pub fn include_line() -> String {
    format!("Include {MANAGED_FILE}")
}

/// One `Host` block.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostBlock {
    /// The `Host` alias; for a `Match` block, a label for messages.
    pub alias: String,
    /// `Some(criteria)`: a `Match criteria` block instead of `Host alias`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub criteria: Option<String>,
    /// One comment line above the block.
    pub comment: String,
    /// (keyword, value) in the order written.
    pub options: Vec<(String, String)>,
}

impl HostBlock {
    pub fn new(alias: &str, comment: String) -> HostBlock {
        HostBlock { alias: alias.to_string(), criteria: None, comment, options: Vec::new() }
    }

    /// A `Match criteria` block; `label` names it in messages.
    pub fn matching(label: &str, criteria: String, comment: String) -> HostBlock {
        HostBlock { alias: label.to_string(), criteria: Some(criteria), comment, options: Vec::new() }
    }

    /// The value of `key` in this block, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.options.push((key.to_string(), value.into()));
        self
    }
}

const HEADER: &str =
    "# Managed by hpcinit: rewritten on every run, so edit your own ~/.ssh/config instead.\n\
                      # Remove a site with `hpcinit uninstall --site NAME`.\n";
/// The line that opens one site's section of the managed file.
const SECTION: &str = "# site: ";

/// One site's section of the managed file: its marker line and its `Host` blocks.
pub fn render(site: &str, blocks: &[HostBlock]) -> String {
    let mut out = format!("{SECTION}{site}\n");
    for b in blocks {
        match &b.criteria {
            Some(c) => write!(out, "# {}\nMatch {c}\n", b.comment),
            None => write!(out, "# {}\nHost {}\n", b.comment, b.alias),
        }
        .expect("writing to a String");
        for (k, v) in &b.options {
            let _ = writeln!(out, "    {k} {v}");
        }
    }
    out
}

/// The whole managed file: `existing` with `site`'s section replaced by `section` (or removed
/// when `None`), other sites kept as they are, sections in name order.
pub fn merge(existing: &str, site: &str, section: Option<&str>) -> String {
    let mut sections: Vec<(String, String)> =
        sections(existing).into_iter().filter(|(name, _)| name != site).collect();
    if let Some(s) = section {
        sections.push((site.to_string(), s.to_string()));
    }
    sections.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from(HEADER);
    for (_, text) in sections {
        out.push('\n');
        out.push_str(text.trim_end_matches('\n'));
        out.push('\n');
    }
    out
}

/// The sites that have a section in the managed file.
pub fn sites(existing: &str) -> Vec<String> {
    sections(existing).into_iter().map(|(n, _)| n).collect()
}

/// `site`'s section of the managed file, if it has one.
pub fn section(existing: &str, site: &str) -> Option<String> {
    sections(existing).into_iter().find(|(n, _)| n == site).map(|(_, t)| t)
}

/// The `Host` aliases a section defines.
pub fn aliases(section: &str) -> Vec<String> {
    section
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Host "))
        .flat_map(|a| a.split_whitespace().map(String::from))
        .collect()
}

fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix(SECTION) {
            out.push((name.trim().to_string(), String::new()));
        }
        if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_blocks_in_order() {
        let mut b = HostBlock::new("saga", "Saga".into());
        b.set("HostName", "saga.sigma2.no").set("User", "alice");
        let text = render("saga", &[b]);
        assert_eq!(text, "# site: saga\n# Saga\nHost saga\n    HostName saga.sigma2.no\n    User alice\n");
        assert_eq!(include_line(), "Include ~/.ssh/config.d/hpcinit");
    }

    #[test]
    fn merge_keeps_other_sites_and_is_stable() {
        let saga = "# site: saga\nHost saga\n    User a\n";
        let fir = "# site: fir\nHost fir\n    User b\n";
        let one = merge("", "saga", Some(saga));
        assert!(one.starts_with("# Managed by hpcinit") && one.ends_with(saga), "{one}");
        let two = merge(&one, "fir", Some(fir));
        assert_eq!(sites(&two), ["fir", "saga"]);
        assert_eq!(merge(&two, "fir", Some(fir)), two, "idempotent");
        let saga2 = "# site: saga\nHost saga\n    User c\n";
        let three = merge(&two, "saga", Some(saga2));
        assert!(three.contains("User c") && !three.contains("User a") && three.contains("User b"));
        assert_eq!(merge(&three, "saga", None), merge("", "fir", Some(fir)));
        assert_eq!(
            section(&three, "fir").map(|s| s.trim_end().to_string()),
            Some(fir.trim_end().to_string())
        );
        assert_eq!(aliases(fir), ["fir"]);
        assert_eq!(section(&three, "narval"), None);
    }
}
