//! Everything a person sees and answers: colours, tables, the plan's layout, prompts and
//! progress. Only this module imports console, dialoguer and indicatif.

mod interrupt;
mod plan_brief;
mod plan_view;
mod printer;
mod prompter;
mod reporter;
mod table;

pub use interrupt::exit_130_on_interrupt;
pub use plan_view::{render_plan, render_plan_table};
pub use printer::{Printer, Verbosity};
pub use prompter::{PromptError, Prompter, ScriptedPrompter, SystemPrompter};
pub use reporter::{Reporter, Status, TextReporter, Wait};
pub use table::Table;

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
