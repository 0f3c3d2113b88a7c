//! What differs between Unix and Windows, in one place: file permissions (bits on Unix; on
//! Windows the ACL, set with `icacls`), how a file name becomes the bytes of a snapshot
//! manifest and back, whether a file can be read, the machine's name and the account's home.
//! The rest of hpcinit calls these and never asks which system it runs on. (The run lock uses
//! std's file lock on both; Ctrl-C has its own small module, `ui::interrupt`.)
//!
//! Reads and changes the permissions of the person's files; runs `icacls` on Windows.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(not(unix))]
mod windows;
#[cfg(not(unix))]
pub use windows::*;

mod file_facts;
pub use file_facts::{FileFacts, Stamp};
