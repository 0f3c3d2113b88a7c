//! Talking to a cluster. [`Remote`] runs commands there over the run's one authenticated
//! connection: [`OpenSsh`] (the system's ssh, a ControlMaster opened once and reused) or
//! [`Ssh2Session`] (one in-process libssh2 session, where no OpenSSH client can multiplex).
//! [`host_key::read`] reads a server's key before anything is sent.

pub mod control_socket;
mod error;
pub mod host_key;
mod openssh;
mod output;
#[allow(clippy::module_inception)]
mod remote;
pub mod retry;
pub mod rsh_relay;
mod running;
mod sftp;
mod shell_session;
mod ssh2_session;
mod ssh2_tunnel;

pub use error::{RemoteError, PASSCODE_NOT_ACCEPTED, PUSH_NOT_APPROVED};
pub use openssh::{OpenSsh, ANSWER_WITHIN};
pub use output::RemoteOutput;
pub use remote::{Forward, KeyQuery, Liveness, Remote, RsyncShell, Upload};
pub use running::Running;
pub use ssh2_session::Ssh2Session;
