//! Talking to a cluster. [`Remote`] runs commands there over the run's one authenticated
//! connection: [`OpenSsh`] (the system's ssh, a ControlMaster opened once and reused) or
//! [`Ssh2Session`] (one in-process libssh2 session, where no OpenSSH client can multiplex).
//! [`host_key::read`] reads a server's key before anything is sent.

mod error;
pub mod host_key;
mod openssh;
pub mod script;
mod ssh2_session;

pub use error::RemoteError;
pub use openssh::OpenSsh;
pub use script::Script;
pub use ssh2_session::Ssh2Session;

use crate::ui::Prompter;

/// What a remote command printed and how it ended.
#[derive(Debug, Clone)]
pub struct RemoteOutput {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl RemoteOutput {
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// One authenticated connection to the cluster for the whole run.
pub trait Remote {
    /// Opens it, asking the person to authenticate if needed. `Ok(true)` when an existing
    /// connection was reused (no authentication happened).
    fn connect(&mut self, prompter: &mut dyn Prompter) -> Result<bool, RemoteError>;
    /// Whether it is open now.
    fn is_open(&mut self) -> bool;
    /// Runs a POSIX shell script on the cluster (in the login shell's `sh -c`).
    fn run(&mut self, script: &str) -> Result<RemoteOutput, RemoteError> {
        self.exec(script, b"", &mut |_| {})
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
    /// Tries a fresh key-only login with `key`, without prompting: `Ok(true)` when the server
    /// accepts the key (even if it then asks for a second factor).
    fn key_accepted(
        &mut self,
        key: &std::path::Path,
        prompter: &mut dyn Prompter,
    ) -> Result<bool, RemoteError>;
    /// `ssh` or `ssh2`, for messages.
    fn name(&self) -> &'static str;
}
