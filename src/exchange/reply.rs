//! The reply half of an exchange: a script answers on tagged lines,
//! `@@hpcinit:<tag> <payload>`, among whatever the login shell prints (banners, a `.bashrc`
//! that echoes), and each script's reply is one enum read by the one parser here. Nothing
//! reads a script's output by its words.

/// The prefix of a tagged result line.
pub const TAG: &str = "@@hpcinit:";

/// A script's answer as a typed value: each script has an enum of the tags it prints, and
/// [`tags`] reads them, so no script's output is parsed by hand.
pub trait Tagged: Sized {
    /// The value for one tagged line, or `None` for a tag this script does not print.
    fn from_tag(tag: &str, payload: &str) -> Option<Self>;
}

/// Every tagged line of `output` that `T` knows, in order.
pub fn tags<T: Tagged>(output: &str) -> Vec<T> {
    output.lines().filter_map(tagged).filter_map(|(t, p)| T::from_tag(t, p)).collect()
}

/// `("probe", "{…}")` for `@@hpcinit:probe {…}`.
pub fn tagged(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(TAG)?;
    Some(match rest.split_once(' ') {
        Some((tag, payload)) => (tag, payload),
        None => (rest, ""),
    })
}

/// The payload of the last line tagged `tag`.
pub fn last_tagged<'a>(output: &'a str, tag: &str) -> Option<&'a str> {
    output.lines().rev().filter_map(tagged).find(|(t, _)| *t == tag).map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_found_among_banners() {
        let out = "Welcome to the cluster!\n@@hpcinit:probe {\"a\":1}\nnoise\n@@hpcinit:done\n";
        assert_eq!(last_tagged(out, "probe"), Some("{\"a\":1}"));
        assert_eq!(last_tagged(out, "done"), Some(""));
        assert_eq!(last_tagged(out, "nope"), None);
    }
}
