//! The person's SSH key: read the one they chose, or create an ed25519 key in OpenSSH format,
//! written 0600 and never over an existing file. The private key is only ever read and written
//! here, on this machine; what leaves it is the public line.

use super::atomic;
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey};
use std::path::{Path, PathBuf};

/// A key hpcinit will use.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub path: PathBuf,
    /// The OpenSSH public line: `ssh-ed25519 AAAA… comment`.
    pub public: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub algorithm: String,
    /// Whether the private key is protected by a passphrase.
    pub encrypted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not an OpenSSH private key, and {}.pub is missing", path.display(), path.display())]
    Unreadable { path: PathBuf },
    #[error("the private key {} can be read by other users (mode {mode:o}); ssh refuses such keys", path.display())]
    Exposed { path: PathBuf, mode: u32 },
    #[error("cannot create the key {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot generate the key")]
    Generate(#[source] ssh_key::Error),
}

impl crate::exit::Diagnostic for KeyError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            KeyError::Read { .. } => "check the path given with --key".into(),
            KeyError::Unreadable { path } => format!(
                "convert it with `ssh-keygen -p -f {}` (keeps the key, rewrites it in OpenSSH format), or leave out --key to let hpcinit create one",
                path.display()
            ),
            KeyError::Exposed { path, .. } => format!("run `chmod 600 {}`", path.display()),
            KeyError::Write { .. } => "check that ~/.ssh exists and is writable".into(),
            KeyError::Generate(_) => "the system's random source failed; try again".into(),
        })
    }
}

/// Reads an existing key: its public line from `KEY.pub`, or from the private key file itself
/// (OpenSSH keeps the public part unencrypted).
pub fn load(path: &Path) -> Result<KeyInfo, KeyError> {
    if let Some(mode) = atomic::mode_of(path) {
        if mode & 0o077 != 0 {
            return Err(KeyError::Exposed { path: path.into(), mode });
        }
    }
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.into(), source });
    let private = text.ok().and_then(|t| PrivateKey::from_openssh(t).ok());
    let (public, encrypted) = match &private {
        Some(k) => (k.public_key().clone(), Some(k.is_encrypted())),
        None => {
            let pub_path = public_path(path);
            let text =
                std::fs::read_to_string(&pub_path).map_err(|_| KeyError::Unreadable { path: path.into() })?;
            let key = PublicKey::from_openssh(text.trim())
                .map_err(|_| KeyError::Unreadable { path: path.into() })?;
            // A PEM key: encrypted when its header says so.
            let pem = std::fs::read_to_string(path).unwrap_or_default();
            (key, Some(pem.contains("ENCRYPTED")))
        }
    };
    Ok(info(path, &public, encrypted.unwrap_or(false)))
}

/// Creates an ed25519 key at `path` (0600) and its `.pub` (0644). Fails if either exists.
pub fn create(path: &Path, passphrase: Option<&str>, comment: &str) -> Result<KeyInfo, KeyError> {
    let write_err = |source| KeyError::Write { path: path.into(), source };
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(KeyError::Generate)?;
    key.set_comment(comment);
    let key = match passphrase.filter(|p| !p.is_empty()) {
        Some(p) => key.encrypt(&mut OsRng, p).map_err(KeyError::Generate)?,
        None => key,
    };
    let private = key.to_openssh(LineEnding::LF).map_err(KeyError::Generate)?;
    let public = key.public_key().to_openssh().map_err(KeyError::Generate)?;
    let pub_path = public_path(path);
    if pub_path.exists() {
        return Err(write_err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists", pub_path.display()),
        )));
    }
    atomic::create(path, private.as_bytes(), 0o600).map_err(write_err)?;
    if let Err(e) = atomic::restrict_to_owner(path) {
        let _ = std::fs::remove_file(path);
        return Err(write_err(e));
    }
    if let Err(e) = atomic::create(&pub_path, format!("{public}\n").as_bytes(), 0o644) {
        let _ = std::fs::remove_file(path);
        return Err(write_err(e));
    }
    Ok(info(path, key.public_key(), key.is_encrypted()))
}

/// The OpenSSH line and SHA256 fingerprint of a public key blob (as a server sends it).
pub fn describe_blob(blob: &[u8]) -> Option<(String, String)> {
    let key = PublicKey::from_bytes(blob).ok()?;
    Some((key.to_openssh().ok()?, key.fingerprint(HashAlg::Sha256).to_string()))
}

pub fn public_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

fn info(path: &Path, public: &PublicKey, encrypted: bool) -> KeyInfo {
    KeyInfo {
        path: path.into(),
        public: public.to_openssh().unwrap_or_default(),
        fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
        algorithm: public.algorithm().to_string(),
        encrypted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(windows, ignore = "runs ssh-keygen, which Wine does not provide")]
    fn created_key_reads_back_the_same() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("id");
        let made = create(&p, None, "alice@laptop").unwrap();
        assert!(made.public.starts_with("ssh-ed25519 AAAA") && made.public.ends_with(" alice@laptop"));
        assert!(made.fingerprint.starts_with("SHA256:"));
        assert_eq!(atomic::mode_of(&p), Some(0o600));
        let read = load(&p).unwrap();
        assert_eq!((read.public, read.fingerprint, read.encrypted), (made.public, made.fingerprint, false));
        assert!(create(&p, None, "x").is_err(), "never replaces a key");
    }

    #[test]
    fn passphrase_encrypts() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("id");
        assert!(create(&p, Some("correct horse"), "c").unwrap().encrypted);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(PrivateKey::from_openssh(&text).unwrap().decrypt("correct horse").is_ok());
        assert!(load(&p).unwrap().encrypted);
    }

    #[test]
    #[cfg_attr(windows, ignore = "Unix permission bits (Windows: the ACL, set by icacls)")]
    fn refuses_a_readable_key() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("id");
        create(&p, None, "c").unwrap();
        atomic::set_mode(&p, 0o644).unwrap();
        assert!(matches!(load(&p), Err(KeyError::Exposed { mode: 0o644, .. })));
    }
}
