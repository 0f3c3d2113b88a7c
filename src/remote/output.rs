//! What a remote command printed and how it ended.

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
