//! The [`Remote`] trait: one authenticated connection to the cluster for the whole run, and
//! what travels over it (a script's output, a background key question, rsync's shell, files
//! sent one by one).

use super::error::RemoteError;
use super::host_key;
use super::output::RemoteOutput;
use super::running::Running;
use crate::exchange::Script;
use crate::prompt::Prompter;

/// See [`Remote::liveness`].
pub type Liveness = Box<dyn FnOnce(std::time::Duration) -> bool + Send>;

/// One authenticated connection to the cluster for the whole run.
pub trait Remote {
    /// Opens it, asking the person to authenticate if needed. `Ok(true)` when an existing
    /// connection was reused (no authentication happened).
    fn connect(&mut self, prompter: &mut dyn Prompter) -> Result<bool, RemoteError>;
    /// Whether it is open now.
    fn is_open(&mut self) -> bool;
    /// Whether it is open by the local side's word alone (OpenSSH: the master process answers
    /// `-O check`), without a round trip to prove the server answers; the command that uses it
    /// next finds out, with [`Remote::liveness`] to bound the wait.
    fn is_running(&mut self) -> bool {
        self.is_open()
    }
    /// A check that the server answers over the connection within the bound given, runnable on
    /// another thread (a copy's watchdog); `None` where the transport has none.
    fn liveness(&self) -> Option<Liveness> {
        None
    }
    /// Runs `command` on the cluster with `input` on its standard input, passing each line it
    /// prints on standard output to `on_line` as it arrives (a long install or a job's wait
    /// shows progress). The whole output is returned too.
    fn exec(
        &mut self,
        command: &str,
        input: &[u8],
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, RemoteError>;
    /// Runs a [`Script`] (its own login shell, unless the transport keeps one for the run).
    fn script(
        &mut self,
        script: &Script,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, RemoteError> {
        self.exec(script.shell(), script.input().as_bytes(), on_line)
    }
    /// Starts a [`Script`] in a login shell of its own, on a channel of its own over the run's
    /// connection, to be collected later ([`Running::wait`]) while other scripts run. `None`
    /// where the transport carries one command at a time (ssh2; OpenSSH without a shared
    /// connection, where a second channel would mean signing in again).
    fn start(&mut self, _script: &Script) -> Option<Result<Running, RemoteError>> {
        None
    }
    /// Tries a fresh key-only login with `key`, without prompting: `Ok(true)` when the server
    /// accepts the key (even if it then asks for a second factor).
    fn key_accepted(
        &mut self,
        key: &std::path::Path,
        prompter: &mut dyn Prompter,
    ) -> Result<bool, RemoteError>;
    /// The same question as [`Remote::key_accepted`], asked on a connection of its own in the
    /// background, to be answered later ([`KeyQuery::answer`]) while the run goes on; `None`
    /// where the transport cannot (ssh2 asks within its one session).
    fn start_key_query(&mut self, _key: &std::path::Path) -> Option<KeyQuery> {
        None
    }
    /// `ssh` or `ssh2`, for messages.
    fn name(&self) -> &'static str;
    /// How rsync reaches the cluster over this connection, where it can (OpenSSH).
    fn rsync_shell(&self) -> Option<RsyncShell> {
        None
    }
    /// Runs `script` on this connection's gateway (signed in to already), if it has one and
    /// this transport can.
    fn gateway_script(&mut self, _script: &Script) -> Option<Result<RemoteOutput, RemoteError>> {
        None
    }
    /// Whether the gateway accepts `key` (a fresh key-only login), if there is one.
    fn gateway_key_accepted(
        &mut self,
        _key: &std::path::Path,
        _prompter: &mut dyn Prompter,
    ) -> Option<Result<bool, RemoteError>> {
        None
    }
    /// Signs in to this connection's gateway, if it has one (its key is recorded by now):
    /// `Some(Ok(true))` when a connection to it was open already. It stays open for the run.
    fn sign_in_gateway(&mut self, _prompter: &mut dyn Prompter) -> Option<Result<bool, RemoteError>> {
        None
    }
    /// Signs in to the gateway of this connection (its key is recorded by now) and reads the
    /// host key `host:port` presents through it, with no authentication at that host. The
    /// gateway's connection stays open for the run. An error when there is no gateway.
    fn key_through_gateway(
        &mut self,
        host: &str,
        _port: u16,
        _key_types: &[&str],
        _prompter: &mut dyn Prompter,
    ) -> Result<host_key::ServerKey, RemoteError> {
        Err(RemoteError::Protocol { host: host.into(), message: "this connection has no gateway".into() })
    }
    /// An SFTP channel on this connection, where the transport has one in-process (ssh2).
    fn sftp(&mut self) -> Result<Option<Box<dyn Upload + '_>>, RemoteError> {
        Ok(None)
    }
    /// Adds (`open`) or removes a forward of this machine's loopback port to `to` as the login
    /// node sees it, on the shared connection (`ssh -O forward|cancel -L`); `None` where the
    /// transport has no shared connection to carry one.
    fn forward(&mut self, _f: &Forward, _open: bool) -> Option<Result<(), RemoteError>> {
        None
    }
    /// Ends the shared connection, however it is (`ssh -O exit`): one that stopped answering
    /// is replaced by the next [`Remote::connect`]. `false` where there is none to end.
    fn drop_connection(&mut self) -> bool {
        false
    }
}

/// A port of this machine's loopback forwarded to `host:port` as the login node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub local: u16,
    pub host: String,
    pub port: u16,
}

impl Forward {
    /// As `ssh -L` takes it: `127.0.0.1:LOCAL:HOST:PORT` (an IPv6 host in brackets).
    pub fn spec(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("127.0.0.1:{}:{host}:{}", self.local, self.port)
    }
}

/// A key question asked in the background ([`Remote::start_key_query`]).
pub struct KeyQuery(std::thread::JoinHandle<Result<bool, RemoteError>>);

impl KeyQuery {
    pub fn spawn(ask: impl FnOnce() -> Result<bool, RemoteError> + Send + 'static) -> KeyQuery {
        KeyQuery(std::thread::spawn(ask))
    }

    /// Waits for the answer.
    pub fn answer(self) -> Result<bool, RemoteError> {
        self.0.join().unwrap_or(Ok(false))
    }
}

/// How rsync's ssh rides on the run's connection.
#[derive(Debug, Clone)]
pub struct RsyncShell {
    /// The environment rsync and its ssh run with (rsync's `-e` is the plan's).
    pub vars: std::collections::BTreeMap<String, String>,
}

/// Files sent one by one (SFTP), for a transport without rsync.
pub trait Upload {
    /// Creates `dir` and its missing parents (paths relative to the cluster home).
    fn mkdir_p(&mut self, dir: &str) -> Result<(), RemoteError>;
    /// Sends `local` to `remote` under a temporary name, sets its mode and modification time,
    /// then renames it into place, so no half-written file ever has the final name. At most
    /// `limit` bytes per second; `on_bytes` hears of each chunk sent.
    fn put(
        &mut self,
        local: &std::path::Path,
        remote: &str,
        mode: i32,
        mtime: i64,
        limit: Option<u64>,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<(), RemoteError>;
}
