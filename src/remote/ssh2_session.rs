//! One in-process libssh2 session as the run's transport, for machines whose OpenSSH cannot
//! multiplex (native Windows) or that have no ssh at all: the person authenticates once, through
//! hpcinit's prompter (password, keyboard-interactive codes, key passphrase), and every command of
//! the run is a channel on that session. The server's key must be the one hpcinit recorded.
//! libssh2 reads no ssh config and has no ProxyJump: host, port and user come from the profile.

use super::host_key::{connect_tcp, server_key};
use super::ssh2_tunnel::Gateway;
use super::{Remote, RemoteError, RemoteOutput};
use crate::prompt::{PromptError, Prompter};
use ssh2::{KeyboardInteractivePrompt, Prompt, Session};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

pub struct Ssh2Session {
    host: String,
    port: u16,
    user: String,
    /// hpcinit's known_hosts and the alias the host's keys are recorded under: read at each
    /// key exchange (a run records the key of a host behind a gateway after this is made).
    known_hosts: PathBuf,
    alias: String,
    /// The gateway, when the login host is reached through one, and its session once open.
    via: Option<Via>,
    gateway: Option<Gateway>,
    key: Option<PathBuf>,
    key_encrypted: bool,
    passphrase: Option<Zeroizing<String>>,
    session: Option<Session>,
    /// The key the last sign-in took alone, with no other method: proof enough that the server
    /// accepts it, without another connection.
    signed_in_by: Option<PathBuf>,
}

/// The gateway a session goes through.
#[derive(Debug, Clone)]
struct Via {
    alias: String,
    host: String,
    port: u16,
    user: String,
}

const TIMEOUT: Duration = Duration::from_secs(20);
/// libssh2's code for a method the server refused (`LIBSSH2_ERROR_AUTHENTICATION_FAILED`).
const LIBSSH2_ERROR_AUTHENTICATION_FAILED: i32 = -18;

impl Ssh2Session {
    /// `alias`: the name the host's keys are recorded under in `known_hosts`.
    pub fn new(host: &str, port: u16, user: &str, known_hosts: &Path, alias: &str) -> Ssh2Session {
        Ssh2Session {
            host: host.into(),
            port,
            user: user.into(),
            known_hosts: known_hosts.into(),
            alias: alias.into(),
            via: None,
            gateway: None,
            key: None,
            key_encrypted: false,
            passphrase: None,
            session: None,
            signed_in_by: None,
        }
    }

    /// Offer this key first (when it is registered); `passphrase` if this run already knows it.
    pub fn with_key(mut self, key: &Path, encrypted: bool, passphrase: Option<Zeroizing<String>>) -> Self {
        self.key = Some(key.into());
        self.key_encrypted = encrypted;
        self.passphrase = passphrase;
        self
    }

    /// Goes through the gateway `host:port` as `user` (its key recorded under `alias` in the
    /// same known_hosts).
    pub fn via(mut self, alias: &str, host: &str, port: u16, user: &str) -> Self {
        self.via = Some(Via { alias: alias.into(), host: host.into(), port, user: user.into() });
        self
    }

    fn err(&self, e: ssh2::Error) -> RemoteError {
        RemoteError::Protocol { host: self.host.clone(), message: e.message().to_string() }
    }

    /// A new session with the host key checked; nothing sent yet. Through the gateway (signed
    /// in first, once per run) when there is one.
    fn handshake(&mut self, prompter: &mut dyn Prompter) -> Result<Session, RemoteError> {
        let (host, port) = (self.host.clone(), self.port);
        let expected = self.expected(&self.alias);
        if self.via.is_none() {
            return key_exchange(connect_tcp(&host, port, TIMEOUT)?, &host, &expected);
        }
        let stream = self.gateway(prompter)?.open(&host, port)?;
        key_exchange(stream, &host, &expected)
    }

    /// The recorded keys (`type base64`) of `alias`.
    fn expected(&self, alias: &str) -> Vec<String> {
        let known = std::fs::read_to_string(&self.known_hosts).unwrap_or_default();
        crate::local::known_hosts::keys_for(&known, alias).into_iter().map(String::from).collect()
    }

