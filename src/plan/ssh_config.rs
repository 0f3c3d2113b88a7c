//! The text of hpcinit's own ssh config file (one `Host` block per site) and the one `Include`
//! line it puts at the top of `~/.ssh/config`. Pure: text in, text out.

use std::fmt::Write;

/// Where hpcinit's managed file lives, relative to home (`~/` form, as written in `Include`).
pub const MANAGED_FILE: &str = "~/.ssh/config.d/hpcinit";
/// hpcinit's known_hosts file, holding only host keys it verified.
pub const KNOWN_HOSTS_FILE: &str = "~/.ssh/known_hosts.d/hpcinit";
/// Short, fixed-length socket names: `%C` is a hash of local host, remote host, port and user.
pub const CONTROL_PATH: &str = "~/.ssh/cm-%C";

/// The line added at the top of `~/.ssh/config`, before any `Host` or `Match`: OpenSSH takes
/// the first value it reads, so an `Include` appended after a `Host *` block would lose to it.
pub fn include_line() -> String {
    format!("Include {MANAGED_FILE}")
}

/// One `Host` block.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostBlock {
    pub alias: String,
    /// One comment line above the block.
    pub comment: String,
    /// (keyword, value) in the order written.
    pub options: Vec<(String, String)>,
}

impl HostBlock {
    pub fn new(alias: &str, comment: String) -> HostBlock {
        HostBlock { alias: alias.to_string(), comment, options: Vec::new() }
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.options.push((key.to_string(), value.into()));
        self
    }
}

/// The whole managed file.
pub fn render(blocks: &[HostBlock]) -> String {
    let mut out = String::from(
        "# Managed by hpcinit: rewritten on every run, so edit your own ~/.ssh/config instead.\n\
         # Remove a site with `hpcinit uninstall --site NAME`.\n",
    );
    for b in blocks {
        let _ = write!(out, "\n# {}\nHost {}\n", b.comment, b.alias);
        for (k, v) in &b.options {
            let _ = writeln!(out, "    {k} {v}");
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
        let text = render(&[b]);
        assert!(
            text.ends_with("\n# Saga\nHost saga\n    HostName saga.sigma2.no\n    User alice\n"),
            "{text}"
        );
        assert!(text.starts_with("# Managed by hpcinit"));
        assert_eq!(include_line(), "Include ~/.ssh/config.d/hpcinit");
    }
}
