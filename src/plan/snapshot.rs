//! The code-snapshot step, planned: where the snapshot goes, the rsync command that fills it over
//! the run's shared connection, and the remote scripts that check, finalize and prune it (the
//! shell text is `snapshot.sh`). Pure: the files themselves are listed by
//! [`crate::local::project`] when the step runs, so the snapshot holds the code as it is then.

use crate::exchange::Script;
use crate::local::project::GitState;
use crate::quote::sh;
use serde::Serialize;

/// The remote helpers (bash), sent before a snapshot script's body.
pub const FUNCTIONS: &str = include_str!("snapshot.sh");

/// Where a snapshot is filled before it is complete, inside the project's snapshot directory.
pub const INCOMING: &str = ".hpcinit-incoming";

pub use crate::answers::{BwLimit, SyncAnswers};

/// The facts the step is planned from: the project's root and commit, and what it holds now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CodeFacts {
    pub root: String,
    pub git: Option<GitSummary>,
    pub files: usize,
    pub bytes: u64,
    /// Virtual environments found in the project and left out.
    pub venvs: Vec<String>,
    /// Why this project cannot be snapshot (it is the home directory), if it cannot.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitSummary {
    pub short_sha: String,
    pub dirty: bool,
}

impl From<&GitState> for GitSummary {
    fn from(g: &GitState) -> GitSummary {
        GitSummary { short_sha: g.short_sha.clone(), dirty: g.dirty }
    }
}

/// How the files reach the cluster: the system's rsync over the shared OpenSSH connection, or
/// SFTP over hpcinit's own client (`--transport ssh2`, the default on Windows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyRoute {
    #[default]
    Rsync,
    Sftp,
}

impl CopyRoute {
    /// The route the run's client takes.
    pub fn of(transport: crate::settings::Transport) -> CopyRoute {
        match transport {
            crate::settings::Transport::Ssh => CopyRoute::Rsync,
            crate::settings::Transport::Ssh2 => CopyRoute::Sftp,
        }
    }
}

/// The snapshot step's action fields.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncPlan {
    /// The project root on this machine.
    pub root: String,
    /// `~/scratch/code-snapshots/<project>`.
    pub snapshots: String,
    /// The same, relative to the cluster home (rsync's destination is relative to it).
    pub dir: String,
    /// The end of the snapshot's name after its UTC time.
    pub suffix: String,
    pub files: usize,
    pub bytes: u64,
    pub venvs: Vec<String>,
    pub excludes: Vec<String>,
    pub keep: Option<u32>,
    pub bwlimit: Option<BwLimit>,
    pub route: CopyRoute,
    /// rsync's command, as it runs: the exclude rules go on its standard input, [`SIDECAR`]
    /// stands for the directory made for each copy (its manifest and finishing script; an early
    /// copy started while the venv builds has none), and the one display flag,
    /// [`PROGRESS`], is added after `--stats` for the progress bar.
    pub rsync: Vec<String>,
    /// The scheduler whose queued jobs pin their snapshot (`slurm`), or `none`.
    pub protect: &'static str,
    /// The scripts that look at, fill, finish and verify snapshots.
    pub scripts: SyncScripts,
    /// Why this project cannot be snapshot, if it cannot.
    pub problem: Option<String>,
}

/// The remote side of rsync's connection: it refuses to run without `~/scratch` (a snapshot must
/// not land in the home directory), creates the missing parents and makes `.hpcinit-incoming`
/// a copy of `latest` in hard links — the one the last sync prepared (`.hpcinit-next`), or one
/// made now — unless an interrupted copy is there to finish. rsync then updates it in place:
/// only what changed is sent and written, each changed file as a new file, so no snapshot's
/// file is ever modified. When the receiving rsync exits 0 and the transfer brought
/// [`FINISH`] (see [`SyncPlan::finish_script`]), the same connection runs it: the snapshot is
/// marked, renamed into place and `latest` moves, with its report on standard error. It passes
/// through the login shell, whatever that is, as one `sh -c '…'` word with no quote inside.
pub fn rsync_path(dir: &str) -> String {
    format!("sh -c '{RSYNC_SIDE}' hpcinit-sync {} -", sh(dir))
}

