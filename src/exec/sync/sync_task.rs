//! The code-snapshot step: lists the project's files as they are now, and unless `latest` on the
//! cluster already holds exactly them, fills a new snapshot over the run's connection — rsync
//! with `--link-dest` over OpenSSH, or SFTP plus remote hard links over ssh2 — then has the
//! cluster check what arrived against the manifest, rename it into place and move `latest`.
//! Reads the project directory; on the cluster it writes only under
//! `~/scratch/code-snapshots/<project>/`.

use super::finish::{finalize, marker, outcome, resent_line, Sidecar};
use super::patch::{decode64, puts_of, Patch};
use super::rsync_run::{self, Failed, Input, RsyncVersion, Stats};
use super::sent::Sent;
use crate::exchange::tags;
use crate::exec::{Applied, Check, Context, StepError, Task};
use crate::exit::Diagnostic;
use crate::local::project::{self, GitState, Scan};
use crate::local::sync_index::Changes;
use crate::plan::facts::ProbePath;
use crate::plan::snapshot::CopyRoute;
use crate::plan::snapshot::{
    human_bytes, no_patch, patch_args, SnapReport, SyncPlan, FINISH, MANIFEST, SIDECAR,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct SyncTask {
    /// The plan this task was made from; [`SyncTask::planned`] prefers the newest.
    plan: SyncPlan,
    scan: Option<Scan>,
    /// What the finalize step reported, once it succeeded.
    finalized: Option<String>,
    /// The copy started before the step's turn: the files as listed then, and rsync's run.
    early: Option<Early>,
    /// The local rsync's version and the project's commit, looked up while the project is
    /// listed.
    aside: Option<Asking>,
    /// The project listed while signing in, when there is no probe to wait for (`hpcinit
    /// sync`), with the time it took.
    listing: Option<JoinHandle<Listed>>,
    /// The files whose record is unchanged but which changed all the same (see
    /// `local::sync_index`), found when checking.
    unseen: Vec<Vec<u8>>,
    /// The last listing's index, read beside this one's listing.
    index: Option<JoinHandle<Option<crate::local::sync_index::SyncIndex>>>,
    /// This listing's index, written beside the copy; put in place once the snapshot exists.
    recording: Option<JoinHandle<std::io::Result<crate::local::sync_index::Prepared>>>,
    /// What changed since the snapshot the last index describes (its manifest's hash first).
    changes: Option<(String, Changes)>,
    /// The listing's manifest and its SHA-256, made once.
    manifest: Option<(Vec<u8>, String)>,
    /// A copy of the changes, started as soon as the connection was found open, waiting for
    /// its list (`hpcinit sync`).
    primed: Option<Primed>,
}

/// The index of the last snapshot from this machine, for this project on this site.
fn index_path(cx: &Context, p: &SyncPlan) -> std::path::PathBuf {
    let key =
        crate::local::manifest::hex_sha256(format!("{}\0{}\0{}", cx.plan.site, p.root, p.dir).as_bytes());
    crate::local::sync_index::path(cx.env, &cx.plan.site, &key[..16])
}

/// A listing made beside other work: the files, how long it took, and when it ended in the run.
type Listed = (Result<Scan, project::ProjectError>, std::time::Duration, std::time::Duration);

/// Where the local rsync's version is remembered ([`RsyncVersion::local_remembered`]).
fn rsync_cache(cx: &Context) -> std::path::PathBuf {
    crate::local::state::dir(cx.env).join("rsync-version")
}

/// What the copy needs besides the listing.
struct Aside {
    rsync: Result<RsyncVersion, String>,
    git: Option<GitState>,
}

/// [`Aside`], being looked up: each part on a thread of its own, the rsync version wanted first
/// (a copy may start before the project's commit is known).
struct Asking {
    rsync: Option<JoinHandle<Result<RsyncVersion, String>>>,
    version: Option<Result<RsyncVersion, String>>,
    git: JoinHandle<Option<GitState>>,
}

impl Asking {
    fn start(cx: &Context, root: &str) -> Asking {
        let root = std::path::PathBuf::from(root);
        let cache = rsync_cache(cx);
        Asking {
            rsync: Some(std::thread::spawn(move || RsyncVersion::local_remembered(&cache))),
            version: None,
            git: std::thread::spawn(move || project::git_state(&root)),
        }
    }

    fn version(&mut self) -> Result<RsyncVersion, String> {
        if let Some(h) = self.rsync.take() {
            self.version = Some(h.join().unwrap_or_else(|_| Err("looking up rsync failed".into())));
        }
        self.version.clone().unwrap_or_else(|| Err("rsync was not looked up".into()))
    }

    fn join(mut self) -> Aside {
        Aside { rsync: self.version(), git: self.git.join().ok().flatten() }
    }
}

/// A copy of what changed since `base`, started before the project's listing ended
/// ([`SyncTask::head_start`]): rsync starts, reaches the cluster and has the copy of `base` made
/// there while the project is listed; the list of files goes to its standard input once known.
/// Dropped without [`Primed::collect`], the list given is empty: rsync copies nothing and the
/// cluster keeps the copy of `base` for the next sync (see `rsync_path_changes`).
struct Primed {
    base: String,
    list: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    copy: Option<Background>,
}

impl Primed {
    /// Gives rsync `list` and waits for it, showing its progress.
    fn collect(mut self, cx: &mut Context, scan: &Scan, list: Vec<u8>) -> Result<Stats, Failed> {
        cx.round_trips += 1;
        if let Some(tx) = self.list.take() {
            let _ = tx.send(list);
        }
        let copy = self.copy.take().expect("collected once");
        copy.wait(cx, &format!("copying {} files", scan.files()))
    }
}

impl Drop for Primed {
    fn drop(&mut self) {
        // An empty list, and rsync's end waited for: the cluster's side is done with the copy
        // of `base` before anything else touches the snapshot directory.
        self.list.take();
        if let Some(copy) = self.copy.take() {
            let _ = copy.copy.join();
        }
    }
}

/// An rsync running on a thread of its own, its last progress (percent, bytes) kept for the
/// step's progress bar.
struct Background {
    copy: JoinHandle<Result<Stats, Failed>>,
    progress: Arc<(AtomicU64, AtomicU64)>,
}

impl Background {
    fn start(
        version: RsyncVersion,
        shell: crate::remote::RsyncShell,
        args: Vec<String>,
        input: Input,
        watch: Option<crate::remote::Liveness>,
    ) -> Background {
        let progress = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let seen = Arc::clone(&progress);
        let copy = std::thread::spawn(move || {
            rsync_run::run(version, &shell, &args, None, input, watch, &mut |pr| {
                seen.0.store(pr.percent.min(100), Ordering::Relaxed);
                seen.1.store(pr.bytes, Ordering::Relaxed);
            })
        });
        Background { copy, progress }
    }

    /// Waits for rsync, showing its progress under `title` (looked at every 2 ms at first, a
    /// small copy's end is not waited for; every 20 ms after a while).
    fn wait(self, cx: &mut Context, title: &str) -> Result<Stats, Failed> {
        let Background { copy, progress } = self;
        let mut bar = cx.reporter.progress(title, 100);
        let mut pause = std::time::Duration::from_millis(2);
        while !copy.is_finished() {
            let (pct, bytes) = (progress.0.load(Ordering::Relaxed), progress.1.load(Ordering::Relaxed));
            bar.stage(pct, &format!("{pct}% ({} checked or sent)", human_bytes(bytes)));
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(20));
        }
        drop(bar);
        copy.join().unwrap_or_else(|_| {
            Err(Failed { status: -1, stderr: "rsync's thread stopped".into(), stalled: false })
        })
    }
}

