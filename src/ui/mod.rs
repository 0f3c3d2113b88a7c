//! Everything a person sees and answers: colours, tables, the plan's layout, prompts and
//! progress. Only this module imports console, dialoguer and indicatif.

mod doctor_view;
mod interrupt;
mod jupyter_view;
mod node_view;
mod plan_brief;
mod plan_view;
mod printer;
mod prompter;
mod reporter;
pub mod run_clock;
mod style;
mod table;

pub use doctor_view::{call_line, render_doctor_plan, script_text};
pub use interrupt::exit_130_on_interrupt;
pub use jupyter_view::render_jupyter_plan;
pub use node_view::render_node_plan;
pub use plan_view::{render_plan, render_plan_table};
pub use printer::{Printer, Verbosity};
pub use prompter::{PromptError, Prompter, ScriptedPrompter, SystemPrompter};
pub use reporter::{Reporter, Status, TextReporter, Wait};
pub use style::{stderr_is_term, Style};
pub use table::Table;
