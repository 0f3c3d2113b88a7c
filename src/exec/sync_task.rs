//! The code-snapshot step: lists the project's files as they are now, and unless `latest` on the
//! cluster already holds exactly them, fills a new snapshot over the run's connection — rsync
//! with `--link-dest` over OpenSSH, or SFTP plus remote hard links over ssh2 — then has the
//! cluster check what arrived against the manifest, rename it into place and move `latest`.
//! Reads the project directory; on the cluster it writes only under
//! `~/scratch/code-snapshots/<project>/`.

use super::rsync_run::{self, RsyncVersion};
use super::{Applied, Check, Context, StepError, Task};
use crate::local::project::{self, EntryKind, GitState, Scan};
use crate::plan::snapshot::{human_bytes, SyncPlan};
use crate::plan::Action;
use crate::remote::script::tagged;
use crate::remote::Script;
use std::collections::BTreeMap;

#[derive(Default)]
pub struct SyncTask {
    scan: Option<Scan>,
    /// What the finalize step reported, once it succeeded.
    finalized: Option<String>,
}

/// The snapshot directory as found on the cluster.
#[derive(Debug, Default)]
pub struct Latest {
    pub scratch: bool,
    pub name: Option<String>,
    pub sha: Option<String>,
    /// The manifest itself, when asked for.
    pub manifest: Option<Vec<u8>>,
    pub count: usize,
}

pub fn plan_of(cx: &Context) -> SyncPlan {
    match cx.step("sync").action {
        Action::Sync(p) => p,
        _ => unreachable!("the sync step holds a sync"),
    }
}

impl Task for SyncTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        if let Some(done) = &self.finalized {
            return Ok(Check::Done(done.clone()));
        }
        let p = plan_of(cx);
        let scan = scan_now(cx, &p)?;
        let Some(facts) = &cx.facts else {
            // Without a probe (`hpcinit sync`), no round trip just to look: the copy goes
            // ahead, and the cluster finds an unchanged project when it checks the copy.
            self.scan = Some(scan);
            return Ok(Check::Needed("the latest snapshot is checked after the copy".into()));
        };
        if !facts.path("home-scratch").is_dir() {
            return Err(no_scratch(cx));
        }
        let latest = latest(cx, &p, false)?;
        let sha = scan.manifest_sha();
        let found = match (&latest.name, &latest.sha) {
            (Some(name), Some(s)) if *s == sha => Some(format!(
                "{}/latest ({name}) already holds this code ({} files, {})",
                p.snapshots,
                scan.files(),
                human_bytes(scan.bytes())
            )),
            _ => None,
        };
        self.scan = Some(scan);
        Ok(match found {
            Some(f) => Check::Done(f),
            None => Check::Needed("the code differs from the latest snapshot".into()),
        })
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let p = plan_of(cx);
        let scan = self.scan.take().expect("checked before applying");
        let sent = match cx.remote().rsync_shell() {
            Some(shell) => {
                let version = RsyncVersion::local().map_err(|why| StepError::Cluster {
                    what: "the code snapshot".into(),
                    detail: format!("this machine's rsync cannot be used: {why}"),
                    hint: "install rsync 3 (macOS: `brew install rsync`; Debian/Ubuntu: `sudo apt install rsync`), or copy over SFTP with --transport ssh2".into(),
                    usage: true,
                })?;
                if cx.facts.as_ref().is_some_and(|f| !f.has("rsync")) {
                    return Err(StepError::Cluster {
                        what: "the code snapshot".into(),
                        detail: "the cluster has no rsync on PATH".into(),
                        hint: "copy over SFTP instead: run again with --transport ssh2".into(),
                        usage: true,
                    });
                }
                rsync_fill(cx, &p, &scan, version, &shell)?
            }
            None => super::sftp_fill::fill(cx, &p, &scan)?,
        };
        let (done, unchanged) = finalize(cx, &p, &scan, &sent)?;
        self.finalized = Some(done.clone());
        Ok(if unchanged { Applied::Unchanged(done) } else { Applied::Changed(done) })
    }
}

