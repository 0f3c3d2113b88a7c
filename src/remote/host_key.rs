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
    let mut session = Session::new().map_err(|e| protocol(host, e))?;
    session.set_timeout(timeout.as_millis().min(u32::MAX as u128) as u32);
    let names: Vec<&str> = if key_types.is_empty() {
        PREFERRED.to_vec()
    } else {
        key_types.iter().flat_map(|t| negotiation_names(t).iter().copied()).collect()
    };
    session.method_pref(MethodType::HostKey, &names.join(",")).map_err(|e| protocol(host, e))?;
    session.set_tcp_stream(tcp);
    session.handshake().map_err(|e| protocol(host, e))?;
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