struct Early {
    /// The files as listed when it started.
    scan: Scan,
    copy: Background,
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

impl SyncTask {
    pub fn new(plan: &SyncPlan) -> SyncTask {
        SyncTask {
            plan: plan.clone(),
            scan: None,
            finalized: None,
            early: None,
            aside: None,
            listing: None,
            unseen: Vec::new(),
            index: None,
            recording: None,
            changes: None,
            manifest: None,
            primed: None,
        }
    }

    /// The step as the newest plan has it.
    fn planned(&self, cx: &Context) -> SyncPlan {
        cx.plan.sync().unwrap_or(&self.plan).clone()
    }
}

impl Task for SyncTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        if let Some(done) = &self.finalized {
            return Ok(Check::Done(done.clone()));
        }
        let p = self.planned(cx);
        if p.problem.is_none() && self.aside.is_none() {
            self.aside = Some(Asking::start(cx, &p.root));
        }
        let listed = self.listing.take().filter(|_| cx.facts.is_none()).and_then(|h| h.join().ok());
        let scan = scan_now(cx, &p, listed)?;
        let began = std::time::Instant::now();
        let index = match self.index.take() {
            Some(reading) => reading.join().ok().flatten(),
            None => crate::local::sync_index::load(&index_path(cx, &p)),
        };
        self.changes = index.map(|index| (index.base.clone(), index.changes(&scan)));
        self.unseen = self.changes.as_ref().map(|(_, c)| c.unseen.clone()).unwrap_or_default();
        cx.reporter.trace(&format!(
            "the last listing compared in {} ms (read beside it)",
            began.elapsed().as_millis()
        ));
        let manifest = scan.manifest();
        let sha = crate::local::manifest::hex_sha256(&manifest);
        self.recording = Some(record_later(cx, &p, &scan, &sha));
        if !self.unseen.is_empty() {
            cx.reporter.trace(&format!(
                "{} file(s) changed without a new size or time (an edit in the same second, `touch -r`): sent whatever rsync's quick check says",
                self.unseen.len()
            ));
        }
        let Some(facts) = &cx.facts else {
            // Without a probe (`hpcinit sync`), no round trip just to look: the copy goes
            // ahead, and the cluster finds an unchanged project when it checks the copy.
            self.scan = Some(scan);
            self.manifest = Some((manifest, sha));
            return Ok(Check::Needed("the latest snapshot is checked after the copy".into()));
        };
        if !facts.path(ProbePath::HomeScratch).is_dir() {
            return Err(no_scratch(cx));
        }
        let latest = latest(cx, &p, false)?;
        let found = match (&latest.name, &latest.sha) {
            (Some(name), Some(s)) if *s == sha && self.unseen.is_empty() => Some(format!(
                "{}/latest ({name}) already holds this code ({} files, {})",
                p.snapshots,
                scan.files(),
                human_bytes(scan.bytes())
            )),
            _ => None,
        };
        if found.is_some() {
            self.commit_index(cx);
        }
        self.scan = Some(scan);
        self.manifest = Some((manifest, sha));
        Ok(match found {
            Some(f) => Check::Done(f),
            None => Check::Needed("the code differs from the latest snapshot".into()),
        })
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let p = self.planned(cx);
        let scan = self.scan.take().expect("checked before applying");
        let manifest = self.manifest.take().expect("checked before applying");
        // Files rsync's quick check would skip are sent as the finishing script's files when
        // small together, else rsync compares every file (`--ignore-times`).
        let resend = match self.unseen.is_empty() {
            true => Resend::Nothing,
            false => match puts_of(&scan, &self.unseen, std::path::Path::new(&p.root), true) {
                Some(puts) => Resend::Files(puts),
                None => Resend::All(self.unseen.clone()),
            },
        };
        let early = match &resend {
            Resend::Nothing => self.early.take().and_then(|e| collect_early(cx, &p, e, &scan)),
            _ => {
                // The snapshot is finished with the files to resend: the head start only fills.
                if let Some(e) = self.early.take() {
                    let _ = e.copy.copy.join();
                }
                None
            }
        };
        let aside = self.aside.take().map(Asking::join);
        let (done, unchanged) = match early {
            Some((sent, patch)) => match (patch != no_patch(), finalize(cx, &p, &scan, &sent, patch, 0)) {
                (true, Err(e)) => {
                    // What the finishing script brought in did not give the listing: rsync
                    // makes it so, as without a head start.
                    cx.reporter.trace(&format!("the early copy did not finish cleanly ({e}); copying again"));
                    snapshot(cx, &p, (&scan, &manifest), aside, &resend, None, None)?
                }
                (_, r) => r?,
            },
            None => snapshot(
                cx,
                &p,
                (&scan, &manifest),
                aside,
                &resend,
                self.changes.as_ref(),
                self.primed.take(),
            )?,
        };
        self.commit_index(cx);
        self.finalized = Some(done.clone());
        Ok(if unchanged { Applied::Unchanged(done) } else { Applied::Changed(done) })
    }

    /// Once `~/scratch` is there and the code differs from `latest`: rsync starts filling the
    /// snapshot in the background (over the shared connection, its own channel), while the
    /// cluster builds the venv. What changes meanwhile (the lock file) follows in the
    /// finishing script, and the manifest check decides as always.
    fn head_start(&mut self, cx: &mut Context) -> bool {
        if self.early.is_some() || self.finalized.is_some() {
            return false;
        }
        let p = self.planned(cx);
        let Some(facts) = &cx.facts else {
            // No probe yet, and perhaps none to come (`hpcinit sync`): the project is listed,
            // and rsync and git are asked, while the connection is checked or made; once it is
            // open, the copy of what changed starts and waits for the listing.
            if self.listing.is_some() && self.primed.is_none() && cx.open {
                self.primed = prime(cx, &p, self.aside.as_mut());
                return false;
            }
            if self.listing.is_none() && p.problem.is_none() {
                self.aside = Some(Asking::start(cx, &p.root));
                let index = index_path(cx, &p);
                self.index = Some(std::thread::spawn(move || crate::local::sync_index::load(&index)));
                let (root, excludes) = (std::path::PathBuf::from(&p.root), p.excludes.clone());
                self.listing = Some(std::thread::spawn(move || {
                    let started = std::time::Instant::now();
                    let scan = project::scan(&root, &excludes);
                    (scan, started.elapsed(), crate::ui::run_clock::since_start())
                }));
                return true;
            }
            return false;
        };
        if !facts.path(ProbePath::HomeScratch).is_dir() || !facts.has("rsync") {
            return false;
        }
        if p.problem.is_some() {
            return false;
        }
        let Some(shell) = cx.remote().rsync_shell() else { return false };
        let Ok(version) = RsyncVersion::local_remembered(&rsync_cache(cx)) else { return false };
        let Ok(scan) = project::scan(std::path::Path::new(&p.root), &p.excludes) else { return false };
        match latest(cx, &p, false) {
            Ok(l) if l.sha.as_deref() != Some(scan.manifest_sha().as_str()) => {}
            _ => return false,
        }
        cx.reporter.trace(&format!(
            "remote, started early: {} ({} files)",
            crate::quote::sh_words(&p.rsync),
            scan.files()
        ));
        let Ok(excludes) = scan.rsync_excludes() else { return false };
        let copy = Background::start(version, shell, p.rsync.clone(), Input::Now(excludes), None);
        self.early = Some(Early { scan, copy });
        true
    }
}

