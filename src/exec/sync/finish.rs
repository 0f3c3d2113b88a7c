//! The end of the code-snapshot step: the marker lines and name suffix a snapshot gets, the
//! files rsync brings along to finish it on its own connection (the manifest and the finishing
//! script, written to a temporary directory on this machine), the finishing script of the SFTP
//! route and of a copy started early (one round trip: check what arrived against the manifest,
//! rename, move `latest`), and what the cluster reported, as the step's result.

use super::sent::Sent;
use crate::exchange::tags;
use crate::exec::{Context, StepError};
use crate::local::project::{self, GitState, Scan};
use crate::plan::snapshot::{human_bytes, SnapReport, SyncPlan, FINISH, MANIFEST};

/// The files sent beside the project's (its manifest and the finishing script), in a
/// temporary directory removed when dropped.
pub struct Sidecar(tempfile::TempDir);

impl Sidecar {
    /// The manifest's modification time is taken from its hash, not the clock: rsync skips a
    /// file of the same size and time, and two manifests of the same size made in the same
    /// second (an edit that kept a file's size, synced twice within a second) would otherwise
    /// leave the old one in place. The same manifest gets the same time, so rsync still skips
    /// it when nothing changed.
    pub fn write(manifest: &[u8], sha: &str, finish: &str) -> std::io::Result<Sidecar> {
        let dir = tempfile::Builder::new().prefix("hpcinit-sync.").tempdir()?;
        let path = dir.path().join(MANIFEST);
        let mut file = std::fs::File::create(&path)?;
        std::io::Write::write_all(&mut file, manifest)?;
        file.set_modified(time_of(sha))?;
        std::fs::write(dir.path().join(FINISH), finish)?;
        Ok(Sidecar(dir))
    }

    pub fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

/// A time between 2001 and 2033 drawn from the manifest's hash `sha` (hex; see
/// [`Sidecar::write`]).
fn time_of(sha: &str) -> std::time::SystemTime {
    let n = u32::from_str_radix(sha.get(..8).unwrap_or("0"), 16).unwrap_or(0) % 1_000_000_000;
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000 + u64::from(n))
}

/// The snapshot's name suffix and marker lines, as the project is now.
pub fn marker(p: &SyncPlan, scan: &Scan, git: Option<GitState>) -> (String, Vec<String>) {
    let suffix = GitState::suffix(git.as_ref());
    let host = crate::local::host::hostname().unwrap_or_else(|| "this machine".into());
    let lines = vec![
        format!("source: {host}:{}", p.root),
        match &git {
            Some(g) => {
                format!("git: {}{}", g.short_sha, if g.dirty { " (with uncommitted changes)" } else { "" })
            }
            None => "git: none".into(),
        },
        format!("files: {}", scan.files()),
        format!("bytes: {}", scan.bytes()),
        format!("made-by: hpcinit {}", env!("CARGO_PKG_VERSION")),
    ];
    (suffix, lines)
}

/// The marker line of a snapshot that had to send files whose record did not change (see
/// `local::sync_index`); the cluster makes a new snapshot for it even when the manifest equals
/// `latest`'s.
pub fn resent_line(resent: usize) -> Option<String> {
    (resent > 0).then(|| format!("resent: {resent} changed file(s) whose size and time stayed the same"))
}

/// Checks what arrived against the manifest on the cluster, then finishes the snapshot (the
/// SFTP route and a copy started early, after `patch`).
pub fn finalize(
    cx: &mut Context,
    p: &SyncPlan,
    scan: &Scan,
    sent: &Sent,
    patch: Vec<String>,
    resent: usize,
) -> Result<(String, bool), StepError> {
    let (suffix, mut marker) = marker(p, scan, project::git_state(std::path::Path::new(&p.root)));
    marker.extend(resent_line(resent));
    let script =
        p.scripts.finalize.clone().arg(scan.manifest_sha()).arg(suffix).and_args(patch).and_args(marker);
    let out = cx.run_script(&script, &mut |_| {})?;
    let reports = tags::<SnapReport>(&out.stdout);
    outcome(cx, p, scan, sent, reports, out.status, &out.stderr)
}

/// What the finishing script reported, as the step's result.
pub fn outcome(
    cx: &mut Context,
    p: &SyncPlan,
    scan: &Scan,
    sent: &Sent,
    reports: Vec<SnapReport>,
    status: i32,
    stderr: &str,
) -> Result<(String, bool), StepError> {
    let mut name = None;
    let mut unchanged = None;
    let mut mismatch = false;
    let mut error = None;
    for report in reports {
        match report {
            SnapReport::Snapshot(n) => name = Some(n),
            SnapReport::Unchanged(u) => unchanged = Some(u),
            SnapReport::Mismatch => mismatch = true,
            SnapReport::Error(e) => error = Some(e),
            SnapReport::Moved(kept) => cx.reporter.detail(&format!(
                "note: the directory {}/latest you made by hand is kept as {}/{kept}",
                p.snapshots, p.snapshots
            )),
            SnapReport::Pruned(s) => cx.reporter.detail(&format!("removed the old snapshot {s} (--keep)")),
            SnapReport::Guarded(s) => {
                cx.reporter.detail(&format!("kept {s}: a queued or running job uses it"))
            }
            _ => {}
        }
    }
    if mismatch {
        return Err(StepError::Cluster {
            what: "checking the copy".into(),
            detail: "what arrived on the cluster differs from the project's file list (did files change during the copy?); latest still names the previous snapshot".into(),
            hint: "run the same command again; only what differs is sent".into(),
        });
    }
    if let Some(u) = unchanged {
        return Ok((format!("{}/latest ({u}) already holds this code; no new snapshot", p.snapshots), true));
    }
    let Some(name) = name.filter(|_| status == 0) else {
        let stderr: Vec<&str> = stderr.lines().filter(|l| crate::exchange::tagged(l).is_none()).collect();
        return Err(StepError::Cluster {
            what: "finishing the snapshot".into(),
            detail: error.unwrap_or_else(|| format!("exit {status}: {}", stderr.join("\n").trim())),
            hint: "run the same command again; latest still names the previous snapshot".into(),
        });
    };
    let linked = scan.files() as u64 - sent.files.min(scan.files() as u64);
    Ok((
        format!(
            "{}/{name} ({} files; {} sent for {} changed, {} hard-linked); latest → {name}",
            p.snapshots,
            scan.files(),
            human_bytes(sent.bytes),
            sent.files,
            linked
        ),
        false,
    ))
}