/// What the copy sent.
pub struct Sent {
    pub files: u64,
    pub bytes: u64,
}

fn scan_now(cx: &mut Context, p: &SyncPlan) -> Result<Scan, StepError> {
    if let Some(problem) = &p.problem {
        return Err(StepError::Cluster {
            what: "the code snapshot".into(),
            detail: format!("{problem}; hpcinit does not copy it"),
            hint: "run hpcinit in your project's folder, or pass --project-dir DIR".into(),
            usage: true,
        });
    }
    let scan = project::scan(std::path::Path::new(&p.root), &p.excludes).map_err(|e| StepError::Cluster {
        what: "listing the project".into(),
        detail: e.to_string(),
        hint: e.hint(),
        usage: true,
    })?;
    cx.reporter.trace(&format!("{} files, {} to snapshot", scan.files(), human_bytes(scan.bytes())));
    Ok(scan)
}

fn no_scratch(cx: &Context) -> StepError {
    let site = cx.profile.name();
    StepError::Cluster {
        what: "the code snapshot".into(),
        detail: "~/scratch is missing on the cluster, and snapshots belong on scratch, not in your home"
            .into(),
        hint: format!("run `hpcinit --site {site}` first: it links ~/scratch to the site's scratch"),
        usage: false,
    }
}