/// Starts the copy of what changed since the last snapshot from here ([`Primed`]), when there is
/// an index to name its base and the copy goes over rsync.
fn prime(cx: &mut Context, p: &SyncPlan, aside: Option<&mut Asking>) -> Option<Primed> {
    if !cfg!(unix) || p.route != CopyRoute::Rsync || p.problem.is_some() || !cx.plan.connection.multiplex {
        return None;
    }
    let base = crate::local::sync_index::base_of(&index_path(cx, p))?;
    let version = aside?.version().ok()?;
    let shell = cx.remote().rsync_shell()?;
    let watch = if cx.lazy_proof { cx.remote().liveness() } else { None };
    let args = changes_args(&p.rsync, &crate::plan::snapshot::rsync_path_changes(&p.dir, &base));
    cx.reporter
        .trace(&format!("remote, started before the listing ended: {}", crate::quote::sh_words(&args)));
    let (tx, rx) = std::sync::mpsc::channel();
    let copy = Background::start(version, shell, args, Input::Later(rx), watch);
    Some(Primed { base, list: Some(tx), copy: Some(copy) })
}

/// Files to send whatever their record says (see `local::sync_index`).
enum Resend {
    Nothing,
    /// Small together: sent with the finishing script.
    Files(Vec<crate::plan::snapshot::Put>),
    /// Too many or too big for that (their paths): rsync compares every file's content.
    All(Vec<Vec<u8>>),
}

