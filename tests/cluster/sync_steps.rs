//! Code snapshots, by the real `hpcinit` binary against the test cluster: what is sent (not
//! `.git`, not what git ignores, not venvs or caches; odd names intact), hard links to the
//! previous snapshot for unchanged files, a transfer killed halfway that never becomes `latest`
//! and is finished by a rerun, `--keep`, `--dry-run`, the SFTP route of the ssh2 transport, one
//! authentication on the second-factor node, and a queued Slurm job that keeps running the
//! snapshot it was submitted with. Each test uses its own project name.

use super::ssh_steps::{Laptop, LogWindow, Run};
use super::SERIAL;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const SSH_ONLY: &[&str] =
    &["--user", "hpcuser", "--yes", "--accept-new-host-key", "--no-passphrase", "--ssh-only"];

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: exit {}\nstdout:\n{}\nstderr:\n{}", r.code, r.stdout, r.stderr);
}

/// The project's snapshot directory, as this machine sees the cluster's scratch.
fn snapshots(l: &Laptop, project: &str) -> PathBuf {
    l.c.dir.join("scratch/hpcuser/code-snapshots").join(project)
}

/// Removes a test's snapshots before and after it.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cleanup(l: &Laptop, project: &str) -> Cleanup {
    let _ = std::fs::remove_dir_all(snapshots(l, project));
    Cleanup(snapshots(l, project))
}

fn signed_in(l: &Laptop, site: &str) {
    let mut args = vec!["--site", site];
    args.extend_from_slice(SSH_ONLY);
    ok(&l.hpcinit(&args, &[]), "SSH setup");
}

fn sync(l: &Laptop, site: &str, project: &str, extra: &[&str]) -> Run {
    let mut args = vec!["sync", "--site", site, "--user", "hpcuser", "--project-name", project, "-v"];
    args.extend_from_slice(extra);
    l.hpcinit(&args, &[])
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.org"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A git project with files that must arrive and files that must not.
fn project(l: &Laptop) -> Vec<&'static str> {
    let r = &l.project;
    git(r, &["init", "-q"]);
    write(r, ".gitignore", b"data/\n*.log\n");
    write(r, "main.py", b"print(open('VERSION').read())\n");
    write(r, "VERSION", b"A\n");
    write(r, "pkg/model.py", b"x = 1\n");
    write(r, "file with spaces.py", b"spaces\n");
    write(r, "quote'd \"double\".py", b"quotes\n");
    write(r, "-leading-dash.py", b"dash\n");
    write(r, "data/huge.bin", b"ignored");
    write(r, "run.log", b"ignored");
    write(r, ".venv/pyvenv.cfg", b"home = /usr/bin\n");
    write(r, "env2/pyvenv.cfg", b"home = /usr/bin\n");
    write(r, "env2/lib/x.py", b"venv");
    write(r, "pkg/__pycache__/model.cpython-311.pyc", b"cache");
    write(r, ".hpcinitignore", b"scratchpad/\n");
    write(r, "scratchpad/notes.txt", b"own exclude");
    git(r, &["add", "-A"]);
    git(r, &["commit", "-qm", "first"]);
    vec![
        ".gitignore",
        ".hpcinitignore",
        "main.py",
        "VERSION",
        "pkg/model.py",
        "file with spaces.py",
        "quote'd \"double\".py",
        "-leading-dash.py",
    ]
}

const ABSENT: &[&str] = &[".git", "data", "run.log", ".venv", "env2", "pkg/__pycache__", "scratchpad"];