/// [`rsync_path`] for a copy of only what changed since the snapshot whose manifest's hash is
/// `base` (`rsync --files-from`): `.hpcinit-incoming` must then be made now, from `.hpcinit-next`
/// when that was copied from `base` (`.hpcinit-next.base`), else from `latest` when it is
/// `base`; otherwise (an interrupted copy, another machine's snapshot since) the side prints
/// `@@hpcinit:base-differs` and stops before rsync, and hpcinit copies as usual. The paths gone
/// since `base` are removed by the finishing script, after rsync: the list is only known once
/// the project is listed, and rsync may be started before that. When rsync brought no
/// finishing script (hpcinit sent an empty list: the copy was not wanted after all), the copy
/// of `base` is kept as `.hpcinit-next` for the next sync.
pub fn rsync_path_changes(dir: &str, base: &str) -> String {
    format!("sh -c '{RSYNC_SIDE}' hpcinit-sync {} {}", sh(dir), sh(base))
}

/// The fixed body of [`rsync_path`]'s `sh -c`: the snapshot directory is `$1` and the base
/// (`-`: a whole copy) `$2`, then rsync's own arguments.
const RSYNC_SIDE: &str = concat!(
    "cd && if ! test -d scratch/; then echo @@hpcinit:no-scratch >&2; exit 3; fi; ",
    "d=$1 b=$2; shift 2; mkdir -p \"$d\" && cd \"$d\" || exit; ",
    "if test \"$b\" = -; then if ! test -d .hpcinit-incoming; then ",
    "if test -d .hpcinit-next; then mv .hpcinit-next .hpcinit-incoming; ",
    "else mkdir .hpcinit-incoming && if test -d latest/; then cp -al latest/. .hpcinit-incoming/; fi; fi; fi; ",
    "elif test -d .hpcinit-incoming; then echo @@hpcinit:base-differs >&2; exit 4; ",
    "elif test -d .hpcinit-next && test \"$(cat .hpcinit-next.base 2>/dev/null)\" = \"$b\"; then mv .hpcinit-next .hpcinit-incoming; ",
    "elif test -L latest && test \"$(sed -n \"s/^manifest-sha256: //p\" latest/.hpcinit-snapshot 2>/dev/null)\" = \"$b\"; ",
    "then mkdir .hpcinit-incoming && cp -al latest/. .hpcinit-incoming/; ",
    "else echo @@hpcinit:base-differs >&2; exit 4; fi ",
    "&& cd && echo @@hpcinit:rsync && echo @@hpcinit:receiving >&2 && rsync \"$@\" || exit; cd \"$d\" && if test -f .hpcinit-incoming/.hpcinit-finish; ",
    "then exec bash .hpcinit-incoming/.hpcinit-finish >&2 </dev/null; ",
    "elif test \"$b\" != - && ! test -e .hpcinit-next; then mv .hpcinit-incoming .hpcinit-next && printf \"%s\\n\" \"$b\" >.hpcinit-next.base; fi"
);

/// In the planned rsync command, the directory a copy brings along ([`MANIFEST`], [`FINISH`]).
pub const SIDECAR: &str = "{sidecar}/";

/// The display flag the executor adds to the planned rsync command after `--stats`:
/// `--info=progress2`, or `--progress` with an rsync older than 3.1.
pub const PROGRESS: &str = "--info=progress2 (--progress before rsync 3.1)";

/// The script a transfer brings along to finish the snapshot on its own connection.
pub const FINISH: &str = ".hpcinit-finish";

/// The manifest's name in a snapshot (and in the transfer that fills it).
pub const MANIFEST: &str = ".hpcinit-manifest";

/// A copy of `latest` in hard links, made in the background after each snapshot for the next.
pub const NEXT: &str = ".hpcinit-next";