/// Writes this listing's index beside the copy (see `local::sync_index`).
fn record_later(
    cx: &Context,
    p: &SyncPlan,
    scan: &Scan,
    sha: &str,
) -> JoinHandle<std::io::Result<crate::local::sync_index::Prepared>> {
    let (path, index) = (index_path(cx, p), crate::local::sync_index::SyncIndex::of(scan, sha));
    std::thread::spawn(move || crate::local::sync_index::prepare(&path, &index))
}

impl SyncTask {
    /// Puts this listing's index in place: the snapshot (or `latest`, unchanged) holds it now.
    /// A failure costs only the next sync its index, so it is a trace.
    fn commit_index(&mut self, cx: &mut Context) {
        let Some(recording) = self.recording.take() else { return };
        let result = recording
            .join()
            .map_err(|_| std::io::Error::other("the writer stopped"))
            .and_then(|r| r?.commit());
        if let Err(e) = result {
            cx.reporter.trace(&format!("could not record the listing for the next sync: {e}"));
        }
    }
}

/// Makes the snapshot now. Over OpenSSH, rsync fills `.hpcinit-incoming` and its own connection
/// finishes it (one round trip); over ssh2, SFTP fills it and a script checks and finishes it.
/// Files in `resend` go with the finishing script (a second round trip, only then). With
/// `changes` since a snapshot the cluster may still hold a copy of, only they are sent
/// ([`copy_changes`]).
fn snapshot(
    cx: &mut Context,
    p: &SyncPlan,
    (scan, manifest): (&Scan, &(Vec<u8>, String)),
    aside: Option<Aside>,
    resend: &Resend,
    changes: Option<&(String, Changes)>,
    primed: Option<Primed>,
) -> Result<(String, bool), StepError> {
    // A copy started for changes that turn out not to be usable gets an empty list first.
    let changes = changes.filter(|_| cfg!(unix) && p.route == CopyRoute::Rsync);
    let primed = primed.filter(|pr| changes.is_some_and(|(base, _)| *base == pr.base));
    let shell = match p.route {
        CopyRoute::Rsync => cx.remote().rsync_shell(),
        CopyRoute::Sftp => None,
    };
    let puts = |all: bool| match resend {
        Resend::Files(puts) => (patch_args(b"", b"", puts), puts.len()),
        Resend::All(rels) if all => (no_patch(), rels.len()),
        _ => (no_patch(), 0),
    };
    let Some(shell) = shell else {
        let sent = super::sftp_fill::fill(cx, p, scan)?;
        let (patch, n) = match resend {
            // SFTP sends the files whole, however many.
            Resend::All(rels) => match puts_of(scan, rels, std::path::Path::new(&p.root), false) {
                Some(puts) => (patch_args(b"", b"", &puts), puts.len()),
                None => (no_patch(), 0),
            },
            _ => puts(false),
        };
        return finalize(cx, p, scan, &sent, patch, n);
    };
    let aside = aside.unwrap_or_else(|| Aside {
        rsync: RsyncVersion::local_remembered(&rsync_cache(cx)),
        git: project::git_state(std::path::Path::new(&p.root)),
    });
    let version = aside.rsync.map_err(|why| StepError::Local {
        what: "the code snapshot".into(),
        detail: format!("this machine's rsync cannot be used: {why}"),
        hint: "install rsync 3 (macOS: `brew install rsync`; Debian/Ubuntu: `sudo apt install rsync`), or copy over SFTP with --transport ssh2".into(),
    })?;
    if cx.facts.as_ref().is_some_and(|f| !f.has("rsync")) {
        return Err(StepError::NeedsChoice {
            what: "the code snapshot".into(),
            detail: "the cluster has no rsync on PATH".into(),
            hint: "copy over SFTP instead: run again with --transport ssh2".into(),
        });
    }
    if let Some(changes) = changes {
        let copy = CopyRun { version, shell: &shell, first: None, every_file: false, changes: None };
        if let Some(done) = copy_changes(cx, p, (scan, manifest), &copy, aside.git.clone(), changes, primed)?
        {
            return Ok(done);
        }
    }
    if let Resend::Files(_) = resend {
        // rsync fills `.hpcinit-incoming`; the finishing script brings the files and finishes.
        let copy = CopyRun { version, shell: &shell, first: None, every_file: false, changes: None };
        let stats = rsync_fill_proven(cx, p, scan, &copy, None)?;
        let sent = Sent { files: stats.files_transferred, bytes: stats.bytes_sent };
        let (patch, n) = puts(false);
        return finalize(cx, p, scan, &sent, patch, n);
    }
    let (_, resent) = puts(true);
    let (sidecar, finish) = sidecar(p, (scan, manifest), aside.git, resent, Removal::Whole)?;
    cx.reporter.trace(&format!("the copy brings along {MANIFEST} and {FINISH} ({})", finish.purpose));
    let copy = CopyRun {
        version,
        shell: &shell,
        first: Some(sidecar.path()),
        every_file: resent > 0,
        changes: None,
    };
    let stats = rsync_fill_proven(cx, p, scan, &copy, None)?;
    let sent = Sent { files: stats.files_transferred.saturating_sub(2), bytes: stats.bytes_sent };
    let reports = tags::<SnapReport>(&stats.stderr);
    outcome(cx, p, scan, &sent, reports, 0, &stats.stderr)
}

