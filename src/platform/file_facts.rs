//! What a listing needs of a regular file, on either system.

/// A regular file's size, modification time (seconds since the epoch) and executable bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    pub mtime: i64,
    pub executable: bool,
    /// What else tells one version of the file from another (see [`Stamp`]).
    pub stamp: Stamp,
}

/// What a file's size and whole-second modification time miss, as git's index keeps it: the
/// time's nanoseconds, the inode's change time (set by every write, and by `touch -r` itself)
/// and the inode number (a file replaced by another). Zero where the system has none
/// (Windows: the nanoseconds alone).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub mtime_ns: u32,
    pub ctime: i64,
    pub ctime_ns: u32,
    pub ino: u64,
}