    /// The gateway's session, signed in (once per run): its key checked against the one
    /// recorded, then the key, keyboard-interactive or password, as it asks.
    fn gateway(&mut self, prompter: &mut dyn Prompter) -> Result<&Gateway, RemoteError> {
        if self.gateway.is_none() {
            let hop = self.via.clone().expect("only called with a gateway");
            let tcp = connect_tcp(&hop.host, hop.port, TIMEOUT)?;
            let session = key_exchange(tcp, &hop.host, &self.expected(&hop.alias))?;
            // Signed in as the gateway's user, with its name in prompts and errors.
            let host = std::mem::replace(&mut self.host, hop.host.clone());
            let user = std::mem::replace(&mut self.user, hop.user.clone());
            let result = self.authenticate(&session, prompter);
            (self.host, self.user) = (host, user);
            result?;
            self.gateway = Some(Gateway::start(session));
        }
        Ok(self.gateway.as_ref().expect("just started"))
    }

    fn passphrase(&mut self, prompter: &mut dyn Prompter, key: &Path) -> Result<Option<String>, RemoteError> {
        if !self.key_encrypted {
            return Ok(None);
        }
        if self.passphrase.is_none() {
            self.passphrase =
                Some(prompter.secret(&format!("Enter passphrase for key '{}': ", key.display()))?);
        }
        Ok(self.passphrase.as_ref().map(|p| p.to_string()))
    }

    fn try_key(&mut self, s: &Session, prompter: &mut dyn Prompter) -> Result<bool, RemoteError> {
        let Some(key) = self.key.clone() else { return Ok(false) };
        let pass = self.passphrase(prompter, &key)?;
        // Accepted in part (a code follows) counts as not in yet; `authenticate` goes on.
        Ok(s.userauth_pubkey_file(&self.user, None, &key, pass.as_deref()).is_ok() && s.authenticated())
    }
}

/// The key exchange on `stream`, the server's key required to be one of `expected`.
fn key_exchange<S: 'static + crate::platform::Socket>(
    stream: S,
    host: &str,
    expected: &[String],
) -> Result<Session, RemoteError> {
    let err = |e: ssh2::Error| RemoteError::Protocol { host: host.into(), message: e.message().to_string() };
    let mut s = Session::new().map_err(err)?;
    s.set_timeout(TIMEOUT.as_millis() as u32);
    let types: Vec<&str> = expected.iter().filter_map(|k| k.split_whitespace().next()).collect();
    let names: Vec<&str> =
        types.iter().flat_map(|t| super::host_key::negotiation_names(t).iter().copied()).collect();
    if !names.is_empty() {
        s.method_pref(ssh2::MethodType::HostKey, &names.join(",")).map_err(err)?;
    }
    s.set_tcp_stream(stream);
    s.handshake().map_err(|e| super::error::from_handshake(host, &e))?;
    let key = server_key(&s).ok_or_else(|| RemoteError::HostKeyRejected { host: host.into() })?;
    if !expected.iter().any(|k| crate::local::known_hosts::same_key(k, &key.openssh)) {
        return Err(RemoteError::HostKeyRejected { host: host.into() });
    }
    Ok(s)
}