/// Sends only what changed since the snapshot `base` (rsync `--files-from`, every listed file's
/// content compared), into a copy of that snapshot the cluster's side makes
/// ([`crate::plan::snapshot::rsync_path_changes`]); the manifest and finishing script come in
/// the same transfer, the finishing script removes what is gone, and the snapshot is finished
/// on rsync's connection as for a whole copy. Neither side walks the project's unchanged files.
/// `primed`: the same rsync, started already, waiting for the list. `None` when the cluster
/// holds no copy of `base` (an interrupted copy, another machine's snapshot since): the caller
/// copies the whole project.
fn copy_changes(
    cx: &mut Context,
    p: &SyncPlan,
    (scan, manifest): (&Scan, &(Vec<u8>, String)),
    copy: &CopyRun,
    git: Option<GitState>,
    (base, changes): &(String, Changes),
    primed: Option<Primed>,
) -> Result<Option<(String, bool)>, StepError> {
    let Ok(root) = std::path::absolute(&p.root) else { return Ok(None) };
    let list64 = |paths: &[Vec<u8>]| match paths.is_empty() {
        true => "-".to_string(),
        false => crate::plan::snapshot::base64(
            &paths.iter().flat_map(|r| r.iter().copied().chain([0])).collect::<Vec<u8>>(),
        ),
    };
    // Removed after rsync ran: a path that is a directory now (a file replaced by one) holds
    // what rsync just brought, so it stays.
    let gone: Vec<Vec<u8>> = changes.remove.iter().filter(|r| !is_dir_in(scan, r)).cloned().collect();
    let removal = Removal::Changes(list64(&gone), list64(&parents_of(&changes.remove)));
    let (sidecar, _) = sidecar(p, (scan, manifest), git, changes.unseen.len(), removal)?;
    // Each path as `DIR/./REL`: rsync sends REL, from `/` (both directories in one list).
    let mut input = Vec::new();
    let mut entry = |dir: &std::path::Path, rel: &[u8]| {
        input.extend(crate::platform::os_bytes(dir.as_os_str()));
        input.extend(b"/./");
        input.extend(rel);
        input.push(0);
    };
    for own in [MANIFEST, FINISH] {
        entry(sidecar.path(), own.as_bytes());
    }
    for rel in &changes.send {
        entry(&root, rel);
    }
    let side = crate::plan::snapshot::rsync_path_changes(&p.dir, base);
    let args = changes_args(&p.rsync, &side);
    cx.reporter.trace(&format!(
        "only what changed since the last snapshot from here: {} file(s) or link(s) to send, {} path(s) removed",
        changes.send.len(),
        changes.remove.len()
    ));
    let run = CopyRun { changes: Some(ChangesCopy { args, input }), first: None, every_file: false, ..*copy };
    let stats = match rsync_fill_proven(cx, p, scan, &run, primed) {
        Ok(stats) => stats,
        Err(f) if f.base_differs => {
            cx.reporter.trace("the cluster holds no copy of that snapshot now: copying the whole project");
            return Ok(None);
        }
        Err(f) => return Err(f.error),
    };
    let sent = Sent { files: stats.files_transferred.saturating_sub(2), bytes: stats.bytes_sent };
    let reports = tags::<SnapReport>(&stats.stderr);
    outcome(cx, p, scan, &sent, reports, 0, &stats.stderr).map(Some)
}

/// Whether `rel` is a directory in `scan`: some file or link lies under it.
fn is_dir_in(scan: &Scan, rel: &[u8]) -> bool {
    let mut prefix = rel.to_vec();
    prefix.push(b'/');
    let at = scan.entries.partition_point(|e| e.rel.as_slice() < prefix.as_slice());
    scan.entries.get(at).is_some_and(|e| e.rel.starts_with(&prefix))
}

/// What the finishing script removes before it checks the snapshot: nothing after a whole copy
/// (rsync `--delete` did), after a copy of the changes the paths gone and the directories that
/// may be left empty (NUL-separated, base64, or `-`).
enum Removal {
    Whole,
    Changes(String, String),
}

