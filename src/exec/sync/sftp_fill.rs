//! The SFTP route for code snapshots, where the run's transport is ssh2 (no system OpenSSH or
//! rsync): the cluster makes `.hpcinit-incoming` from hard links to `latest` (and to an
//! interrupted copy) and lists it; hpcinit compares that list with the project's files by size
//! and modification time, has the cluster remove what differs, and sends only the files that
//! changed, each under a temporary name renamed into place. Reads the project directory; on
//! the cluster writes only in the snapshot directory.

use super::patch::{decode64, encode64, snapshot_mode};
use super::sent::Sent;
use crate::exchange::tags;
use crate::exec::{Context, StepError};
use crate::local::manifest::parse_manifest;
use crate::local::project::{EntryKind, Scan};
use crate::plan::snapshot::{human_bytes, SnapReport, SyncPlan, INCOMING};
use std::path::Path;

pub fn fill(cx: &mut Context, p: &SyncPlan, scan: &Scan) -> Result<Sent, StepError> {
    let out = cx.run_script(&p.scripts.prepare, &mut |_| {})?;
    let reports = tags::<SnapReport>(&out.stdout);
    let listing = reports.iter().find_map(|r| match r {
        SnapReport::Listing(b) => decode64(b),
        _ => None,
    });
    let Some(listing) = listing.filter(|_| out.status == 0) else {
        if reports.contains(&SnapReport::NoScratch) {
            return Err(StepError::Cluster {
                what: "the code snapshot".into(),
                detail: "~/scratch is missing on the cluster".into(),
                hint: format!("run `hpcinit --site {}` first", cx.plan.site),
            });
        }
        return Err(StepError::RemoteCommand {
            what: "preparing the snapshot".into(),
            status: out.status,
            stderr: out.stdout.trim().to_string(),
        });
    };
    let Differences { remove, links, uploads } = differences(scan, &listing);
    if !remove.is_empty() || !links.is_empty() {
        let fix = p.scripts.fix.clone().arg(encode64(&remove)).arg(encode64(&links));
        let out = cx.run_script(&fix, &mut |_| {})?;
        if out.status != 0 {
            return Err(StepError::RemoteCommand {
                what: "preparing the snapshot".into(),
                status: out.status,
                stderr: out.stdout.trim().to_string(),
            });
        }
    }
    let sent = send(cx, p, &uploads)?;
    Ok(Sent { files: uploads.len() as u64, bytes: sent })
}

/// What the cluster's copy lacks: paths to remove and links to make (NUL-separated), and the
/// files to send.
struct Differences<'a> {
    remove: Vec<u8>,
    links: Vec<u8>,
    uploads: Vec<&'a crate::local::project::Entry>,
}

fn differences<'a>(scan: &'a Scan, listing: &[u8]) -> Differences<'a> {
    let there = parse_manifest(listing);
    let mut remove: Vec<u8> = Vec::new();
    let mut links: Vec<u8> = Vec::new();
    let mut uploads = Vec::new();
    let mut wanted = std::collections::BTreeSet::new();
    for e in &scan.entries {
        wanted.insert(e.rel.clone());
        let record = e.record();
        match there.get(&e.rel) {
            Some(r) if *r == record => continue,
            Some(_) => {
                remove.extend(&e.rel);
                remove.push(0);
            }
            None => {}
        }
        match &e.kind {
            EntryKind::Link { target } => {
                links.extend(&e.rel);
                links.push(0);
                links.extend(target);
                links.push(0);
            }
            EntryKind::File { .. } => uploads.push(e),
        }
    }
    for path in there.keys().filter(|k| !wanted.contains(*k)) {
        remove.extend(path);
        remove.push(0);
    }
    Differences { remove, links, uploads }
}

/// Sends `uploads` over SFTP, each under a temporary name renamed into place; the bytes sent.
fn send(cx: &mut Context, p: &SyncPlan, uploads: &[&crate::local::project::Entry]) -> Result<u64, StepError> {
    let total: u64 = uploads
        .iter()
        .map(|e| match e.kind {
            EntryKind::File { size, .. } => size,
            _ => 0,
        })
        .sum();
    cx.round_trips += 1;
    cx.reporter.trace(&format!("remote: SFTP: {} files, {}", uploads.len(), human_bytes(total)));
    let limit = p.bwlimit.as_ref().map(|b| b.bytes_per_second);
    let root = Path::new(&p.root).to_path_buf();
    let dest = format!("{}/{INCOMING}", p.dir);
    let mut sent = 0u64;
    let mut bar = cx.reporter.progress(&format!("sending {} changed files over SFTP", uploads.len()), 100);
    let mut result = Ok(());
    {
        let (remote, _) = cx.remote_and_prompter();
        let mut up = match remote.sftp() {
            Ok(Some(up)) => up,
            Ok(None) => {
                return Err(StepError::Cluster {
                    what: "the code snapshot".into(),
                    detail: "this connection has no SFTP channel to send the files over".into(),
                    hint: "run the same command with --transport ssh (rsync over OpenSSH)".into(),
                })
            }
            Err(e) => return Err(StepError::Remote { error: e, hint: "run the same command again".into() }),
        };
        for e in uploads {
            let rel = String::from_utf8_lossy(&e.rel).into_owned();
            let target = format!("{dest}/{rel}");
            if let Some((parent, _)) = target.rsplit_once('/') {
                if let Err(err) = up.mkdir_p(parent) {
                    result = Err(err);
                    break;
                }
            }
            let EntryKind::File { mtime, .. } = e.kind else { continue };
            let r = up.put(&root.join(&rel), &target, snapshot_mode(&e.kind), mtime, limit, &mut |n| {
                sent += n;
                let pct = (sent * 100).checked_div(total).unwrap_or(100);
                bar.stage(pct, &format!("{pct}% ({} of {})", human_bytes(sent), human_bytes(total)));
            });
            if let Err(err) = r {
                result = Err(err);
                break;
            }
        }
    }
    drop(bar);
    result.map_err(|e| StepError::Remote {
        error: e,
        hint: "run the same command again: what arrived is kept and reused, and latest still names the previous snapshot".into(),
    })?;
    Ok(sent)
}
