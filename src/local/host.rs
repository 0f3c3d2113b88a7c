//! This machine's name, for key comments and messages: `gethostname(2)` on Unix (macOS has no
//! `/etc/hostname`), `COMPUTERNAME` on Windows.

pub use crate::platform::hostname;
