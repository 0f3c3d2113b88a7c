//! What a snapshot's copy sent, whichever route it took.

/// What the copy sent.
pub struct Sent {
    pub files: u64,
    pub bytes: u64,
}
