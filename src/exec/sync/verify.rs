//! `hpcinit sync --verify` and doctor's snapshot row: the full check a sync itself leaves to
//! rsync. The cluster lists the files `latest` holds (name, size, time; links and their
//! targets), in the manifest's own form, and compares that with the manifest the snapshot was
//! made with; hpcinit compares the manifest with the project as it is now. One round trip,
//! reading the cluster's snapshot directory and changing nothing.

use crate::exchange::tags;
use crate::exec::{Context, StepError};
use crate::local::project::Scan;
use crate::plan::snapshot::{SnapReport, SyncPlan};

/// What the check found.
#[derive(Debug)]
pub enum Verified {
    /// No snapshot yet.
    None,
    /// `latest` holds exactly its manifest; `current` when that is also the project now.
    Intact { name: String, current: bool },
    /// `latest`'s files differ from its manifest: what differs from the project, as
    /// `+ path`, `~ path`, `- path` lines.
    Damaged { name: String, differences: Vec<String> },
}

/// Runs the check on the cluster; `scan` is the project now.
pub fn verify(cx: &mut Context, p: &SyncPlan, scan: &Scan) -> Result<Verified, StepError> {
    let script = &p.scripts.verify;
    let out = cx.run_script(script, &mut |_| {})?;
    if out.status != 0 {
        return Err(StepError::RemoteCommand {
            what: "comparing the snapshot with its manifest".into(),
            status: out.status,
            stderr: out.stderr.trim().to_string(),
        });
    }
    let mut found = None;
    let mut listing = None;
    for r in tags::<SnapReport>(&out.stdout) {
        match r {
            SnapReport::Verify(name, recorded, held) => found = Some((name, recorded, held)),
            SnapReport::Listing(l) => listing = super::patch::decode64(&l),
            _ => {}
        }
    }
    let Some((name, recorded, held)) = found else { return Ok(Verified::None) };
    if recorded == held {
        return Ok(Verified::Intact { current: recorded == scan.manifest_sha(), name });
    }
    let (new, changed, deleted) = super::patch::diff(scan, listing.as_deref().unwrap_or_default());
    let mut differences = Vec::new();
    for (mark, list) in [("+", &new), ("~", &changed), ("-", &deleted)] {
        differences.extend(list.iter().map(|path| format!("{mark} {path}")));
    }
    Ok(Verified::Damaged { name, differences })
}
