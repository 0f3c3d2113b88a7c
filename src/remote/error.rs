//! What went wrong talking to a cluster, classified from OpenSSH's messages (ssh runs with
//! `LANG=C`) or from libssh2's errors, with the host and port so that hints can be specific.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot resolve the host name {host}")]
    Resolve { host: String },
    #[error("{host} refused the connection on port {port}")]
    Refused { host: String, port: u16 },
    #[error("no answer from {host} port {port} (timed out)")]
    Timeout { host: String, port: u16 },
    #[error("{host} closed the connection before signing in")]
    Closed { host: String },
    /// Dropped before the key exchange (sshd's `MaxStartups`, a full listen queue): no
    /// credential was sent, and trying again is safe.
    #[error("{host} is busy: it dropped the connection before the key exchange")]
    Busy { host: String },
    #[error("{host} did not accept the sign-in (tried: {methods})")]
    Denied { host: String, methods: String },
    /// Duo said no (a denied or unanswered push, a wrong passcode): the second factor, not the
    /// password. `words` are Duo's own.
    #[error("Duo refused the sign-in to {host}: {words}")]
    DuoRefused { host: String, words: String },
    #[error("ssh refused {host}'s host key: it is not the one hpcinit verified")]
    HostKeyRejected { host: String },
    #[error("the connection to {host} failed: {message}")]
    Protocol { host: String, message: String },
    #[error("no shared connection to {alias} is open")]
    NoMaster { alias: String },
    /// A command over the shared connection gave no answer in time (a laptop that slept, a
    /// network that changed: the connection's socket is still there, its TCP is not).
    #[error("the shared connection gave no answer within {seconds} s")]
    Stalled { seconds: u64 },
    #[error("cannot run {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a prompt could not be answered")]
    Prompt(#[from] crate::prompt::PromptError),
}

impl RemoteError {
    /// Classifies what `ssh` printed on standard error when it exited 255.
    pub fn from_ssh_stderr(stderr: &str, host: &str, port: u16) -> RemoteError {
        let host = host.to_string();
        let line = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.starts_with("debug"))
            .unwrap_or("")
            .trim()
            .to_string();
        if let Some(words) = duo_refusal(stderr) {
            // Before "timed out": Duo's "Login timed out." is an unanswered push, not the network.
            RemoteError::DuoRefused { host, words }
        } else if stderr.contains("Could not resolve hostname") {
            RemoteError::Resolve { host }
        } else if stderr.contains("Connection refused") {
            RemoteError::Refused { host, port }
        } else if stderr.contains("timed out") {
            RemoteError::Timeout { host, port }
        } else if stderr.contains("Host key verification failed")
            || stderr.contains("HOST IDENTIFICATION HAS CHANGED")
        {
            RemoteError::HostKeyRejected { host }
        } else if let Some(methods) = denied_methods(stderr) {
            RemoteError::Denied { host, methods }
        } else if stderr.contains("Too many authentication failures") {
            RemoteError::Denied { host, methods: "too many keys offered".into() }
        } else if stderr.contains("kex_exchange_identification") {
            // sshd dropped the connection before the key exchange: MaxStartups and the like.
            RemoteError::Busy { host }
        } else if stderr.contains("Connection closed by") || stderr.contains("Connection reset") {
            RemoteError::Closed { host }
        } else {
            RemoteError::Protocol {
                host,
                message: if line.is_empty() { "ssh exited 255".into() } else { line },
            }
        }
    }

    /// Whether this is a network-level failure (the site's network rule may be the cause).
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            RemoteError::Resolve { .. } | RemoteError::Refused { .. } | RemoteError::Timeout { .. }
        )
    }
}

/// Duo's words when a text (ssh's standard error, a keyboard-interactive prompt or its
/// instructions) holds Duo's refusal: pam_duo passes on what Duo's service says as PAM text
/// messages, which OpenSSH shows before the next prompt or, at the end, on standard error.
/// These are the service's status messages for a push denied on the phone, a push nobody
/// answered, and a passcode that is wrong.
pub fn duo_refusal(text: &str) -> Option<String> {
    const WORDS: [&str; 4] = [
        "Login request denied.",
        "Login timed out.",
        "Incorrect passcode. Please try again.",
        "Invalid passcode, please try again.",
    ];
    // A line may carry ssh's `(user@host) ` before the text. A push's outcome outranks a
    // passcode message that follows it (the empty answers sent after the person gave up).
    let found: Vec<&str> =
        text.lines().filter_map(|l| WORDS.iter().find(|w| l.trim_end().ends_with(*w)).copied()).collect();
    found.iter().rev().find(|w| w.starts_with("Login ")).or(found.last()).map(|w| w.to_string())
}

