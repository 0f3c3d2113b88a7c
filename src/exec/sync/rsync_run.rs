//! Runs the system's rsync for a code snapshot: over the run's shared OpenSSH connection (rsync's
//! ssh uses the ControlPath of hpcinit's `Host` entry, in batch mode, so it can never prompt),
//! with the file list on its standard input, reading its own progress output as it goes and
//! its `--stats` at the end. Touches the project directory (read) and, through rsync, the
//! cluster.

use crate::plan::snapshot::{SnapReport, SIDECAR};
use crate::remote::{RsyncShell, ANSWER_WITHIN};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The local rsync, if it can make snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsyncVersion {
    pub major: u32,
    pub minor: u32,
}

impl RsyncVersion {
    /// `rsync --version`'s first line; `Err` says why it cannot be used.
    pub fn parse(first_line: &str) -> Result<RsyncVersion, String> {
        if first_line.contains("openrsync") {
            return Err("it is openrsync (macOS), which lacks --files-from".into());
        }
        let v = first_line
            .split_whitespace()
            .skip_while(|w| *w != "version")
            .nth(1)
            .ok_or_else(|| format!("cannot read its version from `{first_line}`"))?;
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let version = RsyncVersion { major: parts.next().unwrap_or(0), minor: parts.next().unwrap_or(0) };
        if (version.major, version.minor) < (2, 6) {
            return Err(format!("version {v} is older than 2.6.9"));
        }
        Ok(version)
    }

    /// Finds the rsync on PATH.
    pub fn local() -> Result<RsyncVersion, String> {
        RsyncVersion::parse(&version_line()?)
    }

    /// [`RsyncVersion::local`], its answer remembered in `cache` for the rsync it came from (that
    /// file's path, size, time and inode): a sync need not start `rsync --version` every time,
    /// and an rsync replaced or moved is asked again. The cache is only ever a shortcut.
    pub fn local_remembered(cache: &std::path::Path) -> Result<RsyncVersion, String> {
        let Some(key) = on_path("rsync") else { return RsyncVersion::local() };
        if let Ok(text) = std::fs::read_to_string(cache) {
            if let Some((k, line)) = text.trim_end().split_once('\n') {
                if k == key {
                    return RsyncVersion::parse(line);
                }
            }
        }
        let line = version_line()?;
        if let Some(dir) = cache.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = crate::local::atomic::write(cache, format!("{key}\n{line}\n").as_bytes(), 0o600);
        RsyncVersion::parse(&line)
    }

    /// Whole-transfer progress (`--info=progress2`) exists from 3.1 on.
    fn progress_flag(self) -> &'static str {
        if (self.major, self.minor) >= (3, 1) {
            "--info=progress2"
        } else {
            "--progress"
        }
    }
}

/// The first line of `rsync --version`.
fn version_line() -> Result<String, String> {
    let out = Command::new("rsync")
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|_| "rsync is not installed here".to_string())?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string())
}

/// The program `name` as PATH finds it, described by its path, size, modification time and
/// inode (`None` where it is not found, or off Unix).
#[cfg(unix)]
fn on_path(name: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        let p = dir.join(name);
        let m = std::fs::metadata(&p).ok().filter(|m| m.is_file() && m.mode() & 0o111 != 0)?;
        Some(format!("{}\t{}\t{}.{}\t{}", p.display(), m.len(), m.mtime(), m.mtime_nsec(), m.ino()))
    })
}

#[cfg(not(unix))]
fn on_path(_name: &str) -> Option<String> {
    None
}

/// What a finished rsync reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub bytes_sent: u64,
    pub files_transferred: u64,
    /// What the cluster's side printed on standard error (the snapshot's tagged lines).
    pub stderr: String,
    pub timing: Timing,
}

