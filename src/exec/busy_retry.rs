//! Signing in when the login node is busy: a room of students starting at once meets sshd's
//! `MaxStartups` (by default 10 unauthenticated connections, then drops at random: ssh says
//! `kex_exchange_identification: Connection closed by remote host` or `read: Connection reset`),
//! or a node that refuses while it restarts. Those failures come before the key exchange, so
//! before any password, code or key is sent: the sign-in is tried again after a jittered,
//! growing pause (bounded: 12 tries for a busy node, 3 for a refusal), each retry said
//! ("the login node is busy, retrying (3/12)"). A failure after the key exchange (a wrong
//! password, Duo's refusal) is never retried, so nothing re-sends a credential.

use super::context::Context;
use super::error::StepError;
use crate::remote::retry::{jitter, pause, tries};
use crate::remote::RemoteError;
use crate::ui::Reporter;

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
