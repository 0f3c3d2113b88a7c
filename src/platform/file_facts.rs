//! What a listing needs of a regular file, on either system.

/// A regular file's size, modification time (seconds since the epoch) and executable bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    pub mtime: i64,
    pub executable: bool,
}
