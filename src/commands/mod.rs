//! One function per command; each reads the world through `Env` and prints through the
//! session's `Printer`.

pub mod answers;
pub mod check_job;
pub mod course;
pub mod diff;
pub mod doctor;
pub mod inputs;
mod interactive;
pub mod jupyter;
pub mod lock;
pub mod man;
pub mod node;
pub mod plan;
pub mod profiles;
mod session;
pub mod setup;
pub mod sync;
pub mod uninstall;
pub mod wizard;

pub use session::{load_profiles, with_context, Session};