/// The snapshot directories (with hpcinit's marker), oldest first.
fn snapshot_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                // Dot directories are hpcinit's work in progress: the background copy for the
                // next sync holds a marker for a moment.
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter(|e| {
                    e.path().join(".hpcinit-snapshot").is_file() && !e.file_type().unwrap().is_symlink()
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn latest(dir: &Path) -> String {
    std::fs::read_link(dir.join("latest")).map(|p| p.display().to_string()).unwrap_or_default()
}

fn assert_content(l: &Laptop, snap: &Path, present: &[&str]) {
    for rel in present {
        let there = std::fs::read(snap.join(rel))
            .unwrap_or_else(|e| panic!("{rel} missing in {}: {e}", snap.display()));
        assert_eq!(there, std::fs::read(l.project.join(rel)).unwrap(), "{rel} arrives byte for byte");
        let mode = std::fs::metadata(snap.join(rel)).unwrap().permissions().mode();
        assert_eq!(mode & 0o222, 0, "{rel} is read-only in the snapshot: {mode:o}");
    }
    for rel in ABSENT {
        assert!(!snap.join(rel).exists(), "{rel} must not be sent");
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn snapshots_hold_the_code_link_unchanged_files_and_skip_what_git_ignores() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "sync-basic";
    let _c = cleanup(&l, p);
    let present = project(&l);
    let sha = git(&l.project, &["rev-parse", "--short", "HEAD"]);
    signed_in(&l, "sandbox");
    let dir = snapshots(&l, p);

    let r = sync(&l, "sandbox", p, &[]);
    ok(&r, "first sync");
    let first = snapshot_names(&dir);
    assert_eq!(first.len(), 1, "{first:?}");
    let re = regex::Regex::new(&format!(r"^\d{{8}}T\d{{6}}Z-{sha}$")).unwrap();
    assert!(re.is_match(&first[0]), "named <UTC time>-<git sha>: {}", first[0]);
    assert_eq!(latest(&dir), first[0]);
    assert_content(&l, &dir.join("latest"), &present);
    let marker = std::fs::read_to_string(dir.join("latest/.hpcinit-snapshot")).unwrap();
    assert!(marker.contains(&format!("git: {sha}")), "{marker}");

    // One file changes: a new snapshot where every other file is the same inode.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write(&l.project, "VERSION", b"B\n");
    let r = sync(&l, "sandbox", p, &[]);
    ok(&r, "second sync");
    assert!(r.stdout.contains("sent for 1 changed"), "{}", r.stdout);
    // rsync's own connection moves latest: no second round trip, no second listing.
    assert!(r.stdout.contains("1 round trip in this step"), "{}", r.stdout);
    let names = snapshot_names(&dir);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[1].ends_with(&format!("{sha}-dirty")), "uncommitted change: {}", names[1]);
    assert_eq!(latest(&dir), names[1]);
    let (a, b) = (dir.join(&names[0]), dir.join(&names[1]));
    for rel in present.iter().filter(|r| **r != "VERSION") {
        assert_eq!(
            std::fs::metadata(a.join(rel)).unwrap().ino(),
            std::fs::metadata(b.join(rel)).unwrap().ino(),
            "{rel} is a hard link to the previous snapshot"
        );
    }
    assert_eq!(std::fs::read(a.join("VERSION")).unwrap(), b"A\n", "the old snapshot is untouched");
    assert_eq!(std::fs::read(b.join("VERSION")).unwrap(), b"B\n");
    assert_content(&l, &b, &present);

    // Nothing changed: no new snapshot.
    let r = sync(&l, "sandbox", p, &[]);
    ok(&r, "third sync");
    assert!(r.stdout.contains("· unchanged: ~/scratch/code-snapshots/sync-basic/latest"), "{}", r.stdout);
    assert_eq!(snapshot_names(&dir).len(), 2);

    // --dry-run lists the change and copies nothing.
    write(&l.project, "pkg/new.py", b"new\n");
    std::fs::remove_file(l.project.join("file with spaces.py")).unwrap();
    let r = sync(&l, "sandbox", p, &["--dry-run"]);
    ok(&r, "dry run");
    assert!(r.stdout.contains("  + pkg/new.py"), "{}", r.stdout);
    assert!(r.stdout.contains("  - file with spaces.py"), "{}", r.stdout);
    assert!(r.stdout.contains("Nothing was copied"), "{}", r.stdout);
    assert_eq!(snapshot_names(&dir).len(), 2);
    assert!(!dir.join(".hpcinit-incoming").exists());

    // --keep 1 removes the older hpcinit snapshot, never latest, never a directory of the person's.
    std::fs::create_dir_all(dir.join("my-notes")).unwrap();
    let r = sync(&l, "sandbox", p, &["--keep", "1"]);
    ok(&r, "sync with --keep 1");
    let names = snapshot_names(&dir);
    assert_eq!(names.len(), 1, "{names:?}\n{}", r.stdout);
    assert_eq!(latest(&dir), names[0]);
    assert!(dir.join("my-notes").is_dir(), "a directory without hpcinit's marker is never pruned");
    assert!(dir.join("latest/pkg/new.py").is_file() && !dir.join("latest/file with spaces.py").exists());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn verify_and_doctor_find_a_snapshot_changed_on_the_cluster() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "sync-verify";
    let _c = cleanup(&l, p);
    project(&l);
    signed_in(&l, "sandbox");
    let dir = snapshots(&l, p);
    let r = sync(&l, "sandbox", p, &["--verify"]);
    ok(&r, "sync --verify");
    assert!(
        r.stdout.contains("holds exactly the") && r.stdout.contains("which is this project as it is now"),
        "{}",
        r.stdout
    );
    // The manifest in the snapshot is the one hpcinit listed, and its marker records its hash.
    let manifest = std::fs::read(dir.join("latest/.hpcinit-manifest")).unwrap();
    let marker = std::fs::read_to_string(dir.join("latest/.hpcinit-snapshot")).unwrap();
    let sha = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&manifest));
    assert!(marker.contains(&format!("manifest-sha256: {sha}")), "{marker}");
    assert!(!dir.join("latest/.hpcinit-finish").exists(), "the finishing script is not part of a snapshot");

    // Someone changes a file of the snapshot on the cluster.
    let victim = dir.join("latest/VERSION");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&victim, b"edited on the cluster\n").unwrap();
    let r = sync(&l, "sandbox", p, &["--verify"]);
    assert_ne!(r.code, 0, "a damaged snapshot fails --verify\n{}", r.stdout);
    assert!(r.stderr.contains("differ from its manifest") && r.stderr.contains("~ VERSION"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: "), "{}", r.stderr);
    let d = l.hpcinit(&["doctor", "--site", "sandbox", "--user", "hpcuser", "--project-name", p], &[]);
    assert!(
        d.stdout
            .lines()
            .any(|l| l.contains("code snapshot") && l.contains("1 file(s) differ from its manifest")),
        "{}\n{}",
        d.stdout,
        d.stderr
    );
}

/// Files big enough that a bandwidth-limited copy takes seconds.
fn big_files(l: &Laptop, n: usize) {
    let mut seed = 0x2545_f491_u64;
    for i in 0..n {
        let mut data = vec![0u8; 512 * 1024];
        for b in data.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        write(&l.project, &format!("weights/part-{i:02}.bin"), &data);
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_copy_killed_halfway_never_becomes_latest_and_a_rerun_finishes_it() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "sync-killed";
    let _c = cleanup(&l, p);
    write(&l.project, "main.py", b"print('v1')\n");
    signed_in(&l, "sandbox");
    let dir = snapshots(&l, p);
    ok(&sync(&l, "sandbox", p, &[]), "first snapshot");
    let before = latest(&dir);
    assert!(!before.is_empty());

    // 20 files of 512 KiB at 1 MiB/s: about ten seconds; killed once a few have arrived.
    big_files(&l, 20);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hpcinit"));
    cmd.args(["sync", "--site", "sandbox", "--user", "hpcuser", "--project-name", p, "--bwlimit", "1M"])
        .current_dir(&l.project)
        .env_clear()
        .env("HOME", l.home.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().unwrap();
    let incoming = dir.join(".hpcinit-incoming/weights");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_dir(&incoming).map(|d| d.count()).unwrap_or(0) < 4 {
        assert!(std::time::Instant::now() < deadline, "the copy never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Like Ctrl-C's whole process group, but without a chance to clean up: SIGKILL.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    let mut child = child;
    let _ = child.wait();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(latest(&dir), before, "latest still names the previous snapshot");
    assert_eq!(snapshot_names(&dir), vec![before.clone()], "no half snapshot is named as one");
    assert!(!dir.join("latest/weights").exists());

    // The rerun completes, reusing what had arrived.
    let r = sync(&l, "sandbox", p, &[]);
    ok(&r, "rerun");
    let now = latest(&dir);
    assert_ne!(now, before);
    for i in 0..20 {
        let rel = format!("weights/part-{i:02}.bin");
        assert_eq!(
            std::fs::read(dir.join("latest").join(&rel)).unwrap(),
            std::fs::read(l.project.join(&rel)).unwrap()
        );
    }
    let sent: usize = regex::Regex::new(r"sent for (\d+) changed")
        .unwrap()
        .captures(&r.stdout)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(sent < 20, "the files that had arrived are reused, not sent again: {sent} sent\n{}", r.stdout);
    assert!(!dir.join(".hpcinit-incoming").exists() && !dir.join(".hpcinit-previous").exists());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn over_ssh2_the_same_snapshot_is_filled_by_sftp() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "sync-sftp";
    let _c = cleanup(&l, p);
    let present = project(&l);
    signed_in(&l, "sandbox");
    let dir = snapshots(&l, p);
    let ssh2 = ["--transport", "ssh2"];
    ok(&sync(&l, "sandbox", p, &ssh2), "first sync over SFTP");
    let first = latest(&dir);
    assert_content(&l, &dir.join("latest"), &present);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write(&l.project, "VERSION", b"B\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink("pkg/model.py", l.project.join("model-link.py")).unwrap();
    let r = sync(&l, "sandbox", p, &ssh2);
    ok(&r, "second sync over SFTP");
    assert!(r.stdout.contains("SFTP: 1 files"), "only the changed file is sent: {}", r.stdout);
    let second = latest(&dir);
    assert_ne!(first, second);
    let (a, b) = (dir.join(&first), dir.join(&second));
    assert_eq!(
        std::fs::metadata(a.join("main.py")).unwrap().ino(),
        std::fs::metadata(b.join("main.py")).unwrap().ino()
    );
    assert_eq!(std::fs::read(b.join("VERSION")).unwrap(), b"B\n");
    assert_eq!(std::fs::read(a.join("VERSION")).unwrap(), b"A\n", "the old snapshot is untouched");
    assert_eq!(std::fs::read_link(b.join("model-link.py")).unwrap(), PathBuf::from("pkg/model.py"));
    // The OpenSSH route sees the SFTP snapshot as up to date: both make the same manifest.
    let r = sync(&l, "sandbox", p, &[]);
    ok(&r, "rsync route after SFTP");
    assert!(r.stdout.contains("already holds this code"), "{}", r.stdout);
    assert_eq!(latest(&dir), second, "no new snapshot");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn on_the_second_factor_node_a_sync_costs_no_authentication() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "sync-mfa";
    let _c = cleanup(&l, p);
    write(&l.project, "main.py", b"print(1)\n");
    signed_in(&l, "sandbox-mfa");
    let prompts = l.prompts().len();
    let log = LogWindow::open(&l.c, true);
    let r = sync(&l, "sandbox-mfa", p, &[]);
    ok(&r, "sync");
    assert_eq!(log.accepted(), 0, "the sync rides on the open connection:\n{}", log.text());
    assert_eq!(l.prompts().len(), prompts, "nothing asked");
    assert!(snapshots(&l, p).join("latest/main.py").is_file());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn the_open_connection_is_found_without_starting_ssh() {
    // hpcinit asks the master's socket itself (`ssh -O check` costs a process start per sync):
    // the socket it computes is the one ssh uses, on the plain and the second-factor node, and
    // it answers while the master runs and not after it ends.
    use hpcinit::remote::control_socket;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let home = l.home.path().to_str().unwrap().to_string();
    for site in ["sandbox", "sandbox-mfa"] {
        signed_in(&l, site);
        let g = l.ssh(&["-G", site]);
        let g = String::from_utf8_lossy(&g.stdout).to_string();
        let value = |k: &str| g.lines().find_map(|l| l.strip_prefix(&format!("{k} "))).unwrap().to_string();
        let template = hpcinit::plan::ssh_config::control_path(&home).0;
        let local = control_socket::local_host().expect("this machine's name");
        let port: u16 = value("port").parse().unwrap();
        let socket = control_socket::path_for(&template, &local, &value("hostname"), port, &value("user"));
        assert_eq!(socket.as_deref(), Some(Path::new(&value("controlpath"))), "{site}: ssh -G says\n{g}");
        let socket = socket.unwrap();
        assert_eq!(control_socket::alive(&socket), Some(true), "{site}: the master answers");
        let _ = l.ssh(&["-O", "exit", site]);
        assert_eq!(control_socket::alive(&socket), None, "{site}: no master, no answer");
    }
}

/// Runs a login-shell command on the cluster over the laptop's open connection.
fn on_cluster(l: &Laptop, script: &str) -> String {
    let out = l.ssh(&[
        "-o",
        "BatchMode=yes",
        "sandbox",
        &format!("bash -l -c '{}'", script.replace('\'', "'\\''")),
    ]);
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn job_log(l: &Laptop, id: &str, project: &str) -> String {
    let log = l.c.dir.join(format!("scratch/hpcuser/logs/{project}-{id}.out"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let state = on_cluster(l, &format!("squeue -h -j {id} -o %T"));
        if state.is_empty() {
            if let Ok(t) = std::fs::read_to_string(&log) {
                return t;
            }
        }
        assert!(std::time::Instant::now() < deadline, "job {id} did not finish: {state}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_queued_job_runs_the_snapshot_it_was_submitted_with() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "sync-pinned";
    let _c = cleanup(&l, p);
    write(&l.project, "main.py", b"print('version', open('VERSION').read().strip())\n");
    write(&l.project, "VERSION", b"A\n");
    // The whole bootstrap: its sync step makes the first snapshot, its templates step the job script.
    let r = l.hpcinit(
        &[
            "--site",
            "sandbox",
            "--user",
            "hpcuser",
            "--project-name",
            p,
            "--yes",
            "--accept-new-host-key",
            "--no-passphrase",
        ],
        &[],
    );
    ok(&r, "bootstrap");
    let dir = snapshots(&l, p);
    let first = latest(&dir);
    assert!(!first.is_empty(), "the bootstrap made a snapshot:\n{}", r.stdout);
    let script = format!("~/sbatch/{p}.sh");
    let cleanup_script = l.c.dir.join(format!("home/hpcuser/sbatch/{p}.sh"));
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
            let _ = std::fs::remove_file(
                self.0.with_file_name(self.0.file_stem().unwrap().to_string_lossy().into_owned() + "-env.sh"),
            );
        }
    }
    let _rm = Rm(cleanup_script);
    // Submitted on hold, so it waits in the queue while the code changes.
    let held = on_cluster(&l, &format!("cd ~/scratch && sbatch --parsable --hold {script}"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write(&l.project, "VERSION", b"B\n");
    ok(&sync(&l, "sandbox", p, &[]), "sync while the job waits");
    let second = latest(&dir);
    assert_ne!(first, second);
    let fresh = on_cluster(&l, &format!("cd ~/scratch && sbatch --parsable {script}"));
    on_cluster(&l, &format!("scontrol release {held}"));
    let old = job_log(&l, &held, p);
    assert!(old.contains("version A"), "the queued job runs the code it was submitted with:\n{old}");
    assert!(old.contains(&format!("code snapshot {}", dir.join(&first).display())), "{old}");
    let new = job_log(&l, &fresh, p);
    assert!(new.contains("version B"), "a job submitted after the sync runs the new code:\n{new}");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_first_bootstrap_of_a_clean_checkout_names_its_snapshot_without_dirty() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "clean-first";
    let _c = cleanup(&l, p);
    let r = &l.project;
    git(r, &["init", "-q"]);
    write(r, "main.py", b"print('clean')\n");
    write(r, "requirements.txt", b"hpcinit-demo==1.0\n");
    git(r, &["add", "-A"]);
    git(r, &["commit", "-qm", "first"]);
    let sha = git(r, &["rev-parse", "--short", "HEAD"]);
    let run = l.hpcinit(
        &[
            "--site",
            "sandbox",
            "--user",
            "hpcuser",
            "--yes",
            "--accept-new-host-key",
            "--no-passphrase",
            "--project-name",
            p,
        ],
        &[],
    );
    ok(&run, "bootstrap");
    // The bootstrap wrote hpcinit.lock into the work tree before the snapshot: the person's
    // code is the commit, and the name says so; the snapshot holds the lock as written.
    assert!(l.project.join("hpcinit.lock").is_file());
    let names = snapshot_names(&snapshots(&l, p));
    assert_eq!(names.len(), 1, "{names:?}");
    let re = regex::Regex::new(&format!(r"^\d{{8}}T\d{{6}}Z-{sha}$")).unwrap();
    assert!(re.is_match(&names[0]), "a clean name: {}", names[0]);
    assert!(snapshots(&l, p).join("latest/hpcinit.lock").is_file());
    let _ = std::fs::remove_dir_all(l.c.dir.join(format!("home/hpcuser/venvs/{p}")));
}

/// Sets `rel`'s modification time to `secs` since the epoch (whole seconds), as `touch -d @S`.
fn set_mtime(path: &Path, secs: i64) {
    let st = Command::new("touch").arg("-m").arg("-d").arg(format!("@{secs}")).arg(path).status().unwrap();
    assert!(st.success());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn every_change_the_listing_could_miss_reaches_the_next_snapshot() {
    edge_cases("sync-edge-cases", &[]);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn over_sftp_every_change_the_listing_could_miss_reaches_the_next_snapshot() {
    edge_cases("sync-edge-cases-sftp", &["--transport", "ssh2"]);
}

/// A same-second edit, an edit that keeps size and time, a file turned into a directory and a
/// deleted file, a directory turned back into a file, links re-pointed or turned into files,
/// each synced with `extra` (the transport); then a sync with nothing changed, and (over rsync)
/// a sync after another machine's snapshot and one after an interrupted copy. Over rsync, every
/// sync after the first sends only what changed since the last, unless the cluster no longer
/// holds that snapshot; after each, `sync --verify` finds `latest` equal to its manifest and to
/// the project.
fn edge_cases(project: &str, extra: &[&str]) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    signed_in(&l, "sandbox");
    let r = &l.project;
    git(r, &["init", "-q"]);
    write(r, "same_second.py", b"version = 1\n");
    write(r, "kept_time.py", b"AAAA\n");
    write(r, "becomes_dir", b"a file first\n");
    write(r, "deleted.py", b"goes away\n");
    write(r, "weights.bin", &vec![b'a'; 300 * 1024]);
    std::os::unix::fs::symlink("kept_time.py", r.join("link.py")).unwrap();
    std::os::unix::fs::symlink("kept_time.py", r.join("link_becomes_file.py")).unwrap();
    let dir = snapshots(&l, project);
    let content = |rel: &str| std::fs::read(dir.join(latest(&dir)).join(rel)).ok();
    let rsync = extra.is_empty();
    // A sync that sent only what changed (over rsync), and whose snapshot `--verify` finds
    // equal to its manifest and to the project.
    let synced = |what: &str, changes_only: bool| {
        let out = sync(&l, "sandbox", project, extra);
        ok(&out, what);
        if rsync {
            let only = out.stdout.contains("only what changed since the last snapshot from here")
                && !out.stdout.contains("copying the whole project");
            assert_eq!(only, changes_only, "{what}: a copy of the changes only? {}", out.stdout);
            // With an index to name the base, rsync starts while the project is listed.
            let primed = out.stdout.contains("remote, started before the listing ended");
            assert!(
                primed || !changes_only,
                "{what}: rsync started before the listing ended? {}",
                out.stdout
            );
        }
        let v = sync(&l, "sandbox", project, &["--verify"]);
        ok(&v, &format!("{what}: --verify"));
        assert!(v.stdout.contains("which is this project as it is now"), "{what}: {}", v.stdout);
        out
    };

    // 1. An edit in the same second as the previous sync, keeping the size: the snapshot's
    //    record (size and whole-second time) does not change.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    set_mtime(&r.join("same_second.py"), now + 5);
    synced("the first sync", false);
    write(r, "same_second.py", b"version = 2\n");
    set_mtime(&r.join("same_second.py"), now + 5);
    synced("a sync after an edit in the same second", true);
    assert_eq!(content("same_second.py").as_deref(), Some(&b"version = 2\n"[..]), "the same-second edit");

    // 2. An edit that keeps size and time (`touch -r` after writing).
    let before = std::fs::metadata(r.join("kept_time.py")).unwrap().mtime();
    write(r, "kept_time.py", b"BBBB\n");
    set_mtime(&r.join("kept_time.py"), before);
    synced("a sync after an edit that kept size and time", true);
    assert_eq!(content("kept_time.py").as_deref(), Some(&b"BBBB\n"[..]), "the edit with the old time");
    // The same with a file too big to go with the finishing script: rsync compares every file.
    let before = std::fs::metadata(r.join("weights.bin")).unwrap().mtime();
    write(r, "weights.bin", &vec![b'b'; 300 * 1024]);
    set_mtime(&r.join("weights.bin"), before);
    let big = synced("a sync after a big file's edit that kept size and time", true);
    if rsync {
        assert!(big.stdout.contains("rsync --ignore-times"), "{}", big.stdout);
    }
    assert_eq!(content("weights.bin"), Some(vec![b'b'; 300 * 1024]), "the big edit with the old time");

    // 3. A file replaced by a directory, and 4. a deleted file.
    std::fs::remove_file(r.join("becomes_dir")).unwrap();
    write(r, "becomes_dir/inside.py", b"now a directory\n");
    std::fs::remove_file(r.join("deleted.py")).unwrap();
    synced("a sync after a file became a directory and one was deleted", true);
    assert_eq!(content("becomes_dir/inside.py").as_deref(), Some(&b"now a directory\n"[..]));
    assert!(content("deleted.py").is_none(), "the deleted file is not in the new snapshot");

    // 5. The directory becomes a file again; a link is re-pointed, another becomes a file.
    std::fs::remove_dir_all(r.join("becomes_dir")).unwrap();
    write(r, "becomes_dir", b"a file again\n");
    std::fs::remove_file(r.join("link.py")).unwrap();
    std::os::unix::fs::symlink("same_second.py", r.join("link.py")).unwrap();
    std::fs::remove_file(r.join("link_becomes_file.py")).unwrap();
    write(r, "link_becomes_file.py", b"a file now\n");
    synced("a sync after a directory became a file and links changed", true);
    assert_eq!(content("becomes_dir").as_deref(), Some(&b"a file again\n"[..]));
    let snap = dir.join(latest(&dir));
    assert_eq!(std::fs::read_link(snap.join("link.py")).unwrap(), Path::new("same_second.py"));
    assert!(!std::fs::symlink_metadata(snap.join("link_becomes_file.py")).unwrap().is_symlink());

    // And a sync with nothing changed makes no new snapshot.
    let names = snapshot_names(&dir);
    let again = synced("a sync with nothing changed", true);
    assert_eq!(snapshot_names(&dir), names, "no new snapshot: {}", again.stdout);

    if rsync {
        // 6. Another machine's snapshot since this one's last: the cluster holds no copy of the
        //    snapshot this machine's changes are against, and the whole project is compared.
        let other = Laptop::new();
        signed_in(&other, "sandbox");
        copy_tree(r, &other.project);
        write(&other.project, "from_elsewhere.py", b"another laptop\n");
        ok(&sync(&other, "sandbox", project, &[]), "a sync from another machine");
        let _ = other.ssh(&["-O", "exit", "sandbox"]);
        write(r, "same_second.py", b"version = 3, longer\n");
        let whole = synced("a sync after another machine's snapshot", false);
        assert!(whole.stdout.contains("copying the whole project"), "{}", whole.stdout);
        assert!(content("from_elsewhere.py").is_none(), "this machine's project, not the other's");
        assert_eq!(content("same_second.py").as_deref(), Some(&b"version = 3, longer\n"[..]));

        // 7. An interrupted copy left on the cluster: finished by a whole comparison.
        on_cluster(
            &l,
            &format!(
                "cd ~/scratch/code-snapshots/{project} && mkdir .hpcinit-incoming && echo half > .hpcinit-incoming/stray.py"
            ),
        );
        write(r, "kept_time.py", b"CCCCCC\n");
        let whole = synced("a sync after an interrupted copy", false);
        assert!(whole.stdout.contains("copying the whole project"), "{}", whole.stdout);
        assert!(content("stray.py").is_none(), "what the interrupted copy left is not in the snapshot");
        assert_eq!(content("kept_time.py").as_deref(), Some(&b"CCCCCC\n"[..]));
        synced("the sync after that", true);

        // 8. An index whose first line names the base but whose rest cannot be read: rsync,
        //    started on the first line, gets an empty list; the cluster keeps its copy of the
        //    base for the next sync, and the whole project is compared.
        let state = l.home.path().join(".local/state/hpcinit/sync");
        let index = std::fs::read_dir(&state)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "index"));
        let index = index.expect("the last sync's index");
        let text = std::fs::read_to_string(&index).unwrap();
        let head = text.lines().next().unwrap().to_string();
        std::fs::write(&index, format!("{head}\nnot a record\n")).unwrap();
        // (A new size: without an index the records are trusted, as on a first sync.)
        write(r, "kept_time.py", b"DDDDDDDD\n");
        let out = sync(&l, "sandbox", project, &[]);
        ok(&out, "a sync with an unreadable index");
        assert!(out.stdout.contains("remote, started before the listing ended"), "{}", out.stdout);
        assert!(!out.stdout.contains("only what changed since the last snapshot"), "{}", out.stdout);
        assert!(
            !out.stdout.contains("copying the whole project"),
            "no interrupted copy was left: {}",
            out.stdout
        );
        assert_eq!(content("kept_time.py").as_deref(), Some(&b"DDDDDDDD\n"[..]));
        assert!(!dir.join(".hpcinit-incoming").exists(), "nothing is left half-made");
        write(r, "kept_time.py", b"EEEEEE\n");
        synced("the sync after an unreadable index", true);
        assert_eq!(content("kept_time.py").as_deref(), Some(&b"EEEEEE\n"[..]));
    }
    let _ = l.ssh(&["-O", "exit", "sandbox"]);
}

/// Copies the files and links under `from` into `to` (no `.git`).
fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().unwrap();
        if e.file_name() == ".git" {
            continue;
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if t.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}