/// Every exchange of the snapshot step with the cluster: `snapshot.sh`'s functions, each called
/// with `"$@"`; the plan's values (the directory, how many to keep, what protects a snapshot)
/// are the first arguments, and what only the copy knows is appended as further arguments
/// ([`Script::arg`]). Their replies are [`SnapReport`]s.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncScripts {
    /// Looks at the snapshot directory, changing nothing; `with_manifest` appended for the
    /// manifest itself.
    pub check: Script,
    /// The SFTP route: makes `.hpcinit-incoming` from hard links and lists it.
    pub prepare: Script,
    /// The SFTP route: removes paths and makes links in `.hpcinit-incoming` (appended: both
    /// lists, NUL-separated, base64).
    pub fix: Script,
    /// What rsync brings along as [`FINISH`] and its connection runs once every file arrived
    /// (appended: the manifest's sha, the name's suffix, the marker lines).
    pub finish: Script,
    /// The SFTP route and a copy started early: the last changes ([`patch_args`]), the check
    /// against the manifest, then as `finish` (appended: sha, suffix, the patch, the marker).
    pub finalize: Script,
    /// Compares `latest`'s files with its own manifest (`hpcinit sync --verify`, doctor).
    pub verify: Script,
}

impl SyncScripts {
    pub fn new(dir: &str, keep: Option<u32>, protect: &str) -> SyncScripts {
        let call = |purpose: &str, function: &str, args: Vec<String>| {
            Script::new(purpose, format!("{FUNCTIONS}\n{function} \"$@\"")).plain().with_args(args)
        };
        let dir_only = vec![dir.to_string()];
        let kept = vec![dir.to_string(), keep.unwrap_or(0).to_string(), protect.to_string()];
        SyncScripts {
            check: call("look at the code snapshots", "hpcinit_snap_check", dir_only.clone()),
            prepare: call("prepare the snapshot from hard links", "hpcinit_snap_prepare", dir_only.clone()),
            fix: call("remove what changed, make links", "hpcinit_snap_fix", dir_only.clone()),
            finish: call("finish the snapshot", "hpcinit_snap_finish", kept.clone()),
            finalize: call("check the copy and move latest", "hpcinit_snap_finalize", kept),
            verify: call("compare latest with its manifest", "hpcinit_snap_verify", dir_only),
        }
    }
}

/// A file to write into the snapshot being filled, content included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// Relative to the project root, as bytes.
    pub rel: Vec<u8>,
    pub mode: u32,
    pub mtime: i64,
    pub content: Vec<u8>,
}

/// The arguments that bring `.hpcinit-incoming` from one listing to another, for
/// [`SyncScripts::finalize`]: `remove` (paths) and `links` (path, target pairs), NUL-separated,
/// then each file of `puts`; every path and content travels in base64.
pub fn patch_args(remove: &[u8], links: &[u8], puts: &[Put]) -> Vec<String> {
    let mut args = vec![base64(remove), base64(links), puts.len().to_string()];
    for p in puts {
        args.extend([base64(&p.rel), format!("{:o}", p.mode), p.mtime.to_string(), base64(&p.content)]);
    }
    args
}

/// The arguments of a patch that changes nothing.
pub fn no_patch() -> Vec<String> {
    patch_args(b"", b"", &[])
}

pub fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// `12.3 MB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// What `snapshot.sh` reports, line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapReport {
    /// Whether `~/scratch` exists.
    Scratch(bool),
    /// The snapshot `latest` names and its manifest's hash; `None` when there is none.
    Latest(Option<(String, Option<String>)>),
    /// The latest manifest, base64.
    Manifest(String),
    /// How many snapshots the project has.
    Count(usize),
    /// What `.hpcinit-incoming` holds, base64 (the SFTP route), or `latest` when it differs
    /// from its manifest.
    Listing(String),
    /// `latest`'s name, the hash its manifest records, the hash of what it holds.
    Verify(String, String, String),
    /// The snapshot made, by name.
    Snapshot(String),
    /// `latest` already holds this code (its name).
    Unchanged(String),
    /// What arrived differs from the manifest.
    Mismatch,
    /// `~/scratch` is missing: a snapshot never lands in the home directory.
    NoScratch,
    /// A copy of only what changed could not start from the snapshot it was made against.
    BaseDiffers,
    /// The cluster's side starts the receiving rsync (rsync's connection and the side's set-up
    /// are done).
    Receiving,
    /// The finishing script starts (the transfer is done).
    Finishing,
    Error(String),
    /// A `latest` made by hand, kept under this name.
    Moved(String),
    /// An old snapshot removed (`--keep`).
    Pruned(String),
    /// A snapshot kept because a queued or running job uses it.
    Guarded(String),
}

