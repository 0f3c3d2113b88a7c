//! Reading a server's host key before any credential is sent: a TCP connection and an SSH key
//! exchange through libssh2, then a disconnect. No authentication request is ever made, so a
//! server whose key does not match the site's published fingerprint sees nothing of the person.

use super::RemoteError;
use crate::local::key::describe_blob;
use ssh2::{MethodType, Session};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A server's host key, as read during the key exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKey {
    /// `type base64`, as in known_hosts.
    pub openssh: String,
    /// `SHA256:…`
    pub fingerprint: String,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …
    pub algorithm: String,
}

/// Host-key algorithms in order of preference, as libssh2 names them.
const PREFERRED: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
];

/// The libssh2 names that negotiate a key of this type (`ssh-rsa` keys sign with SHA-2 too).
pub fn negotiation_names(key_type: &str) -> &'static [&'static str] {
    match key_type {
        "ssh-ed25519" => &["ssh-ed25519"],
        "ecdsa-sha2-nistp256" => &["ecdsa-sha2-nistp256"],
        "ecdsa-sha2-nistp384" => &["ecdsa-sha2-nistp384"],
        "ecdsa-sha2-nistp521" => &["ecdsa-sha2-nistp521"],
        "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        _ => &[],
    }
}

/// Opens a TCP connection with a timeout, classifying the failure.
pub fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, RemoteError> {
    let addrs: Vec<_> =
        (host, port).to_socket_addrs().map_err(|_| RemoteError::Resolve { host: host.into() })?.collect();
    let mut last = RemoteError::Resolve { host: host.into() };
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = RemoteError::Refused { host: host.into(), port }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                last = RemoteError::Timeout { host: host.into(), port }
            }
            Err(e) => last = RemoteError::Protocol { host: host.into(), message: e.to_string() },
        }
    }
    Err(last)
}

/// Reads the host key the server offers for the first of `key_types` it has (all types when
/// empty), without authenticating.
pub fn read(host: &str, port: u16, key_types: &[&str], timeout: Duration) -> Result<ServerKey, RemoteError> {
    let tcp = connect_tcp(host, port, timeout)?;
    exchange(tcp, host, key_types, timeout)
}

/// Reads the host key of `host` behind a gateway, over `forward` (`ssh -W host:port gateway` on
/// the gateway's open master): the key exchange runs through the gateway, and the host sees no
/// authentication request. The gateway's own sign-in happened before, after its key was checked.
pub fn read_via(
    forward: std::process::Command,
    host: &str,
    key_types: &[&str],
    timeout: Duration,
) -> Result<ServerKey, RemoteError> {
    let io = |e: std::io::Error| RemoteError::Spawn { program: "ssh -W".into(), source: e };
    let (ours, mut child) = crate::platform::spawn_on_socket(forward).map_err(io)?;
    let result = exchange(ours, host, key_types, timeout);
    let _ = child.kill();
    let output = child.wait_with_output().map_err(io)?;
    result.map_err(|e| {
        // ssh -W's own words (the gateway refused the forward, the host is unreachable from
        // it) say more than libssh2's "connection closed".
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if said.is_empty() {
            e
        } else {
            RemoteError::Protocol { host: host.into(), message: format!("through the gateway: {said}") }
        }
    })
}

/// The key exchange on an open stream, then a disconnect; no authentication.
pub fn exchange<S: 'static + crate::platform::Socket>(
    stream: S,
    host: &str,
    key_types: &[&str],
    timeout: Duration,
) -> Result<ServerKey, RemoteError> {
    let mut session = Session::new().map_err(|e| protocol(host, e))?;
    session.set_timeout(timeout.as_millis().min(u32::MAX as u128) as u32);
    let names: Vec<&str> = if key_types.is_empty() {
        PREFERRED.to_vec()
    } else {
        key_types.iter().flat_map(|t| negotiation_names(t).iter().copied()).collect()
    };
    session.method_pref(MethodType::HostKey, &names.join(",")).map_err(|e| protocol(host, e))?;
    session.set_tcp_stream(stream);
    session.handshake().map_err(|e| super::error::from_handshake(host, &e))?;
    let key = server_key(&session).ok_or_else(|| RemoteError::Protocol {
        host: host.into(),
        message: "the server sent a host key hpcinit cannot read".into(),
    });
    let _ = session.disconnect(None, "host key read", None);
    key
}

/// The host key of an established session.
pub fn server_key(session: &Session) -> Option<ServerKey> {
    let (blob, _) = session.host_key()?;
    let (openssh, fingerprint) = describe_blob(blob)?;
    let algorithm = openssh.split_whitespace().next()?.to_string();
    Some(ServerKey { openssh, fingerprint, algorithm })
}

fn protocol(host: &str, e: ssh2::Error) -> RemoteError {
    RemoteError::Protocol { host: host.into(), message: e.message().to_string() }
}
