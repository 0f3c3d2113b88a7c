//! Asks a running ControlMaster whether it is alive, in-process, over its Unix socket: the
//! `ssh -O check` of OpenSSH's multiplexing protocol (hello, then an alive check; see
//! `PROTOCOL.mux` in the OpenSSH sources,
//! <https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.mux>). Starting ssh for
//! that costs 10–15 ms of every `hpcinit sync`; this costs a fraction of a millisecond. Only a
//! master's own answer counts: anything else (no socket where hpcinit expects it, a stale one,
//! a master that does not answer in time) leaves the question to `ssh -O check`. Reads nothing
//! but the socket; writes nothing but the two requests.
// Windows' OpenSSH cannot multiplex: nothing there has a socket to ask.
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const MUX_MSG_HELLO: u32 = 0x0000_0001;
const MUX_C_ALIVE_CHECK: u32 = 0x1000_0004;
const MUX_S_ALIVE: u32 = 0x8000_0005;
/// The protocol version OpenSSH's client sends (unchanged since OpenSSH 5.x).
const SSHMUX_VER: u32 = 4;
/// A master answers its socket at once; one that does not is asked by `ssh -O check`.
const WAIT: Duration = Duration::from_secs(2);

/// Where ssh puts the socket for `ControlPath template` (hpcinit's own, `…/cm-%C`) when it
/// connects to `host`:`port` as `user` with no jump host: `%C` is the SHA-1, in hex, of the
/// local host name, the host (lowercased, as ssh does), the port and the user. `None` for a
/// template with other `%` tokens (another value could be meant).
pub fn path_for(template: &str, local_host: &str, host: &str, port: u16, user: &str) -> Option<PathBuf> {
    let rest = template.replace("%C", "");
    if rest.contains('%') {
        return None;
    }
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    // ssh ≥ 8.9 appends the jump host, empty without one: the same digest.
    h.update(format!("{local_host}{}{port}{user}", host.to_ascii_lowercase()).as_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some(PathBuf::from(template.replace("%C", &hex)))
}

/// This machine's host name as ssh reads it for `%l` (`gethostname`).
#[cfg(unix)]
pub fn local_host() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec()).ok()
}

#[cfg(not(unix))]
pub fn local_host() -> Option<String> {
    None
}

/// Whether a master answers on `socket`: `Some(true)` when it says it is alive, `None` when it
/// could not be asked or did not answer as a master does.
#[cfg(unix)]
pub fn alive(socket: &Path) -> Option<bool> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    s.set_write_timeout(Some(WAIT)).ok()?;
    let mut out = Vec::with_capacity(32);
    out.extend(packet(&[MUX_MSG_HELLO, SSHMUX_VER]));
    out.extend(packet(&[MUX_C_ALIVE_CHECK, 1]));
    s.write_all(&out).ok()?;
    let hello = read_packet(&mut s)?;
    if word(&hello, 0)? != MUX_MSG_HELLO {
        return None;
    }
    let alive = read_packet(&mut s)?;
    (word(&alive, 0)? == MUX_S_ALIVE && word(&alive, 1)? == 1 && word(&alive, 2)? > 0).then_some(true)
}

#[cfg(not(unix))]
pub fn alive(_socket: &Path) -> Option<bool> {
    None
}

/// One message: its length, then its words, big-endian.
fn packet(words: &[u32]) -> Vec<u8> {
    let mut p = ((words.len() * 4) as u32).to_be_bytes().to_vec();
    for w in words {
        p.extend(w.to_be_bytes());
    }
    p
}

fn read_packet(s: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let len = u32::from_be_bytes(len) as usize;
    if len > 64 * 1024 {
        return None;
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

fn word(body: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(body.get(i * 4..i * 4 + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_path_is_ssh_s_own() {
        // `ssh -G` on a machine named `vm`, for 127.0.0.1 port 2222 as hpcuser, prints this
        // ControlPath (OpenSSH 9.2).
        assert_eq!(
            path_for("/h/.ssh/cm-%C", "vm", "127.0.0.1", 2222, "hpcuser").unwrap(),
            PathBuf::from("/h/.ssh/cm-c1bbc3f4bd70b6785aa4366b7448b117c6e77cc8")
        );
        assert_eq!(
            path_for("/h/.ssh/cm-%C", "vm", "LOGIN.Example.ORG", 22, "a"),
            path_for("/h/.ssh/cm-%C", "vm", "login.example.org", 22, "a")
        );
        assert_eq!(path_for("/h/.ssh/cm-%r@%h", "vm", "h", 22, "a"), None);
    }

    #[test]
    fn packets_are_length_then_words() {
        assert_eq!(packet(&[MUX_MSG_HELLO, SSHMUX_VER]), vec![0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 4]);
        let body = packet(&[MUX_S_ALIVE, 1, 42]);
        let mut r = &body[..];
        let got = read_packet(&mut r).unwrap();
        assert_eq!(
            (word(&got, 0), word(&got, 1), word(&got, 2), word(&got, 3)),
            (Some(MUX_S_ALIVE), Some(1), Some(42), None)
        );
    }

    #[cfg(unix)]
    #[test]
    fn no_socket_is_no_answer() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(alive(&dir.path().join("cm-none")), None);
    }
}
