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
    /// The exit status of a program hpcinit stands in for (`hpcinit rsh` passes on ssh's).
    Relayed(i32),
}

impl Exit {
    /// The process exit code: 0, 1, 2, 130.
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Interrupted => 130,
            Exit::Relayed(code) => code,
        }
    }
}

/// What every error hpcinit reports says beyond its message, the same way for each: the hint
/// that fixes it (rendered once as `hint:`) and how it ends the run.
pub trait Diagnostic {
    /// What the person can do about it, if hpcinit knows.
    fn hint(&self) -> Option<String>;
    /// How it ends the run: a failed step or check unless it says otherwise.
    fn exit(&self) -> Exit {
        Exit::Failed
    }
}