/// When the cluster's side said what it was doing, from rsync's start (`began`, in the run:
/// [`crate::ui::run_clock`]), as its lines arrived here: the connection and the side's set-up end
/// at `receiving` (the receiving rsync starts), the transfer at `finishing` (the finishing script
/// starts), and the finishing at `ended`. A copy started before its list was known also has the
/// moment the list was given (`listed`): its transfer starts at the later of the two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub began: std::time::Duration,
    pub receiving: Option<std::time::Duration>,
    pub listed: Option<std::time::Duration>,
    pub finishing: Option<std::time::Duration>,
    pub ended: std::time::Duration,
}

impl Timing {
    /// `started 20 ms into the run; the cluster's rsync after 12 ms; transfer 30 ms; finishing
    /// 15 ms` (what is known of it; the list's moment where it was given later).
    pub fn describe(&self) -> String {
        let ms = |d: std::time::Duration| d.as_millis();
        let mut t = format!("started {} ms into the run", ms(self.began));
        if let Some(r) = self.receiving {
            t.push_str(&format!("; the cluster's rsync after {} ms", ms(r)));
        }
        if let Some(l) = self.listed {
            t.push_str(&format!("; the list given after {} ms", ms(l)));
        }
        let from = self.receiving.unwrap_or_default().max(self.listed.unwrap_or_default());
        match self.finishing {
            Some(f) => t.push_str(&format!(
                "; transfer {} ms; finishing {} ms",
                ms(f.saturating_sub(from)),
                ms(self.ended.saturating_sub(f))
            )),
            None => {
                t.push_str(&format!("; transfer and finishing {} ms", ms(self.ended.saturating_sub(from))))
            }
        }
        t
    }
}

/// One progress report: bytes so far and the percentage rsync printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub bytes: u64,
    pub percent: u64,
}

pub struct Failed {
    pub status: i32,
    pub stderr: String,
    /// Ended by the watchdog: the cluster's side never answered and the connection did not
    /// prove alive (see [`run`]'s `watch`).
    pub stalled: bool,
}

/// What rsync reads on its standard input: the exclude rules or the list of files to send,
/// known now or (a copy started before the project was listed) given later; a list never given
/// (the sender dropped) is an empty one.
pub enum Input {
    Now(Vec<u8>),
    Later(std::sync::mpsc::Receiver<Vec<u8>>),
}

