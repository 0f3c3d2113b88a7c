//! hpcinit's own known_hosts file (`~/.ssh/known_hosts.d/hpcinit`): one line per verified host
//! key, named by the `HostKeyAlias` of the site's `Host` block, so entries never collide with the
//! person's own known_hosts and can be removed per site. Pure text functions.

/// The `type base64` keys recorded for `alias`.
pub fn keys_for<'a>(text: &'a str, alias: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (name, key) = l.split_once(char::is_whitespace)?;
            (!l.starts_with('#') && name == alias).then_some(key.trim())
        })
        .collect()
}

/// `text` with `alias`'s lines replaced by one line for `key` (`type base64`).
pub fn with_key(text: &str, alias: &str, key: &str) -> String {
    let mut out: String = text
        .lines()
        .filter(|l| l.split_whitespace().next() != Some(alias))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("{alias} {key}\n"));
    out
}

/// Whether two `type base64 [comment]` keys are the same key.
pub fn same_key(a: &str, b: &str) -> bool {
    a.split_whitespace().take(2).eq(b.split_whitespace().take(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_that_alias() {
        let text = "saga ssh-ed25519 AAAA1\nnarval ssh-rsa BBBB\n";
        let new = with_key(text, "saga", "ssh-ed25519 AAAA2");
        assert_eq!(new, "narval ssh-rsa BBBB\nsaga ssh-ed25519 AAAA2\n");
        assert_eq!(keys_for(&new, "saga"), ["ssh-ed25519 AAAA2"]);
        assert_eq!(keys_for(&new, "sag"), Vec::<&str>::new());
        assert_eq!(with_key(&new, "saga", "ssh-ed25519 AAAA2"), new, "idempotent");
    }
}
