//! When to try a connection again: only after a failure before the key exchange (the node
//! dropped it, as sshd does past `MaxStartups`, or refused it), so no credential is ever sent
//! twice; how many times; and how long to wait between tries. Pure, but for the clock and
//! process id that spread a room of students out.

use super::RemoteError;
use std::time::Duration;

/// How many tries a failure before any credential gets, in all; `None`: not retried.
pub fn tries(e: &RemoteError) -> Option<u32> {
    match e {
        RemoteError::Busy { .. } => Some(12),
        RemoteError::Refused { .. } => Some(3),
        _ => None,
    }
}

/// [`tries`] for a key proof: a connection that sends no password or code, made after the run
/// signed in, so the node is known to be reachable: a timeout there is a
/// node too busy to answer in time, tried again too (each costs ssh's `ConnectTimeout`, so
/// three times at most).
pub fn tries_sending_nothing(e: &RemoteError) -> Option<u32> {
    match e {
        RemoteError::Timeout { .. } => Some(3),
        _ => tries(e),
    }
}

/// `attempt` (a key proof's connection), tried again quietly while it fails as
/// [`tries_sending_nothing`] allows.
pub fn quietly<T>(mut attempt: impl FnMut() -> Result<T, RemoteError>) -> Result<T, RemoteError> {
    let mut n = 1;
    loop {
        match attempt() {
            Err(e) => match tries_sending_nothing(&e) {
                Some(max) if n < max => {
                    n += 1;
                    std::thread::sleep(pause(n, jitter()));
                }
                _ => return Err(e),
            },
            ok => return ok,
        }
    }
}

/// The pause before try `n` (2, 3, …): 0.5 s doubling up to 8 s, times a jitter in [0.5, 1.5)
/// drawn from `unit` in [0, 1), so a room of students spreads out instead of returning together.
/// Twelve tries wait about a minute in all: `bench/class.sh 100` lost 4 of 100 students to
/// eight tries over about 20 s.
pub fn pause(n: u32, unit: f64) -> Duration {
    let base = (0.5 * f64::from(1u32 << n.saturating_sub(2).min(4))).min(8.0);
    Duration::from_secs_f64(base * (0.5 + unit.clamp(0.0, 0.999)))
}

/// A number in [0, 1) that differs between processes and calls (no credential depends on it).
pub fn jitter() -> f64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = (u64::from(t) ^ (u64::from(std::process::id()) << 20)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_before_the_key_exchange_are_retried() {
        let h = || "h".to_string();
        assert_eq!(tries(&RemoteError::Busy { host: h() }), Some(12));
        assert_eq!(tries(&RemoteError::Refused { host: h(), port: 22 }), Some(3));
        assert_eq!(tries(&RemoteError::Denied { host: h(), methods: "password".into() }), None);
        assert_eq!(
            tries(&RemoteError::DuoRefused { host: h(), words: "Login request denied.".into() }),
            None
        );
        assert_eq!(tries(&RemoteError::Closed { host: h() }), None);
        // A timeout is tried again only where nothing is sent.
        let timeout = RemoteError::Timeout { host: h(), port: 22 };
        assert_eq!(tries(&timeout), None);
        assert_eq!(tries_sending_nothing(&timeout), Some(3));
        assert_eq!(tries_sending_nothing(&RemoteError::Busy { host: h() }), Some(12));
    }

    #[test]
    fn pauses_grow_to_eight_seconds_and_spread_out() {
        assert_eq!(pause(2, 0.5), Duration::from_secs_f64(0.5));
        assert_eq!(pause(3, 0.5), Duration::from_secs_f64(1.0));
        assert_eq!(pause(6, 0.5), Duration::from_secs_f64(8.0));
        assert_eq!(pause(12, 0.5), Duration::from_secs_f64(8.0));
        assert!(pause(5, 0.0) < pause(5, 0.99));
        let all: f64 = (2..=12).map(|n| pause(n, 0.5).as_secs_f64()).sum();
        assert!((60.0..70.0).contains(&all), "12 tries wait about a minute: {all} s");
        let most: f64 = (2..=12).map(|n| pause(n, 0.99).as_secs_f64()).sum();
        assert!(most < 110.0, "and at most {most} s");
        let (a, b) = (jitter(), jitter());
        assert!((0.0..1.0).contains(&a) && (0.0..1.0).contains(&b));
    }
}