/// Runs the plan's rsync command `args` as it stands, with `first` (the directory made for this
/// copy) in place of [`SIDECAR`] (left out without one), the progress flag after `--stats`, and
/// `input` (the exclude rules, or the list) on its standard input. With `watch` (a connection not proven to
/// answer): when the cluster's side has not said it started within 2 s, the
/// connection is checked, and rsync is ended if it does not answer either (`stalled`).
pub fn run(
    version: RsyncVersion,
    shell: &RsyncShell,
    args: &[String],
    first: Option<&std::path::Path>,
    input: Input,
    watch: Option<crate::remote::Liveness>,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Stats, Failed> {
    let (program, rest) = args.split_first().expect("the plan's rsync command");
    let mut cmd = Command::new(program);
    cmd.env_clear().envs(&shell.vars);
    for a in rest {
        if a == SIDECAR {
            if let Some(dir) = first {
                let mut source = dir.as_os_str().to_os_string();
                source.push("/");
                cmd.arg(source);
            }
            continue;
        }
        cmd.arg(a);
        if a == "--stats" {
            cmd.arg(version.progress_flag());
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Failed {
        status: -1,
        stderr: format!("cannot start rsync: {e}"),
        stalled: false,
    })?;
    let heard = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicBool::new(false));
    let stalled = Arc::new(AtomicBool::new(false));
    if let Some(alive) = watch {
        watchdog(child.id(), alive, Arc::clone(&heard), Arc::clone(&ended), Arc::clone(&stalled));
    }
    let mut stdin = child.stdin.take().expect("piped");
    let started = std::time::Instant::now();
    let began = crate::ui::run_clock::since_start();
    let writer = std::thread::spawn(move || match input {
        Input::Now(list) => {
            let _ = stdin.write_all(&list);
            None
        }
        Input::Later(list) => {
            let list = list.recv().unwrap_or_default();
            let given = started.elapsed();
            let _ = stdin.write_all(&list);
            Some(given)
        }
    });
    let err_pipe = child.stderr.take().expect("piped");
    let heard_it = Arc::clone(&heard);
    let (err_tx, err_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Line by line, each tagged line's arrival noted (the phases of `Timing`).
        let mut text = String::new();
        let mut timing = Timing::default();
        let mut lines = std::io::BufReader::new(err_pipe);
        let mut line = Vec::new();
        while matches!(std::io::BufRead::read_until(&mut lines, b'\n', &mut line), Ok(n) if n > 0) {
            let l = String::from_utf8_lossy(&line);
            match crate::exchange::tags::<SnapReport>(&l).first() {
                Some(SnapReport::Receiving) => {
                    heard_it.store(true, Ordering::Relaxed);
                    timing.receiving.get_or_insert(started.elapsed());
                }
                Some(SnapReport::Finishing) => {
                    timing.finishing.get_or_insert(started.elapsed());
                }
                _ => {}
            }
            text.push_str(&l);
            line.clear();
        }
        let _ = err_tx.send((text, timing));
    });
    let mut out = child.stdout.take().expect("piped");
    let mut stats = Stats::default();
    let mut pending = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        // Progress lines end in `\r`, the rest in `\n`.
        while let Some(i) = pending.iter().position(|b| *b == b'\r' || *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(p) = parse_progress(&line) {
                on_progress(p);
            } else {
                read_stat(&line, &mut stats);
            }
        }
    }
    let status = child.wait().map(|s| s.code().unwrap_or(-1)).unwrap_or(-1);
    ended.store(true, Ordering::Relaxed);
    let took = started.elapsed();
    let listed = writer.join().ok().flatten();
    // Ended by the watchdog, ssh (rsync's child) may still hold standard error open on the
    // frozen connection until that ends: what it said so far is not waited for.
    let (stderr, timing) = if stalled.load(Ordering::Relaxed) {
        err_rx.recv_timeout(std::time::Duration::from_secs(1)).unwrap_or_default()
    } else {
        err_rx.recv().unwrap_or_default()
    };
    if status == 0 {
        Ok(Stats { stderr, timing: Timing { began, ended: took, listed, ..timing }, ..stats })
    } else {
        Err(Failed { status, stderr, stalled: stalled.load(Ordering::Relaxed) })
    }
}

/// Ends rsync (`pid`) when the cluster's side has not been heard from within 2 s and `alive`
/// says the connection does not answer either (within [`ANSWER_WITHIN`]) (a master whose
/// laptop slept: its socket answers, its connection carries nothing). A slow login shell is
/// not a dead connection: `alive` knows the difference.
fn watchdog(
    pid: u32,
    alive: crate::remote::Liveness,
    heard: Arc<AtomicBool>,
    ended: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        let quiet = || !heard.load(Ordering::Relaxed) && !ended.load(Ordering::Relaxed);
        // Heard from within 2 s on any healthy site; a slow one costs only the check below.
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(2) {
            if !quiet() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if quiet() && !alive(ANSWER_WITHIN) && quiet() {
            stalled.store(true, Ordering::Relaxed);
            end(pid);
        }
    });
}

/// Ends rsync and what it started (`hpcinit rsh` and its ssh), the descendants first: an ssh
/// whose master went away before its session opened signs in on its own (OpenSSH falls back
/// to a direct connection), which would be a second sign-in and a second copy.
#[cfg(unix)]
fn end(pid: u32) {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        all.extend(children(all[i]));
        i += 1;
    }
    for p in all.iter().rev() {
        // SAFETY: kill(2) on rsync and its descendants, found just now; rsync itself is this
        // process's child, still waited for, so its id cannot have been reused.
        unsafe {
            libc::kill(*p as libc::pid_t, libc::SIGTERM);
        }
    }
}