/// The manifest and the finishing script (with the snapshot's marker, `resent` files counted,
/// and what to remove first) written to send with the copy.
fn sidecar(
    p: &SyncPlan,
    (scan, (manifest, sha)): (&Scan, &(Vec<u8>, String)),
    git: Option<GitState>,
    resent: usize,
    removal: Removal,
) -> Result<(Sidecar, crate::exchange::Script), StepError> {
    let (suffix, mut marker) = marker(p, scan, git);
    marker.extend(resent_line(resent));
    let (copy, gone, emptied) = match removal {
        Removal::Whole => ("whole", "-".to_string(), "-".to_string()),
        Removal::Changes(gone, emptied) => ("changes", gone, emptied),
    };
    let finish =
        p.scripts.finish.clone().arg(sha).arg(suffix).arg(copy).arg(gone).arg(emptied).and_args(marker);
    let sidecar = Sidecar::write(manifest, sha, &finish.input()).map_err(|e| StepError::Local {
        what: "the code snapshot".into(),
        detail: format!("cannot write the manifest to send in a temporary directory: {e}"),
        hint: "check that the temporary directory (TMPDIR) is writable".into(),
    })?;
    Ok((sidecar, finish))
}

/// The directories above `paths`, deepest first: removed on the cluster when left empty.
fn parents_of(paths: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut dirs = std::collections::BTreeSet::new();
    for p in paths {
        let mut end = p.len();
        while let Some(i) = p[..end].iter().rposition(|b| *b == b'/') {
            dirs.insert(p[..i].to_vec());
            end = i;
        }
    }
    let mut dirs: Vec<Vec<u8>> = dirs.into_iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.iter().filter(|b| **b == b'/').count()));
    dirs
}

/// The plan's rsync command for a copy of the listed paths only: no recursion, deletion or
/// exclude rules, the list (`DIR/./REL`, NUL-separated) on standard input, every listed file's
/// content compared, from `/`, with `side` as the cluster's side.
fn changes_args(rsync: &[String], side: &str) -> Vec<String> {
    let root = rsync.len().saturating_sub(2);
    let mut out = Vec::with_capacity(rsync.len() + 2);
    for (i, a) in rsync.iter().enumerate() {
        match a.as_str() {
            "--recursive" | "--delete" | "--delete-excluded" | "--exclude-from=-" | SIDECAR => {}
            "--from0" => out.extend([a.clone(), "--files-from=-".into()]),
            _ if a.starts_with("--rsync-path=") => out.push(format!("--rsync-path={side}")),
            _ if i == root => out.push("/".into()),
            _ => out.push(a.clone()),
        }
    }
    // `--force`: a file that replaced a directory replaces it here too (without `--delete`,
    // rsync would not remove the directory's contents).
    out.splice(1..1, ["--ignore-times".into(), "--force".into()]);
    out
}

/// Waits for the copy started early; with what changed since it listed the files (`then`),
/// the lines that bring the snapshot up to `now`. `None` when it failed or too much changed:
/// the copy then runs again in the step's turn (what arrived is reused).
fn collect_early(cx: &mut Context, p: &SyncPlan, early: Early, now: &Scan) -> Option<(Sent, Vec<String>)> {
    let Early { scan: then, copy } = early;
    let then = &then;
    cx.round_trips += 1;
    let stats = match copy.wait(cx, &format!("copying {} files (started early)", then.files())) {
        Ok(stats) => stats,
        Err(f) => {
            cx.reporter.trace(&format!("the early copy failed (rsync exited {}); copying again", f.status));
            return None;
        }
    };
    cx.reporter.trace(&format!(
        "rsync (started early): {} bytes sent, {} files transferred",
        stats.bytes_sent, stats.files_transferred
    ));
    let Some(patch) = Patch::between(then, now, std::path::Path::new(&p.root)) else {
        cx.reporter
            .trace("more changed during the early copy than the finishing script carries; copying again");
        return None;
    };
    let Patch { remove, links, puts } = patch;
    if !puts.is_empty() || !remove.is_empty() || !links.is_empty() {
        cx.reporter.trace(&format!(
            "changed during the early copy, sent with the finishing script: {} file(s), {} removed, {} link(s)",
            puts.len(),
            remove.iter().filter(|b| **b == 0).count(),
            links.iter().filter(|b| **b == 0).count() / 2
        ));
    }
    let sent = Sent {
        files: stats.files_transferred + puts.len() as u64,
        bytes: stats.bytes_sent + puts.iter().map(|p| p.content.len() as u64).sum::<u64>(),
    };
    Some((sent, patch_args(&remove, &links, &puts)))
}

/// The project as it is now, or as listed while signing in (`listed`).
fn scan_now(cx: &mut Context, p: &SyncPlan, listed: Option<Listed>) -> Result<Scan, StepError> {
    if let Some(problem) = &p.problem {
        return Err(StepError::Local {
            what: "the code snapshot".into(),
            detail: format!("{problem}; hpcinit does not copy it"),
            hint: "run hpcinit in your project's folder, or pass --project-dir DIR".into(),
        });
    }
    let (scan, took, ended) = listed.unwrap_or_else(|| {
        let started = std::time::Instant::now();
        let scan = project::scan(std::path::Path::new(&p.root), &p.excludes);
        (scan, started.elapsed(), crate::ui::run_clock::since_start())
    });
    let scan = scan.map_err(|e| StepError::Local {
        what: "listing the project".into(),
        detail: e.to_string(),
        hint: e.hint().unwrap_or_default(),
    })?;
    cx.reporter.trace(&format!(
        "{} files, {} to snapshot (listed in {} ms, by {} ms into the run)",
        scan.files(),
        human_bytes(scan.bytes()),
        took.as_millis(),
        ended.as_millis()
    ));
    Ok(scan)
}

