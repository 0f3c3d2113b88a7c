//! The reply of the key-registration scripts (`register_key.sh`): whether the key is in
//! `~/.ssh/authorized_keys`, and whether the home directory lets sshd use it. Tagged, so a login
//! banner or a `.bashrc` that prints changes nothing. Pure.

use crate::exchange::Tagged;

/// One tagged line of `hpcinit_key_state` or `hpcinit_key_install`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyReport {
    /// Whether the key's line is in authorized_keys.
    Present(bool),
    /// The home directory: a directory, and whether group or others may write it (sshd then
    /// ignores the keys in it).
    Home { dir: bool, writable: bool },
}

impl Tagged for KeyReport {
    fn from_tag(tag: &str, payload: &str) -> Option<KeyReport> {
        match tag {
            "key" => Some(KeyReport::Present(payload == "present")),
            "home" => {
                let b = payload.split_whitespace().next().unwrap_or("").as_bytes();
                Some(KeyReport::Home {
                    dir: b.first() == Some(&b'd'),
                    writable: b.len() >= 10 && (b[5] == b'w' || b[8] == b'w'),
                })
            }
            _ => None,
        }
    }
}

impl KeyReport {
    /// `(present, home)` from a reply: `home` is `(dir, writable)` when it was reported.
    pub fn read(stdout: &str) -> (bool, Option<(bool, bool)>) {
        let mut present = false;
        let mut home = None;
        for r in crate::exchange::tags::<KeyReport>(stdout) {
            match r {
                KeyReport::Present(p) => present = p,
                KeyReport::Home { dir, writable } => home = Some((dir, writable)),
            }
        }
        (present, home)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_home_mode_among_banners() {
        let home = |line: &str| KeyReport::read(&format!("Welcome!\nkey absent\n@@hpcinit:home {line}\n")).1;
        assert_eq!(home("drwxrwxr-x 5 a b 4096 Jan 1 00:00 /home/a"), Some((true, true)));
        assert_eq!(home("drwxr-xrwx 5 a b 4096 Jan 1 00:00 /home/a"), Some((true, true)));
        assert_eq!(home("drwxr-xr-x 5 a b 4096 Jan 1 00:00 /home/a"), Some((true, false)));
        assert_eq!(home("drwx------. 5 a b"), Some((true, false)));
        assert!(KeyReport::read("present\n@@hpcinit:key present\n").0);
        assert!(!KeyReport::read("present\n@@hpcinit:key absent\n").0, "only the tag counts");
    }
}