impl crate::exchange::Tagged for SnapReport {
    fn from_tag(tag: &str, payload: &str) -> Option<SnapReport> {
        let p = payload.to_string();
        Some(match tag {
            "scratch" => SnapReport::Scratch(payload == "yes"),
            "latest" if payload == "-" => SnapReport::Latest(None),
            "latest" => {
                let mut w = payload.split_whitespace();
                SnapReport::Latest(w.next().map(|n| (n.to_string(), w.next().map(String::from))))
            }
            "manifest" => SnapReport::Manifest(p),
            "count" => SnapReport::Count(payload.trim().parse().unwrap_or(0)),
            "listing" => SnapReport::Listing(p),
            "verify" => {
                let w: Vec<&str> = payload.split_whitespace().collect();
                let [name, recorded, found] = w[..] else { return None };
                SnapReport::Verify(name.into(), recorded.into(), found.into())
            }
            "snapshot" => SnapReport::Snapshot(p),
            "unchanged" => SnapReport::Unchanged(p),
            "mismatch" => SnapReport::Mismatch,
            "no-scratch" => SnapReport::NoScratch,
            "base-differs" => SnapReport::BaseDiffers,
            "receiving" => SnapReport::Receiving,
            "finishing" => SnapReport::Finishing,
            "error" => SnapReport::Error(p),
            "moved" => SnapReport::Moved(p),
            "pruned" => SnapReport::Pruned(p),
            "guarded" => SnapReport::Guarded(p),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patch lines run by a real bash on a snapshot being filled from hard links: a file
    /// put there is a new file (the older snapshot keeps its bytes), with the mode and time
    /// given, under any name; removals and links as listed.
    #[test]
    #[cfg(unix)] // the cluster side: bash, Unix modes and times
    fn a_patch_writes_new_files_never_through_hard_links() {
        let home = tempfile::tempdir().unwrap();
        let dir = "scratch/code-snapshots/demo";
        let snaps = home.path().join(dir);
        std::fs::create_dir_all(snaps.join("old")).unwrap();
        std::fs::create_dir_all(snaps.join(INCOMING)).unwrap();
        std::fs::write(snaps.join("old/hpcinit.lock"), "old\n").unwrap();
        std::fs::hard_link(snaps.join("old/hpcinit.lock"), snaps.join(INCOMING).join("hpcinit.lock"))
            .unwrap();
        std::fs::write(snaps.join(INCOMING).join("gone.py"), "x").unwrap();
        let scripts = SyncScripts::new(dir, None, "none");
        let odd = "sub dir/it's \"odd\"\n$(x).py";
        let puts = [
            Put {
                rel: b"hpcinit.lock".to_vec(),
                mode: 0o444,
                mtime: 1_700_000_000,
                content: b"new\n".to_vec(),
            },
            Put {
                rel: odd.as_bytes().to_vec(),
                mode: 0o555,
                mtime: 1_600_000_000,
                content: vec![0, 1, 2, b'\n'],
            },
        ];
        // The finalizing script with the patch and a manifest hash that cannot match: it
        // applies the patch, then stops before installing anything.
        let script = scripts.finalize.clone().arg("0".repeat(64)).arg("").and_args(patch_args(
            b"gone.py\0",
            b"latest-code\0hpcinit.lock\0",
            &puts,
        ));
        let mut child = std::process::Command::new("bash")
            .arg("-s")
            .env("HOME", home.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(script.input().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            crate::exchange::tags::<SnapReport>(&stdout).iter().any(|r| matches!(r, SnapReport::Mismatch)),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let inc = snaps.join(INCOMING);
        assert_eq!(std::fs::read_to_string(snaps.join("old/hpcinit.lock")).unwrap(), "old\n");
        assert_eq!(std::fs::read_to_string(inc.join("hpcinit.lock")).unwrap(), "new\n");
        let m = std::fs::metadata(inc.join("hpcinit.lock")).unwrap();
        assert_eq!((m.permissions().mode() & 0o777, m.mtime()), (0o444, 1_700_000_000));
        let m = std::fs::metadata(inc.join(odd)).unwrap();
        assert_eq!((m.permissions().mode() & 0o777, m.mtime(), m.len()), (0o555, 1_600_000_000, 4));
        assert!(!inc.join("gone.py").exists());
        assert_eq!(std::fs::read_link(inc.join("latest-code")).unwrap().to_str(), Some("hpcinit.lock"));
        let left: Vec<_> =
            std::fs::read_dir(inc.join("sub dir")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
    }

    #[test]
    fn bandwidth_limits_read_like_rsync() {
        assert_eq!("500".parse::<BwLimit>().unwrap().bytes_per_second, 500 * 1024);
        assert_eq!(
            "2m".parse::<BwLimit>().unwrap(),
            BwLimit { text: "2048".into(), bytes_per_second: 2 << 20 }
        );
        assert_eq!("1.5M".parse::<BwLimit>().unwrap().text, "1536");
        assert!("fast".parse::<BwLimit>().is_err());
        assert!("10x".parse::<BwLimit>().is_err());
        assert!("0".parse::<BwLimit>().is_err());
    }

    #[test]
    fn rsync_path_is_one_word_for_any_login_shell() {
        let p = rsync_path("scratch/code-snapshots/demo");
        assert!(
            p.starts_with("sh -c '") && p.ends_with("' hpcinit-sync scratch/code-snapshots/demo -"),
            "{p}"
        );
        assert_eq!(p.matches('\'').count(), 2, "no quote inside the script: {p}");
        assert!(!p.contains('\n'));
    }

    #[test]
    fn the_step_names_commit_and_destination() {
        let code = CodeFacts {
            root: "/home/a/proj".into(),
            git: Some(GitSummary { short_sha: "1a2b3c4".into(), dirty: true }),
            files: 12,
            bytes: 34_000,
            venvs: vec![".venv".into()],
            problem: None,
        };
        let local = crate::plan::LocalFacts { code, program: "hpcinit".into(), ..Default::default() };
        let s = crate::plan::snapshot_step::step(
            "saga",
            "proj",
            &local,
            &SyncAnswers::default(),
            true,
            CopyRoute::Rsync,
        );
        let crate::plan::Action::Sync(p) = &s.action else { panic!() };
        assert_eq!(p.suffix, "-1a2b3c4-dirty");
        assert_eq!(p.rsync.last().unwrap(), "saga:scratch/code-snapshots/proj/.hpcinit-incoming/");
        assert_eq!(p.rsync[p.rsync.len() - 2], "/home/a/proj/");
        let at = |o: &str| p.rsync.iter().position(|a| a == o).unwrap();
        assert!(at("--from0") < at("--exclude-from=-"), "rsync applies --from0 only to lists read after it");
        assert!(s.summary.contains("12 files, 34.0 kB"), "{}", s.summary);
        let f = p.scripts.finalize.clone().arg("a".repeat(64)).arg(&p.suffix).and_args(no_patch());
        assert!(f.body().ends_with("\nhpcinit_snap_finalize \"$@\""), "a fixed body: {}", f.body());
        assert!(
            f.input().ends_with("hpcinit_main scratch/code-snapshots/proj 0 slurm aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -1a2b3c4-dirty '' '' 0 </dev/null\n"),
            "{}",
            f.input()
        );
    }
}
