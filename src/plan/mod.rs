//! The plan: every step of a bootstrap and what it will change, decided by one pure function
//! from the profile, the person's answers and the facts found on both machines. `hpcinit plan`
//! prints it; the executor will carry it out step by step.

mod check_job_step;
pub mod compare;
pub mod course_probe;
pub mod directives;
pub mod doctor;
pub mod environment;
mod error;
pub mod facts;
mod job_parts;
pub mod job_script;
pub mod jupyter;
pub mod layout;
mod lock_step;
pub mod module_choice;
pub mod modules;
pub mod node;
pub mod pins;
#[allow(clippy::module_inception)]
mod plan;
pub mod probe;
mod probe_step;
pub mod python;
pub mod register_key;
pub mod scheduler;
pub mod script_text;
pub mod smoke;
pub mod snapshot;
mod snapshot_step;
pub mod specifier;
pub mod ssh_config;
mod ssh_steps;
pub mod step;
pub mod templates;
mod templates_step;
pub mod uninstall;
pub mod venv_build;
pub mod windows_ssh;

pub use error::PlanError;
pub use facts::{LocalFacts, RemoteFacts};
pub use lock_step::lock_site;
pub use module_choice::ModuleChoice;
pub use plan::{build, Plan, Unverified};
pub use probe_step::scheduler_commands;
pub use ssh_steps::{host_blocks, node_block, REGISTER_KEY_SH};
pub use step::*;