impl Ssh2Session {
    /// Goes through the methods the server offers until it says the person is in, as OpenSSH
    /// does: a method the server accepts with *partial success* (`AuthenticationMethods
    /// password,keyboard-interactive`) is followed by the ones it offers next (asked again with
    /// a `none` request). Each method is tried once: the key, then keyboard-interactive (the
    /// server's own prompts: password, code, Duo), then a password.
    fn authenticate(&mut self, s: &Session, prompter: &mut dyn Prompter) -> Result<(), RemoteError> {
        let mut tried: Vec<&str> = Vec::new();
        self.signed_in_by = None;
        let mut offered = s.auth_methods(&self.user).map_err(|e| self.err(e))?.to_string();
        loop {
            let has = |m: &str| offered.split(',').any(|o| o == m);
            let method = ["publickey", "keyboard-interactive", "password"]
                .into_iter()
                .find(|m| has(m) && !tried.contains(m) && (*m != "publickey" || self.key.is_some()));
            let Some(method) = method else {
                let tried = if tried.is_empty() { offered.clone() } else { tried.join(",") };
                return Err(RemoteError::Denied { host: self.host.clone(), methods: tried });
            };
            tried.push(method);
            match method {
                "publickey" => {
                    self.try_key(s, prompter)?;
                }
                "keyboard-interactive" => {
                    let mut kbd = Kbd { prompter: &mut *prompter, failed: None, refused: None, duo: None };
                    // No timeout of hpcinit's own while the server decides: a Duo push waits for
                    // the phone (Duo gives up after about a minute; sshd's LoginGraceTime bounds
                    // the whole sign-in).
                    s.set_timeout(0);
                    let result = s.userauth_keyboard_interactive(&self.user, &mut kbd);
                    s.set_timeout(TIMEOUT.as_millis() as u32);
                    if let Some(e) = kbd.failed {
                        return Err(e.into());
                    }
                    // A refusal is libssh2's "authentication failed"; anything else (the
                    // connection dropped, a timeout) is the connection's fault, not Duo's.
                    if let Err(e) = result {
                        if e.code() != ssh2::ErrorCode::Session(LIBSSH2_ERROR_AUTHENTICATION_FAILED) {
                            return Err(self.err(e));
                        }
                    }
                    if !s.authenticated() {
                        // Duo's words, or (where the server sent them in a request without
                        // prompts, which libssh2 does not pass on) what was answered to Duo.
                        let words = kbd.refused.or(kbd.duo.map(|push| {
                            if push {
                                super::error::PUSH_NOT_APPROVED.to_string()
                            } else {
                                super::error::PASSCODE_NOT_ACCEPTED.to_string()
                            }
                        }));
                        if let Some(words) = words {
                            return Err(RemoteError::DuoRefused { host: self.host.clone(), words });
                        }
                    }
                }
                _ => {
                    let pw = prompter.secret(&format!("{}@{}'s password: ", self.user, self.host))?;
                    let _ = s.userauth_password(&self.user, &pw);
                }
            }
            if s.authenticated() {
                if tried == ["publickey"] {
                    self.signed_in_by = self.key.clone();
                }
                return Ok(());
            }
            // Rejected, or accepted in part: the server's list now says what it wants next.
            offered = match s.auth_methods(&self.user) {
                Ok(list) => list.to_string(),
                Err(_) if s.authenticated() => return Ok(()),
                Err(e) => return Err(self.err(e)),
            };
        }
    }
}

/// Keyboard-interactive prompts (password, one-time code, Duo) asked through the prompter: a
/// prompt with echo on (Duo's menu) is answered in the clear, as the server asks. Once Duo has
/// said no (a denied or unanswered push: its words come before the next prompt, or as the
/// instructions of the last request), nothing more is asked or sent: the empty answers end the
/// server's retries, and the run reports Duo's words.
struct Kbd<'a> {
    prompter: &'a mut dyn Prompter,
    failed: Option<PromptError>,
    refused: Option<String>,
    /// Duo's menu was answered: with an option (a push or a call: `true`) or a passcode.
    duo: Option<bool>,
}

impl KeyboardInteractivePrompt for Kbd<'_> {
    fn prompt<'b>(&mut self, _user: &str, instructions: &str, prompts: &[Prompt<'b>]) -> Vec<String> {
        if !instructions.trim().is_empty() {
            self.prompter.show(instructions.trim_end());
        }
        let decisive = |w: &str| w.starts_with("Login ");
        if let Some(w) = super::error::duo_refusal(instructions).filter(|w| decisive(w)) {
            self.refused = Some(w);
        }
        let mut answers = Vec::new();
        for p in prompts {
            if let Some(w) = super::error::duo_refusal(&p.text).filter(|w| decisive(w)) {
                self.refused = Some(w);
            }
            if self.failed.is_some() || self.refused.is_some() {
                answers.push(String::new());
                continue;
            }
            let asked = if p.echo { self.prompter.answer(&p.text) } else { self.prompter.secret(&p.text) };
            match asked {
                Ok(a) => {
                    if p.text.contains("Passcode or option") {
                        self.duo = Some(a.trim().len() <= 1);
                    }
                    answers.push(a.to_string())
                }
                Err(e) => {
                    self.failed = Some(e);
                    answers.push(String::new());
                }
            }
        }
        answers
    }
}

impl Remote for Ssh2Session {
    fn connect(&mut self, prompter: &mut dyn Prompter) -> Result<bool, RemoteError> {
        if self.session.as_ref().is_some_and(|s| s.authenticated()) {
            return Ok(true);
        }
        let s = self.handshake(prompter)?;
        self.authenticate(&s, prompter)?;
        self.session = Some(s);
        Ok(false)
    }