/// The processes whose parent is `pid` (`pgrep -P`, on Linux and macOS alike).
#[cfg(unix)]
fn children(pid: u32) -> Vec<u32> {
    Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

#[cfg(not(unix))]
fn end(_pid: u32) {}

fn number(s: &str) -> Option<u64> {
    s.replace([',', '.'], "").parse().ok()
}

/// `   1,234,567  45%   10.00MB/s    0:00:03 (xfr#12, to-chk=3/5001)`.
pub fn parse_progress(line: &str) -> Option<Progress> {
    let mut words = line.split_whitespace();
    let bytes = number(words.next()?)?;
    let percent = words.next()?.strip_suffix('%')?.parse().ok()?;
    Some(Progress { bytes, percent })
}

fn read_stat(line: &str, stats: &mut Stats) {
    let line = line.trim();
    let value =
        |prefix: &str| line.strip_prefix(prefix).and_then(|r| r.split_whitespace().next()).and_then(number);
    if let Some(v) = value("Total bytes sent:") {
        stats.bytes_sent = v;
    } else if let Some(v) = value("Number of regular files transferred:") {
        stats.files_transferred = v;
    } else if let Some(v) = value("Number of files transferred:") {
        stats.files_transferred = v;
    }
}

/// What rsync's exit status means, for the error line.
pub fn meaning(status: i32) -> &'static str {
    match status {
        1 | 2 => "rsync and the cluster's rsync disagree on an option",
        3 | 11 => "a file or directory could not be written on the cluster (quota? permissions?)",
        5 | 12 => "the connection to the cluster's rsync broke (is rsync installed there?)",
        10 | 255 => "the shared connection is gone",
        20 => "it was interrupted",
        23 => "some files could not be read or written",
        24 => "files vanished while they were copied",
        30 | 35 => "it timed out",
        _ => "rsync failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            RsyncVersion::parse("rsync  version 3.2.7  protocol version 31").unwrap(),
            RsyncVersion { major: 3, minor: 2 }
        );
        let old = RsyncVersion::parse("rsync  version 2.6.9  protocol version 29").unwrap();
        assert_eq!(old.progress_flag(), "--progress");
        assert!(RsyncVersion::parse("openrsync: protocol version 29").is_err());
    }

    #[test]
    fn the_version_is_remembered_for_the_rsync_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("state/rsync-version");
        let Some(key) = on_path("rsync") else {
            // No rsync here: nothing to remember, and the answer says why.
            assert!(RsyncVersion::local_remembered(&cache).is_err());
            return;
        };
        // Asked once, then remembered with the program's description.
        let asked = RsyncVersion::local_remembered(&cache);
        let text = std::fs::read_to_string(&cache).expect("remembered");
        assert!(text.starts_with(&format!("{key}\n")), "{text}");
        assert_eq!(asked, RsyncVersion::local());
        // The remembered line is what answers while the program is the same one…
        std::fs::write(&cache, format!("{key}\nrsync  version 3.0.9  protocol version 30\n")).unwrap();
        assert_eq!(RsyncVersion::local_remembered(&cache), Ok(RsyncVersion { major: 3, minor: 0 }));
        // …and another program (another path, size, time or inode) is asked again.
        std::fs::write(&cache, "/elsewhere/rsync\t1\t1.0\t1\nrsync  version 3.0.9  protocol version 30\n")
            .unwrap();
        assert_eq!(RsyncVersion::local_remembered(&cache), RsyncVersion::local());
    }

    #[test]
    fn progress_and_stats_lines() {
        assert_eq!(
            parse_progress("    123,456,789  45%   10.00MB/s    0:00:03 (xfr#12, to-chk=3/5001)"),
            Some(Progress { bytes: 123_456_789, percent: 45 })
        );
        assert_eq!(parse_progress("Number of files: 3 (reg: 2, dir: 1)"), None);
        let mut s = Stats::default();
        read_stat("Total bytes sent: 12,345", &mut s);
        read_stat("Number of regular files transferred: 1", &mut s);
        assert_eq!((s.bytes_sent, s.files_transferred), (12_345, 1));
    }
}
