//! Signing in when the login node is busy: a room of students starting at once meets sshd's
//! `MaxStartups` (by default 10 unauthenticated connections, then drops at random: ssh says
//! `kex_exchange_identification: Connection closed by remote host` or `read: Connection reset`),
//! or a node that refuses while it restarts. Those failures come before the key exchange, so
//! before any password, code or key is sent: the sign-in is tried again after a jittered,
//! growing pause (bounded: 8 tries for a busy node, 3 for a refusal), each retry said
//! ("the login node is busy, retrying (3/8)"). A failure after the key exchange (a wrong
//! password, Duo's refusal) is never retried, so nothing re-sends a credential.

use super::context::Context;
use super::error::StepError;
use crate::remote::RemoteError;
use crate::ui::Reporter;
use std::time::Duration;

/// How many tries a failure before any credential gets, in all; `None`: not retried.
pub fn tries(e: &RemoteError) -> Option<u32> {
    match e {
        RemoteError::Busy { .. } => Some(8),
        RemoteError::Refused { .. } => Some(3),
        _ => None,
    }
}

/// The pause before try `n` (2, 3, …): 0.5 s doubling up to 4 s, times a jitter in [0.5, 1.5)
/// drawn from `unit` in [0, 1), so a room of students spreads out instead of returning together.
pub fn pause(n: u32, unit: f64) -> Duration {
    let base = (0.5 * f64::from(1u32 << n.saturating_sub(2).min(3))).min(4.0);
    Duration::from_secs_f64(base * (0.5 + unit.clamp(0.0, 0.999)))
}

/// A number in [0, 1) that differs between processes and calls (no credential depends on it).
fn jitter() -> f64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = (u64::from(t) ^ (u64::from(std::process::id()) << 20)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether to try again after `e` on try `n`: if so the retry is said and waited for, and
/// the next try's number returned.
fn again(reporter: &mut dyn Reporter, e: &RemoteError, n: u32) -> Option<u32> {
    let max = tries(e)?;
    if n >= max {
        return None;
    }
    let what = match e {
        RemoteError::Refused { .. } => "the login node refused the connection",
        _ => "the login node is busy",
    };
    reporter.detail(&format!("{what}, retrying ({}/{max}); nothing was sent yet", n + 1));
    std::thread::sleep(pause(n + 1, jitter()));
    Some(n + 1)
}

/// The run's sign-in, tried again while the login node drops connections before the key
/// exchange; `Ok(true)` when a connection was already open.
pub fn connect(cx: &mut Context) -> Result<bool, StepError> {
    let mut n = 1;
    loop {
        let (remote, prompter) = cx.remote_and_prompter();
        match remote.connect(prompter) {
            Ok(open) => return Ok(open),
            Err(e) => match again(&mut *cx.reporter, &e, n) {
                Some(next) => n = next,
                None => {
                    let hint = cx.connect_hint(&e);
                    return Err(StepError::Remote { error: e, hint });
                }
            },
        }
    }
}

/// `attempt` (a connection that sends no credential, such as reading the host key), tried
/// again as [`connect`] is.
pub fn retrying<T>(
    reporter: &mut dyn Reporter,
    mut attempt: impl FnMut() -> Result<T, RemoteError>,
) -> Result<T, RemoteError> {
    let mut n = 1;
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) => match again(reporter, &e, n) {
                Some(next) => n = next,
                None => return Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_before_the_key_exchange_are_retried() {
        let h = || "h".to_string();
        assert_eq!(tries(&RemoteError::Busy { host: h() }), Some(8));
        assert_eq!(tries(&RemoteError::Refused { host: h(), port: 22 }), Some(3));
        assert_eq!(tries(&RemoteError::Denied { host: h(), methods: "password".into() }), None);
        assert_eq!(
            tries(&RemoteError::DuoRefused { host: h(), words: "Login request denied.".into() }),
            None
        );
        assert_eq!(tries(&RemoteError::Closed { host: h() }), None);
    }

    #[test]
    fn pauses_grow_to_four_seconds_and_spread_out() {
        assert_eq!(pause(2, 0.5), Duration::from_secs_f64(0.5));
        assert_eq!(pause(3, 0.5), Duration::from_secs_f64(1.0));
        assert_eq!(pause(8, 0.5), Duration::from_secs_f64(4.0));
        assert!(pause(5, 0.0) < pause(5, 0.99));
        let all: f64 = (2..=8).map(|n| pause(n, 0.99).as_secs_f64()).sum();
        assert!(all < 30.0, "8 tries take at most {all} s of pauses");
        let (a, b) = (jitter(), jitter());
        assert!((0.0..1.0).contains(&a) && (0.0..1.0).contains(&b));
    }
}
