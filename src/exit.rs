//! How a run ends, as one enum: every command and error says which of these it is, and only
//! the edge (`hpcinit::run`) turns it into the process's exit code.

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, or cancelled by the person (nothing was changed).
    Ok,
    /// A step or a check failed.
    Failed,
    /// Bad usage, a bad profile or config, or a missing answer.
    Usage,
    /// Interrupted (Ctrl-C).
    Interrupted,
}

impl Exit {
    /// The process exit code: 0, 1, 2, 130.
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Interrupted => 130,
        }
    }
}