/// libssh2's failed handshake: before the server's banner or with the socket closed under it,
/// the node dropped the connection before the key exchange (busy); anything else is the
/// protocol's.
pub fn from_handshake(host: &str, e: &ssh2::Error) -> RemoteError {
    // LIBSSH2_ERROR_SOCKET_DISCONNECT (-13), LIBSSH2_ERROR_SOCKET_RECV (-43).
    let dropped = matches!(e.code(), ssh2::ErrorCode::Session(-13) | ssh2::ErrorCode::Session(-43));
    if dropped || e.message().contains("banner") {
        RemoteError::Busy { host: host.into() }
    } else {
        RemoteError::Protocol { host: host.into(), message: e.message().to_string() }
    }
}

/// What hpcinit says when Duo refused without words it could read (libssh2 does not pass on a
/// keyboard-interactive request without prompts, where sshd puts them).
pub const PUSH_NOT_APPROVED: &str = "the push (or call) was not approved";
pub const PASSCODE_NOT_ACCEPTED: &str = "the passcode was not accepted";

/// `Permission denied (publickey,password).` → `publickey,password`.
fn denied_methods(stderr: &str) -> Option<String> {
    let at = stderr.find("Permission denied (")?;
    let rest = &stderr[at + "Permission denied (".len()..];
    Some(rest[..rest.find(')').unwrap_or(rest.len())].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duo_refusals_are_not_network_timeouts_or_passwords() {
        // What ssh printed after three pushes were denied (the stand-in pam_duo, OpenSSH 9.2).
        let denied = "Warning: Permanently added '[127.0.0.1]:2228' (ED25519) to the list of known hosts.\r\nPushed a login request to your device...\r\nLogin request denied.\r\n\r\nhpcuser@127.0.0.1: Permission denied (publickey).\r\n";
        match RemoteError::from_ssh_stderr(denied, "h", 22) {
            RemoteError::DuoRefused { words, .. } => assert_eq!(words, "Login request denied."),
            e => panic!("{e:?}"),
        }
        match RemoteError::from_ssh_stderr(
            "Pushed a login request to your device...\nLogin timed out.\n",
            "h",
            22,
        ) {
            RemoteError::DuoRefused { words, .. } => assert_eq!(words, "Login timed out."),
            e => panic!("{e:?}"),
        }
        assert_eq!(
            duo_refusal("(u@h) Login request denied.\nDuo two-factor login for u"),
            Some("Login request denied.".into())
        );
        assert_eq!(duo_refusal("Pushed a login request to your device...\nSuccess. Logging you in..."), None);
        assert_eq!(
            duo_refusal("Login request denied.\nInvalid passcode, please try again.\n"),
            Some("Login request denied.".into()),
            "the push's outcome, not the empty answers after it"
        );
        assert!(matches!(
            RemoteError::from_ssh_stderr("ssh: connect to host h port 22: Connection timed out\n", "h", 22),
            RemoteError::Timeout { .. }
        ));
    }

    #[test]
    fn a_drop_before_the_key_exchange_is_a_busy_node() {
        for stderr in [
            "kex_exchange_identification: Connection closed by remote host\r\nConnection closed by 127.0.0.1 port 2231\r\n",
            "kex_exchange_identification: read: Connection reset by peer\r\nConnection reset by 10.0.0.1 port 22\r\n",
        ] {
            assert!(matches!(RemoteError::from_ssh_stderr(stderr, "h", 22), RemoteError::Busy { .. }), "{stderr}");
        }
    }

    #[test]
    fn classifies_openssh_messages() {
        let c = |s: &str| RemoteError::from_ssh_stderr(s, "h", 22);
        assert!(matches!(
            c("ssh: connect to host h port 22: Connection refused\r\n"),
            RemoteError::Refused { .. }
        ));
        assert!(matches!(
            c("ssh: connect to host h port 22: Connection timed out"),
            RemoteError::Timeout { .. }
        ));
        assert!(matches!(
            c("ssh: Could not resolve hostname h: Name or service not known"),
            RemoteError::Resolve { .. }
        ));
        match c("u@h: Permission denied (publickey,keyboard-interactive).") {
            RemoteError::Denied { methods, .. } => assert_eq!(methods, "publickey,keyboard-interactive"),
            e => panic!("{e:?}"),
        }
        assert!(matches!(c("No ED25519 host key is known for h and you have requested strict checking.\nHost key verification failed."), RemoteError::HostKeyRejected { .. }));
        assert!(matches!(c("Connection closed by 1.2.3.4 port 22"), RemoteError::Closed { .. }));
        assert!(matches!(c("weird"), RemoteError::Protocol { message, .. } if message == "weird"));
    }
}
