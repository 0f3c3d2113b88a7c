//! The executor: carries out a plan's steps in order, each as check → apply → verify. A step
//! whose check passes reports `unchanged`; one whose check still fails after applying has
//! failed. Re-running is how a stopped run resumes. It touches the person's `~/.ssh` and the
//! cluster, always through the plan's exact texts and commands.

mod busy_retry;
mod check_job_task;
mod connect_task;
mod context;
mod error;
mod host_key_task;
mod interactive_job;
mod job_templates_task;
pub mod jupyter_session;
mod key_task;
pub mod lock_task;
pub mod node_session;
mod probe_task;
mod python_task;
mod register_key_task;
mod remote_layout_task;
mod run;
mod ssh_config_task;
pub mod sync;
mod task;
mod vscode_settings;
mod windows_ssh_task;

pub use crate::settings::{OnExisting, Transport};
pub use context::{Context, Options, Proof, Replan};
pub use error::StepError;
pub use run::{check_only, ensure, run, step_ids, StepFailed};
pub use task::{Applied, Check, Task};

/// Seconds since the epoch, as the records of interactive jobs keep them.
pub fn interactive_now() -> u64 {
    interactive_job::now()
}
