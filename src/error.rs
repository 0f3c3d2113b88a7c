//! The one error type that reaches the edge, rendered once as `error:` / `caused by:` / `hint:`,
//! and how each ends the run ([`Exit`]: done or cancelled, a step or check failed, bad usage,
//! profile or configuration, interrupted).

use crate::answers::AnswerError;
use crate::exit::Diagnostic;
use crate::exit::Exit;
use crate::profile::ProfileError;
use crate::ui::Style;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Answer(#[from] AnswerError),
    #[error(transparent)]
    AnswersFile(#[from] crate::answers_file::AnswersFileError),
    #[error(transparent)]
    Course(#[from] crate::course_file::CourseError),
    /// The command line asks for something that cannot be done as asked.
    #[error("{message}")]
    Usage { message: String, hint: String },
    #[error("cannot read {what} {}", path.display())]
    LocalRead {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
    #[error(transparent)]
    Requirements(#[from] crate::local::requirements::RequirementsError),
    #[error(transparent)]
    Project(#[from] crate::local::project::ProjectError),
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error(transparent)]
    Lock(#[from] crate::local::lock::LockError),
    #[error(transparent)]
    Busy(#[from] crate::local::run_lock::RunLockError),
    /// A step of the run failed.
    #[error("{error}")]
    Step { title: String, error: Box<crate::exec::StepError> },
    /// OpenSSH rejects the person's own ssh config; hpcinit changed nothing.
    #[error("OpenSSH rejects {}{}: {}; hpcinit changed nothing", .0.file.display(), .0.line.map(|l| format!(" line {l}")).unwrap_or_default(), .0.words)]
    UserConfig(crate::local::user_config::Rejection),
}

impl From<crate::exec::StepFailed> for Error {
    fn from(f: crate::exec::StepFailed) -> Error {
        Error::Step { title: f.title, error: f.error }
    }
}

impl Error {
    fn detail(&self) -> Option<String> {
        match self {
            Error::Profile(e) => e.detail(),
            Error::AnswersFile(e) => e.detail(),
            Error::Course(e) => e.detail(),
            Error::Lock(e) => e.detail(),
            _ => None,
        }
    }

    /// The text printed on standard error.
    pub fn render(&self, style: &Style) -> String {
        let mut out = match self {
            Error::Step { title, .. } => format!("{} {self}\n  in step: {title}\n", style.error("error:")),
            _ => format!("{} {self}\n", style.error("error:")),
        };
        // Wrapped module errors are `transparent`: `source()` already starts at their cause.
        let mut source = match self {
            Error::Step { error, .. } => std::error::Error::source(error.as_ref()),
            _ => std::error::Error::source(self),
        };
        while let Some(cause) = source {
            out.push_str(&format!("  caused by: {cause}\n"));
            source = cause.source();
        }
        if let Some(detail) = self.detail() {
            out.push_str(&detail);
            out.push('\n');
        }
        if let Some(hint) = self.hint() {
            out.push_str(&format!("{} {hint}\n", style.hint("hint:")));
        }
        out
    }
}

impl crate::exit::Diagnostic for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::Profile(e) => e.hint(),
            Error::Answer(e) => e.hint(),
            Error::AnswersFile(e) => e.hint(),
            Error::Course(e) => e.hint(),
            Error::Usage { hint, .. } => Some(hint.clone()),
            Error::LocalRead { .. } => Some("check that the path exists and that you may read it".into()),
            Error::Requirements(e) => e.hint(),
            Error::Project(e) => e.hint(),
            Error::Lock(e) => e.hint(),
            Error::Plan(e) => e.hint(),
            Error::Output(_) => None,
            Error::Busy(e) => e.hint(),
            Error::Step { error, .. } => error.hint(),
            Error::UserConfig(r) => Some(r.hint()),
        }
    }

    fn exit(&self) -> Exit {
        match self {
            Error::Profile(_)
            | Error::Answer(_)
            | Error::AnswersFile(_)
            | Error::Course(_)
            | Error::Usage { .. }
            | Error::LocalRead { .. } => Exit::Usage,
            Error::Requirements(_) | Error::Project(_) | Error::Lock(_) => Exit::Usage,
            Error::Plan(e) => e.exit(),
            Error::Output(_) | Error::Busy(_) => Exit::Failed,
            Error::Step { error, .. } => error.exit(),
            Error::UserConfig(_) => Exit::Usage,
        }
    }
}
