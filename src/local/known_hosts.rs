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

/// The comment that marks a compute node's key as recorded by hpcinit for `site`: nodes are
/// recorded under their own names (each has its own key), and removed per site by this mark.
pub fn node_mark(site: &str) -> String {
    format!("hpcinit-node:{site}")
}

/// `text` with `node`'s keys (`type base64`) added under the node's name, marked for `site`;
/// unchanged when the node has keys recorded already: a recorded key is never replaced (a
/// changed key is OpenSSH's to refuse).
pub fn with_node_keys(text: &str, node: &str, keys: &[String], site: &str) -> String {
    if !keys_for(text, node).is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for k in keys {
        out.push_str(&format!(
            "{node} {} {}\n",
            k.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
            node_mark(site)
        ));
    }
    out
}

/// `text` without the compute-node keys recorded for `site`.
pub fn without_nodes(text: &str, site: &str) -> String {
    let mark = node_mark(site);
    text.lines()
        .filter(|l| l.split_whitespace().nth(3) != Some(mark.as_str()))
        .map(|l| format!("{l}\n"))
        .collect()
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

    #[test]
    fn node_keys_are_added_once_under_the_nodes_name_and_removed_per_site() {
        let text = "saga ssh-ed25519 AAAA1\n";
        let one = with_node_keys(
            text,
            "c1-2",
            &["ssh-ed25519 NODE1".into(), "ssh-rsa NODE2 root@c1-2".into()],
            "saga",
        );
        assert_eq!(
            one,
            "saga ssh-ed25519 AAAA1\nc1-2 ssh-ed25519 NODE1 hpcinit-node:saga\nc1-2 ssh-rsa NODE2 hpcinit-node:saga\n"
        );
        assert_eq!(keys_for(&one, "c1-2").len(), 2);
        assert_eq!(
            with_node_keys(&one, "c1-2", &["ssh-ed25519 OTHER".into()], "saga"),
            one,
            "never replaced"
        );
        assert_eq!(without_nodes(&one, "saga"), text);
        assert_eq!(without_nodes(&one, "narval"), one);
    }
}