/// The snapshot directory's state: from the probe when there was one, else by one plain-shell
/// round trip (which also returns the manifest when `with_manifest`).
pub fn latest(cx: &mut Context, p: &SyncPlan, with_manifest: bool) -> Result<Latest, StepError> {
    if let (Some(f), false) = (&cx.facts, with_manifest) {
        let link = f.path("snapshot-latest");
        let manifest = format!("{}/latest/.hpcinit-manifest", p.snapshots);
        return Ok(Latest {
            scratch: f.path("home-scratch").is_dir(),
            name: link.target.clone(),
            sha: f.files.get(&manifest).cloned().flatten().map(|s| s.sha),
            manifest: None,
            count: 0,
        });
    }
    let script = Script::new("look at the code snapshots", p.check_body(with_manifest)).plain();
    let out = cx.run_script(&script, &mut |_| {})?;
    let mut l = Latest::default();
    for (tag, payload) in out.stdout.lines().filter_map(tagged) {
        match tag {
            "scratch" => l.scratch = payload == "yes",
            "latest" if payload != "-" => {
                let mut w = payload.split_whitespace();
                l.name = w.next().map(String::from);
                l.sha = w.next().map(String::from);
            }
            "manifest" => l.manifest = decode64(payload),
            "count" => l.count = payload.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    if out.status != 0 {
        return Err(StepError::RemoteCommand {
            what: "looking at the code snapshots".into(),
            status: out.status,
            stderr: out.stderr.trim().to_string(),
        });
    }
    Ok(l)
}

fn rsync_fill(
    cx: &mut Context,
    p: &SyncPlan,
    scan: &Scan,
    version: RsyncVersion,
    shell: &crate::remote::RsyncShell,
) -> Result<Sent, StepError> {
    cx.round_trips += 1;
    cx.reporter.trace(&format!("remote: {}", crate::quote::sh_words(&p.rsync)));
    let mut bar = cx.reporter.progress(&format!("copying {} files", scan.files()), 100);
    let stats = rsync_run::run(version, shell, &p.rsync, &scan.rsync_excludes(), &mut |pr| {
        bar.stage(
            pr.percent.min(100),
            &format!("{}% ({} checked or sent)", pr.percent, human_bytes(pr.bytes)),
        );
    });
    drop(bar);
    let stats = stats.map_err(|f| {
        let missing = f.stderr.contains("~/scratch is missing");
        let tail: Vec<&str> = f.stderr.lines().rev().take(6).collect();
        let detail = format!(
            "rsync exited {}: {}{}",
            f.status,
            rsync_run::meaning(f.status),
            if tail.is_empty() {
                String::new()
            } else {
                format!("\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            }
        );
        if missing {
            return no_scratch(cx);
        }
        StepError::Cluster {
            what: "copying the code".into(),
            detail,
            hint: "run the same command again: what arrived is kept and reused, and latest still names the previous snapshot".into(),
            usage: false,
        }
    })?;
    cx.reporter.trace(&format!(
        "rsync: {} bytes sent, {} files transferred",
        stats.bytes_sent, stats.files_transferred
    ));
    Ok(Sent { files: stats.files_transferred, bytes: stats.bytes_sent })
}

fn finalize(cx: &mut Context, p: &SyncPlan, scan: &Scan, sent: &Sent) -> Result<(String, bool), StepError> {
    let git = project::git_state(std::path::Path::new(&p.root));
    let suffix = GitState::suffix(git.as_ref());
    let host = hostname();
    let marker = vec![
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
    let sha = scan.manifest_sha();
    let script =
        Script::new("check the copy and move latest", p.finalize_body(&sha, &suffix, &marker)).plain();
    let out = cx.run_script(&script, &mut |_| {})?;
    let mut name = None;
    let mut unchanged = None;
    let mut mismatch = false;
    let mut error = None;
    for (tag, payload) in out.stdout.lines().filter_map(tagged) {
        match tag {
            "snapshot" => name = Some(payload.to_string()),
            "unchanged" => unchanged = Some(payload.to_string()),
            "mismatch" => mismatch = true,
            "error" => error = Some(payload.to_string()),
            "moved" => cx.reporter.detail(&format!(
                "note: the directory {}/latest you made by hand is kept as {}/{payload}",
                p.snapshots, p.snapshots
            )),
            "pruned" => cx.reporter.detail(&format!("removed the old snapshot {payload} (--keep)")),
            "guarded" => cx.reporter.detail(&format!("kept {payload}: a queued or running job uses it")),
            _ => {}
        }
    }
    if mismatch {
        return Err(StepError::Cluster {
            what: "checking the copy".into(),
            detail: "what arrived on the cluster differs from the project's file list (did files change during the copy?); latest still names the previous snapshot".into(),
            hint: "run the same command again; only what differs is sent".into(),
            usage: false,
        });
    }
    if let Some(u) = unchanged {
        return Ok((format!("{}/latest ({u}) already holds this code; no new snapshot", p.snapshots), true));
    }
    let Some(name) = name.filter(|_| out.status == 0) else {
        return Err(StepError::Cluster {
            what: "finishing the snapshot".into(),
            detail: error.unwrap_or_else(|| format!("exit {}: {}", out.status, out.stderr.trim())),
            hint: "run the same command again; latest still names the previous snapshot".into(),
            usage: false,
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

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "this machine".into())
}

/// What differs between the local scan and a snapshot's manifest: (new, changed, deleted).
pub fn diff(scan: &Scan, manifest: &[u8]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let remote = project::parse_manifest(manifest);
    let mut local: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for e in &scan.entries {
        local.insert(e.rel.clone(), e.record());
    }
    let show = |p: &Vec<u8>| String::from_utf8_lossy(p).into_owned();
    let new = local.keys().filter(|k| !remote.contains_key(*k)).map(show).collect();
    let changed =
        local.iter().filter(|(k, r)| remote.get(*k).is_some_and(|x| x != *r)).map(|(k, _)| show(k)).collect();
    let deleted = remote.keys().filter(|k| !local.contains_key(*k)).map(show).collect();
    (new, changed, deleted)
}

/// Mode bits a snapshot's file gets: read-only, executable where it was.
pub fn snapshot_mode(kind: &EntryKind) -> i32 {
    match kind {
        EntryKind::File { executable: true, .. } => 0o555,
        _ => 0o444,
    }
}

pub fn decode64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s.trim()).ok()
}

pub fn encode64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}