    fn is_open(&mut self) -> bool {
        self.session.as_ref().is_some_and(|s| s.authenticated())
    }

    fn exec(
        &mut self,
        command: &str,
        input: &[u8],
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, RemoteError> {
        let host = self.host.clone();
        let s = self.session.as_ref().ok_or(RemoteError::NoMaster { alias: host.clone() })?;
        let err =
            |e: ssh2::Error| RemoteError::Protocol { host: host.clone(), message: e.message().to_string() };
        let io = |e: std::io::Error| RemoteError::Protocol { host: host.clone(), message: e.to_string() };
        let mut ch = s.channel_session().map_err(err)?;
        // One stream: reading standard output to its end while standard error fills its window
        // would block the channel.
        ch.handle_extended_data(ssh2::ExtendedData::Merge).map_err(err)?;
        ch.exec(command).map_err(err)?;
        ch.write_all(input).map_err(io)?;
        ch.send_eof().map_err(err)?;
        let mut stdout = String::new();
        {
            let mut reader = BufReader::new(&mut ch);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).map_err(io)? {
                    0 => break,
                    _ => {
                        let text = String::from_utf8_lossy(&line);
                        on_line(text.trim_end_matches(['\n', '\r']));
                        stdout.push_str(&text);
                    }
                }
            }
        }
        ch.wait_close().map_err(err)?;
        let status = ch.exit_status().map_err(err)?;
        Ok(RemoteOutput { status, stdout, stderr: String::new() })
    }

    fn key_accepted(&mut self, key: &Path, prompter: &mut dyn Prompter) -> Result<bool, RemoteError> {
        if self.session.is_some() && self.signed_in_by.as_deref() == Some(key) {
            return Ok(true); // the run's own session signed in with this key alone
        }
        // A room of students' MaxStartups: the proof's own connection is tried again (quietly,
        // bounded) while the node drops it before the key exchange.
        let s = super::retry::quietly(|| self.handshake(prompter))?;
        let saved = self.key.replace(key.into());
        let ok = self.try_key(&s, prompter).map(|in_| {
            // Accepted with partial success (a second factor follows): the server no longer
            // offers publickey.
            in_ || s.auth_methods(&self.user).is_ok_and(|m| !m.split(',').any(|x| x == "publickey"))
        });
        self.key = saved;
        let _ = s.disconnect(None, "key check", None);
        ok
    }

    fn name(&self) -> &'static str {
        "ssh2"
    }

    /// Not on the built-in client yet: its gateway session only carries tunnels.
    fn gateway_script(
        &mut self,
        _script: &crate::exchange::Script,
    ) -> Option<Result<RemoteOutput, RemoteError>> {
        let hop = self.via.as_ref()?;
        Some(Err(RemoteError::Protocol {
            host: hop.host.clone(),
            message: "the built-in SSH client (--transport ssh2) cannot run commands on a gateway yet".into(),
        }))
    }

    fn sign_in_gateway(&mut self, prompter: &mut dyn Prompter) -> Option<Result<bool, RemoteError>> {
        self.via.as_ref()?;
        let open = self.gateway.is_some();
        Some(self.gateway(prompter).map(|_| open))
    }

    fn key_through_gateway(
        &mut self,
        host: &str,
        port: u16,
        key_types: &[&str],
        prompter: &mut dyn Prompter,
    ) -> Result<super::host_key::ServerKey, RemoteError> {
        if self.via.is_none() {
            return Err(RemoteError::Protocol { host: host.into(), message: "no gateway".into() });
        }
        let stream = self.gateway(prompter)?.open(host, port)?;
        super::host_key::exchange(stream, host, key_types, TIMEOUT)
    }

    fn sftp(&mut self) -> Result<Option<Box<dyn super::Upload + '_>>, RemoteError> {
        let host = self.host.clone();
        let s = self.session.as_ref().ok_or(RemoteError::NoMaster { alias: host.clone() })?;
        let sftp = s.sftp().map_err(|e| RemoteError::Protocol { host, message: e.message().to_string() })?;
        Ok(Some(Box::new(super::sftp::SftpUpload::new(sftp, &self.host))))
    }
}