fn no_scratch(cx: &Context) -> StepError {
    let site = &cx.plan.site;
    StepError::Cluster {
        what: "the code snapshot".into(),
        detail: "~/scratch is missing on the cluster, and snapshots belong on scratch, not in your home"
            .into(),
        hint: format!("run `hpcinit --site {site}` first: it links ~/scratch to the site's scratch"),
    }
}

/// The snapshot directory's state: from the probe when there was one, else by one plain-shell
/// round trip (which also returns the manifest when `with_manifest`).
pub fn latest(cx: &mut Context, p: &SyncPlan, with_manifest: bool) -> Result<Latest, StepError> {
    if let (Some(f), false) = (&cx.facts, with_manifest) {
        let link = f.path(ProbePath::SnapshotLatest);
        let manifest = format!("{}/latest/.hpcinit-manifest", p.snapshots);
        return Ok(Latest {
            scratch: f.path(ProbePath::HomeScratch).is_dir(),
            name: link.target.clone(),
            sha: f.files.get(&manifest).cloned().flatten().map(|s| s.sha),
            manifest: None,
            count: 0,
        });
    }
    let mut script = p.scripts.check.clone();
    if with_manifest {
        script = script.arg("with_manifest");
    }
    let out = cx.run_script(&script, &mut |_| {})?;
    let mut l = Latest::default();
    for report in tags::<SnapReport>(&out.stdout) {
        match report {
            SnapReport::Scratch(yes) => l.scratch = yes,
            SnapReport::Latest(Some((name, sha))) => {
                l.name = Some(name);
                l.sha = sha;
            }
            SnapReport::Manifest(m) => l.manifest = decode64(&m),
            SnapReport::Count(n) => l.count = n,
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

/// [`rsync_fill`] over a connection not yet proven to answer (`Context::lazy_proof`): when the
/// copy fails, the connection is proven (unless the watchdog found it dead already); a dead one
/// is ended, signed in again (one sign-in) and the copy made again. Once proven, as
/// [`rsync_fill`].
/// With `primed`, the first copy is that one, given the list of `copy`.
fn rsync_fill_proven(
    cx: &mut Context,
    p: &SyncPlan,
    scan: &Scan,
    copy: &CopyRun,
    primed: Option<Primed>,
) -> Result<Stats, Box<FillFailed>> {
    let first = |cx: &mut Context, watch| match primed {
        Some(primed) => {
            let list = copy.changes.as_ref().map(|c| c.input.clone()).unwrap_or_default();
            let result = primed.collect(cx, scan, list);
            settled(cx, result)
        }
        None => rsync_fill(cx, p, scan, copy, watch),
    };
    if !cx.lazy_proof {
        return first(cx, None);
    }
    let watch = cx.remote().liveness();
    let failed = match first(cx, watch) {
        Ok(stats) => {
            cx.lazy_proof = false;
            return Ok(stats);
        }
        Err(failed) => failed,
    };
    cx.lazy_proof = false;
    if failed.base_differs || (!failed.stalled && cx.remote().is_open()) {
        return Err(failed); // the connection answers: the failure is the copy's own
    }
    cx.reporter.detail(
        "the shared connection did not answer (a laptop that slept, a network that changed): signing in again",
    );
    cx.remote().drop_connection();
    crate::exec::busy_retry::connect(cx).map_err(Box::<FillFailed>::from)?;
    rsync_fill(cx, p, scan, copy, None)
}

/// A failed copy: the step's error, whether the watchdog ended it, and whether the cluster's
/// side found no copy of the base snapshot ([`copy_changes`]).
struct FillFailed {
    error: StepError,
    stalled: bool,
    base_differs: bool,
}

impl From<StepError> for Box<FillFailed> {
    fn from(error: StepError) -> Self {
        Box::new(FillFailed { error, stalled: false, base_differs: false })
    }
}

impl From<Box<FillFailed>> for StepError {
    fn from(f: Box<FillFailed>) -> Self {
        f.error
    }
}

/// How one rsync copy is made: the local rsync, its shell, the directory of files brought
/// along ([`Sidecar`]), whether every file's content is compared, and for a copy of the
/// changes only, its own command and list.
struct CopyRun<'a> {
    version: RsyncVersion,
    shell: &'a crate::remote::RsyncShell,
    first: Option<&'a std::path::Path>,
    every_file: bool,
    changes: Option<ChangesCopy>,
}

/// The rsync command and standard input of [`copy_changes`].
struct ChangesCopy {
    args: Vec<String>,
    input: Vec<u8>,
}

fn rsync_fill(
    cx: &mut Context,
    p: &SyncPlan,
    scan: &Scan,
    copy: &CopyRun,
    watch: Option<crate::remote::Liveness>,
) -> Result<Stats, Box<FillFailed>> {
    let CopyRun { version, shell, first, every_file, .. } = *copy;
    cx.round_trips += 1;
    let (args, input) = match &copy.changes {
        Some(c) => (c.args.clone(), c.input.clone()),
        None => {
            let mut args = p.rsync.clone();
            if every_file {
                // Compare every file's content: some changed without a new size or time.
                args.insert(1, "--ignore-times".into());
            }
            let excludes = scan.rsync_excludes().map_err(|e| {
                Box::<FillFailed>::from(StepError::Local {
                    what: "listing the project".into(),
                    detail: e.to_string(),
                    hint: e.hint().unwrap_or_default(),
                })
            })?;
            (args, excludes)
        }
    };
    cx.reporter.trace(&format!("remote: {}", crate::quote::sh_words(&args)));
    let mut bar = cx.reporter.progress(&format!("copying {} files", scan.files()), 100);
    let stats = rsync_run::run(version, shell, &args, first, Input::Now(input), watch, &mut |pr| {
        bar.stage(
            pr.percent.min(100),
            &format!("{}% ({} checked or sent)", pr.percent, human_bytes(pr.bytes)),
        );
    });
    drop(bar);
    settled(cx, stats)
}

/// A finished rsync's result as the step sees it, traced with `-v`.
fn settled(cx: &mut Context, stats: Result<Stats, Failed>) -> Result<Stats, Box<FillFailed>> {
    let stats = stats.map_err(|f| {
        let stalled = f.stalled;
        let base_differs = tags::<SnapReport>(&f.stderr).contains(&SnapReport::BaseDiffers);
        Box::new(FillFailed { error: fill_error(cx, f), stalled, base_differs })
    })?;
    cx.reporter.trace(&format!(
        "rsync: {} bytes sent, {} files transferred",
        stats.bytes_sent, stats.files_transferred
    ));
    cx.reporter.trace(&format!("rsync's time: {}", stats.timing.describe()));
    Ok(stats)
}

/// A failed copy as the step's error.
fn fill_error(cx: &Context, f: Failed) -> StepError {
    {
        let missing = tags::<SnapReport>(&f.stderr).contains(&SnapReport::NoScratch);
        let tail: Vec<&str> =
            f.stderr.lines().filter(|l| crate::exchange::tagged(l).is_none()).rev().take(6).collect();
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
        let finishing = tags::<SnapReport>(&f.stderr).into_iter().find_map(|r| match r {
            SnapReport::Error(e) => Some(e),
            _ => None,
        });
        if let Some(e) = finishing {
            return StepError::Cluster {
                what: "finishing the snapshot".into(),
                detail: e,
                hint: "run the same command again; latest still names the previous snapshot".into(),
            };
        }
        StepError::Cluster {
            what: "copying the code".into(),
            detail,
            hint: "run the same command again: what arrived is kept and reused, and latest still names the previous snapshot".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::project::{Entry, EntryKind};

    fn scan_of(paths: &[&str]) -> Scan {
        let mut entries: Vec<Entry> = paths
            .iter()
            .map(|p| Entry {
                rel: p.as_bytes().to_vec(),
                kind: EntryKind::File { size: 1, mtime: 1, executable: false },
                stamp: Default::default(),
            })
            .collect();
        entries.sort_by(|a, b| a.rel.cmp(&b.rel));
        Scan { entries, ..Scan::default() }
    }

    #[test]
    fn a_removed_path_that_is_a_directory_now_stays() {
        // `a` was a file and is a directory now: rsync brought `a/x`, so the finishing script
        // must not remove `a`. `a-b` and `a.py` sort around `a/`; neither makes `ab` a directory.
        let scan = scan_of(&["a-b", "a.py", "a/x", "ab", "c/d/e"]);
        assert!(is_dir_in(&scan, b"a"));
        assert!(is_dir_in(&scan, b"c") && is_dir_in(&scan, b"c/d"));
        assert!(!is_dir_in(&scan, b"ab") && !is_dir_in(&scan, b"a.py") && !is_dir_in(&scan, b"c/d/e"));
        assert!(!is_dir_in(&scan, b"z"));
    }

    #[test]
    fn emptied_directories_go_deepest_first() {
        let dirs = parents_of(&[b"a/b/c.py".to_vec(), b"a/d.py".to_vec(), b"top.py".to_vec()]);
        assert_eq!(dirs, [b"a/b".to_vec(), b"a".to_vec()]);
    }

    #[test]
    fn a_copy_of_the_changes_reads_its_list_and_may_replace_directories() {
        let planned: Vec<String> = [
            "rsync",
            "--recursive",
            "--links",
            "--delete",
            "--from0",
            "--exclude-from=-",
            "--rsync-path=old",
            "--stats",
            SIDECAR,
            "/home/a/proj/",
            "site:dir/.hpcinit-incoming/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let args = changes_args(&planned, "new");
        assert_eq!(
            args,
            [
                "rsync",
                "--ignore-times",
                "--force",
                "--links",
                "--from0",
                "--files-from=-",
                "--rsync-path=new",
                "--stats",
                "/",
                "site:dir/.hpcinit-incoming/"
            ]
        );
    }
}
