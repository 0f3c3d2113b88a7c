//! The code-snapshot step carried out: the project listed, copied by rsync over the shared
//! connection (or file by file over SFTP), finished on the cluster, and `latest` moved only once
//! every file arrived; `hpcinit sync --verify` and doctor compare a snapshot with its manifest.
//! Touches the cluster's snapshot directory and reads the person's project.

mod finish;
mod patch;
mod rsync_run;
mod sent;
mod sftp_fill;
mod sync_task;
mod verify;

pub use patch::diff;
pub use sync_task::{latest, Latest, SyncTask};
pub use verify::{verify, Verified};
