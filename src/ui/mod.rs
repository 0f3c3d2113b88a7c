//! Everything a person sees and answers: colours, tables, the plan's layout, prompts and
//! progress. Only this module imports console, dialoguer and indicatif.

mod plan_brief;
mod plan_view;
mod printer;
mod prompter;
mod reporter;
mod table;

pub use plan_view::{render_plan, render_plan_table};
pub use printer::{Printer, Verbosity};
pub use prompter::{PromptError, Prompter, ScriptedPrompter, SystemPrompter};
pub use reporter::{Reporter, Status, TextReporter, Wait};
pub use table::Table;

/// On Ctrl-C: show the cursor again (a prompt or spinner may have hidden it), say so, and exit
/// 130. Files are only ever replaced by rename, so stopping here leaves none half-written; the
/// next run continues where this one stopped.
pub fn exit_130_on_interrupt() {
    extern "C" fn on_sigint(_: libc::c_int) {
        const MSG: &[u8] = b"\x1b[?25h\ninterrupted; run the same command again to continue\n";
        // Only async-signal-safe calls here: write(2) and _exit(2).
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(130);
        }
    }
    if console::Term::stderr().is_term() {
        let handler: extern "C" fn(libc::c_int) = on_sigint;
        unsafe {
            libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        }
    }
}

/// Whether standard error is a terminal (spinners are drawn there).
pub fn stderr_is_term() -> bool {
    console::Term::stderr().is_term()
}

/// Colours that are switched off with `NO_COLOR` or when output is not a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn new(color: bool) -> Style {
        Style { color }
    }

    fn paint(&self, s: &str, style: console::Style) -> String {
        style.force_styling(self.color).apply_to(s).to_string()
    }

    pub fn error(&self, s: &str) -> String {
        self.paint(s, console::Style::new().red().bold())
    }
    pub fn hint(&self, s: &str) -> String {
        self.paint(s, console::Style::new().cyan().bold())
    }
    pub fn heading(&self, s: &str) -> String {
        self.paint(s, console::Style::new().bold())
    }
    pub fn ok(&self, s: &str) -> String {
        self.paint(s, console::Style::new().green().bold())
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint(s, console::Style::new().yellow().bold())
    }
}
