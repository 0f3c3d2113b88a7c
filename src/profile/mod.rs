//! Site profiles: what hpcinit knows about each cluster, with the URL each fact came from.

pub(crate) mod error;
#[allow(clippy::module_inception)]
mod profile;
pub mod raw;
mod registry;
pub mod retired;
pub mod scalar;

pub use error::ProfileError;
pub use profile::{Interactive, Nodes, Profile, ProfileSource};
pub use registry::{read_file, ProfileSet, BUILTIN_PROFILES};
