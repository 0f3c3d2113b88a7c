//! Faults, run by the real `hpcinit` binary against the test cluster. Each asserts a clear
//! error, the exit code, and that nothing was lost or marked done (a re-run then finishes):
//! the network dropping during the venv build and during the copy (a relay the test cuts),
//! sshd down after set-up, scratch full (a small tmpfs mounted for the test), a quota command
//! that fails, the host key changed after set-up (every command refuses), a wrong one-time
//! code, a read-only `~/.ssh/config` (mode 0444, and a read-only file system behind a link),
//! a config that is a symlink, and two hpcinit runs at once.
//!
//! Cases covered elsewhere: hostile input (`tests/cli.rs`), truncated profiles and answers
//! files (`tests/cli.rs`), a wrong password (`ssh_steps::wrong_password_says_what_the_site_asks_for`),
//! hpcinit killed during the copy (`sync_steps::a_copy_killed_halfway_never_becomes_latest_and_a_rerun_finishes_it`),
//! a failed install (`remote_steps::a_failed_install_leaves_the_previous_venv_working_and_a_fixed_rerun_succeeds`),
//! any text in `~/.ssh/config` (the property test in `src/local/include.rs`).

use super::remote_steps::{cleanup, ok as run_ok, remote_home};
use super::ssh_steps::{profile_variant, Laptop, LogWindow, Run};
use super::SERIAL;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A TCP relay to the plain sshd that the test controls: `cut` drops every open connection
/// (the network going), `close` also stops listening (sshd down: connections are refused).
struct Relay {
    port: u16,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    open: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(target: u16) -> Relay {
        Relay::on(0, target)
    }

    /// On `port` (0: any free one).
    fn on(port: u16, target: u16) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let open = Arc::new(AtomicBool::new(true));
        let (c, o) = (Arc::clone(&conns), Arc::clone(&open));
        let thread = std::thread::spawn(move || {
            while o.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((down, _)) => {
                        down.set_nonblocking(false).unwrap();
                        let Ok(up) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                        c.lock().unwrap().extend([down.try_clone().unwrap(), up.try_clone().unwrap()]);
                        for (mut from, mut to) in
                            [(down.try_clone().unwrap(), up.try_clone().unwrap()), (up, down)]
                        {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(Shutdown::Write);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Relay { port, conns, open, thread: Some(thread) }
    }

    fn cut(&self) {
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn close(&mut self) {
        self.open.store(false, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.cut();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.close();
    }
}

/// The plain test node reached through `relay`, as site `name`.
fn via_relay(l: &Laptop, name: &str, relay: &Relay, edit: impl Fn(String) -> String) -> PathBuf {
    let port = relay.port;
    profile_variant(l, "sandbox", name, |t| {
        edit(t.replacen("  port: 2222\n", &format!("  port: {port}\n"), 1))
    })
}

fn args<'a>(profile: &'a Path, site: &'a str, project: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--profile", profile.to_str().unwrap(), "--site", site, "--user", "hpcuser"];
    v.extend_from_slice(&["--project-name", project, "--yes", "--accept-new-host-key", "--no-passphrase"]);
    v.extend_from_slice(extra);
    v
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn failed(r: &Run, code: i32, what: &str) {
    assert_eq!(r.code, code, "{what}: exit {}\nstdout:\n{}\nstderr:\n{}", r.code, r.stdout, r.stderr);
    assert!(r.stderr.contains("error:"), "{what}: an error is printed:\n{}", r.stderr);
}

/// Names in `dir` starting with `prefix`.
fn named(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.retain(|n| n.starts_with(prefix));
    v.sort();
    v
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn the_network_dropping_during_the_venv_build_leaves_no_half_environment() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "fault-venv";
    let _c = cleanup(&l, p);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
    std::fs::write(l.project.join("main.py"), "import hpcinit_demo\n").unwrap();
    let relay = Relay::start(2222);
    let profile = via_relay(&l, "relayed", &relay, |t| t);
    let venvs = remote_home(&l).join("venvs");
    let run = args(&profile, "relayed", p, &[]);
    let template = remote_home(&l).join(format!("sbatch/{p}.sh"));
    let _ = std::fs::remove_file(&template);
    let r = std::thread::scope(|s| {
        let h = s.spawn(|| l.hpcinit(&run, &[]));
        // Cut once the new environment's directory exists (the build, started early, is under
        // way) and the templates, written meanwhile, are there: the run is waiting for the build.
        wait_for("the venv build", 60, || {
            !named(&venvs, &format!(".{p}.hpcinit-")).is_empty() && template.exists()
        });
        // (The templates step re-reads them after writing: let it end.)
        std::thread::sleep(Duration::from_millis(500));
        relay.cut();
        h.join().unwrap()
    });
    failed(&r, 1, "cut during the build");
    assert!(r.stderr.contains("in step: Python environment"), "{}", r.stderr);
    assert!(venvs.join(p).symlink_metadata().is_err(), "no ~/venvs/{p} was put in place");
    assert!(!l.project.join("hpcinit.lock").exists(), "no lock file for an environment that is not there");
    assert!(
        !l.path(&format!(".local/state/hpcinit/relayed/{p}.yaml")).exists(),
        "no record of a build that did not finish"
    );
    let snaps = remote_home(&l).join("scratch/code-snapshots").join(p);
    assert!(snaps.join("latest").symlink_metadata().is_err(), "no snapshot was made latest");

    // The build on the cluster stops by itself once its connection is gone (it was silent in
    // `python -m venv`, where no output of its own would have stopped it).
    let building = format!(".{p}.hpcinit-");
    wait_for("the cut build to stop on the cluster", 10, || {
        !Command::new("pgrep").args(["-f", &building]).output().unwrap().status.success()
    });

    // A re-run signs in again, removes the half-built directory and builds it.
    let again = l.hpcinit(&run, &[]);
    run_ok(&again, "re-run");
    let left = named(&venvs, &format!(".{p}.hpcinit-"));
    assert_eq!(left.len(), 1, "only the environment in use is left: {left:?}");
    let target = std::fs::read_link(venvs.join(p)).unwrap();
    assert_eq!(target.to_string_lossy(), left[0]);
    let out =
        Command::new(venvs.join(p).join("bin/python")).args(["-c", "import hpcinit_demo"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn the_network_dropping_during_the_copy_then_sshd_down_keep_the_last_snapshot() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "fault-copy";
    let _c = cleanup(&l, p);
    std::fs::write(l.project.join("main.py"), "print('v1')\n").unwrap();
    let mut relay = Relay::start(2222);
    let profile = via_relay(&l, "relayed", &relay, |t| t);
    run_ok(&l.hpcinit(&args(&profile, "relayed", p, &["--ssh-only"]), &[]), "ssh set-up");
    let sync = |extra: &[&str]| {
        let mut v = vec!["sync"];
        v.extend(args(&profile, "relayed", p, extra));
        l.hpcinit(&v, &[])
    };
    run_ok(&sync(&[]), "first snapshot");
    let snaps = remote_home(&l).join("scratch/code-snapshots").join(p);
    let before = std::fs::read_link(snaps.join("latest")).unwrap();

    // 12 files of 256 KiB at 512 KiB/s: about six seconds; cut once a few have arrived.
    let parts = |from: u32, to: u32| {
        std::fs::create_dir_all(l.project.join("data")).unwrap();
        for i in from..to {
            let bytes: Vec<u8> = (0..262_144u32)
                .map(|b| (b.wrapping_mul(2_654_435_761).wrapping_add(i) >> 13) as u8)
                .collect();
            std::fs::write(l.project.join(format!("data/part-{i:02}.bin")), bytes).unwrap();
        }
    };
    parts(0, 12);
    // The node still takes connections: the sync signs in again and finishes the copy.
    let r = std::thread::scope(|s| {
        let h = s.spawn(|| sync(&["--bwlimit", "512K"]));
        wait_for("the copy", 60, || named(&snaps.join(".hpcinit-incoming/data"), "part-").len() >= 2);
        relay.cut();
        h.join().unwrap()
    });
    run_ok(&r, "cut during the copy, the node still up");
    assert!(r.stdout.contains("signing in again"), "{}", r.stdout);
    let recovered = std::fs::read_link(snaps.join("latest")).unwrap();
    assert_ne!(recovered, before);
    assert_eq!(
        std::fs::read(snaps.join("latest/data/part-11.bin")).unwrap(),
        std::fs::read(l.project.join("data/part-11.bin")).unwrap()
    );
    let before = recovered;

    // Cut again, and the node takes no new connection: the run fails, latest stays.
    parts(12, 24);
    let r = std::thread::scope(|s| {
        let h = s.spawn(|| sync(&["--bwlimit", "512K"]));
        wait_for("the copy", 60, || named(&snaps.join(".hpcinit-incoming/data"), "part-").len() >= 14);
        relay.close();
        relay.cut();
        h.join().unwrap()
    });
    failed(&r, 1, "cut during the copy, the node down");
    assert_eq!(
        std::fs::read_link(snaps.join("latest")).unwrap(),
        before,
        "latest still names the last snapshot"
    );
    assert!(!snaps.join("latest/data/part-23.bin").exists());

    // sshd down: the connection is refused, said so, and nothing changes.
    let r = sync(&[]);
    failed(&r, 1, "sshd down");
    assert!(r.stderr.contains(&format!("refused the connection on port {}", relay.port)), "{}", r.stderr);
    assert_eq!(std::fs::read_link(snaps.join("latest")).unwrap(), before);
    let mut doctor = vec!["doctor"];
    doctor.extend(args(&profile, "relayed", p, &[]));
    let d = l.hpcinit(&doctor, &[]);
    assert_eq!(d.code, 1, "doctor with sshd down:\n{}\n{}", d.stdout, d.stderr);
    assert!(
        format!("{}{}", d.stdout, d.stderr)
            .contains(&format!("refused the connection on port {}", relay.port)),
        "{}\n{}",
        d.stdout,
        d.stderr
    );

    // Back up: the next sync finishes the copy.
    let _back = Relay::on(relay.port, 2222);
    run_ok(&sync(&[]), "sync after sshd is back");
    assert_ne!(std::fs::read_link(snaps.join("latest")).unwrap(), before);
    assert_eq!(
        std::fs::read(snaps.join("latest/data/part-23.bin")).unwrap(),
        std::fs::read(l.project.join("data/part-23.bin")).unwrap()
    );
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let st =
            Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(at).status().unwrap();
        assert!(st.success(), "mount tmpfs at {} (the cluster tests run as root)", at.display());
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn scratch_full_fails_the_copy_and_keeps_the_last_snapshot() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "fault-full";
    let _c = cleanup(&l, p);
    run_ok(&l.hpcinit(&super::remote_steps::base("sandbox", p, &["--ssh-only"]), &[]), "ssh set-up");
    let snaps = remote_home(&l).join("scratch/code-snapshots").join(p);
    let uid = Command::new("id").args(["-u", "hpcuser"]).output().unwrap();
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    // The project's snapshot directory on a 512 KiB file system; the project is 2 MB.
    // The mount point and its parents are made by the test user, as hpcinit would make them
    // (made here as root, a fresh cluster's ~/scratch/code-snapshots would be root's).
    let made =
        Command::new("runuser").args(["-u", "hpcuser", "--", "mkdir", "-p"]).arg(&snaps).status().unwrap();
    assert!(made.success());
    let full = Mount::tmpfs(&snaps, &format!("size=512k,uid={uid},gid={uid},mode=0755"));
    for i in 0..8 {
        std::fs::write(l.project.join(format!("chunk-{i}.bin")), vec![i as u8 + 1; 262_144]).unwrap();
    }
    let sync = || l.hpcinit(&["sync", "--site", "sandbox", "--user", "hpcuser", "--project-name", p], &[]);
    let r = sync();
    failed(&r, 1, "scratch full");
    assert!(r.stderr.contains("No space left on device"), "the cluster's reason is shown:\n{}", r.stderr);
    assert!(r.stderr.contains("quota"), "the hint names the likely cause:\n{}", r.stderr);
    assert!(snaps.join("latest").symlink_metadata().is_err(), "no snapshot is named latest");
    assert!(named(&snaps, "2").is_empty(), "no half snapshot is named as one: {:?}", named(&snaps, ""));
    drop(full);

    // With room again, the copy completes.
    run_ok(&sync(), "sync with room");
    assert_eq!(std::fs::read(snaps.join("latest/chunk-7.bin")).unwrap(), vec![8u8; 262_144]);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_failing_quota_command_is_reported_by_doctor_and_does_not_stop_the_set_up() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let profile = profile_variant(&l, "sandbox", "badquota", |t| {
        t.replacen(
            "  quota_command: du -sh \"$HOME\"\n",
            "  quota_command: \"echo 'quota: cannot reach the quota server' >&2; exit 3\"\n",
            1,
        )
    });
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(text.contains("cannot reach the quota server"), "the profile was edited:\n{text}");
    let p = "fault-quota";
    let run = args(&profile, "badquota", p, &["--ssh-only"]);
    run_ok(&l.hpcinit(&run, &[]), "set-up with a failing quota command");
    let mut doctor = vec!["doctor"];
    doctor.extend(args(&profile, "badquota", p, &[]));
    let d = l.hpcinit(&doctor, &[]);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    let row = d
        .stdout
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("quota"))
        .unwrap_or_else(|| panic!("{}", d.stdout))
        .to_string();
    assert!(row.contains("exited 3") && row.contains("cannot reach the quota server"), "{row}\n{}", d.stdout);
    assert!(d.stdout.contains("run `echo"), "the hint says to run the command by hand:\n{}", d.stdout);
    assert!(d.stdout.contains("scheduler"), "the other checks still ran:\n{}", d.stdout);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_changed_host_key_stops_every_command_until_the_person_confirms() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "fault-hostkey";
    let _c = cleanup(&l, p);
    std::fs::write(l.project.join("main.py"), "print(1)\n").unwrap();
    run_ok(&l.hpcinit(&super::remote_steps::base("sandbox", p, &["--ssh-only"]), &[]), "set-up");
    let close = || {
        let _ = l.ssh(&["-O", "exit", "sandbox"]);
    };
    close();
    // The server now presents another key than the one recorded (as after a reinstall, or
    // an attacker in between): the recorded key is swapped for a fresh one.
    let known = l.path(".ssh/known_hosts.d/hpcinit");
    let fresh = l.path("other_host_key");
    assert!(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&fresh)
        .status()
        .unwrap()
        .success());
    let other = std::fs::read_to_string(fresh.with_extension("pub")).unwrap();
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    let text = std::fs::read_to_string(&known).unwrap();
    let swapped: String = text
        .lines()
        .map(|line| {
            if line.starts_with("sandbox ") {
                format!("sandbox {}\n", other.join(" "))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_ne!(swapped, text);
    std::fs::write(&known, &swapped).unwrap();
    let config = std::fs::read(l.path(".ssh/config")).unwrap();
    let log = LogWindow::open(&l.c, false);
    let prompts = l.prompts().len();
    let who = ["--site", "sandbox", "--user", "hpcuser", "--project-name", p];
    let commands: Vec<Vec<&str>> = vec![
        [&["--yes", "--accept-new-host-key", "--no-passphrase", "--ssh-only"][..], &who].concat(),
        [&["doctor"][..], &who].concat(),
        [&["sync"][..], &who].concat(),
        [&["check-job"][..], &who].concat(),
        [&["lock"][..], &who].concat(),
        vec!["diff", "--site", "sandbox", "--site", "sandbox-mfa"],
        [&["uninstall", "--remote", "--yes"][..], &who].concat(),
    ];
    for cmd in &commands {
        let r = l.hpcinit(cmd, &[]);
        let all = format!("{}\n{}", r.stdout, r.stderr);
        assert_ne!(r.code, 0, "`hpcinit {}` went on with a changed host key:\n{all}", cmd.join(" "));
        assert!(
            all.to_lowercase().contains("host key"),
            "`hpcinit {}` says it is the host key:\n{all}",
            cmd.join(" ")
        );
        close();
    }
    assert_eq!(log.accepted(), 0, "no credential was sent:\n{}", log.text());
    assert_eq!(l.prompts().len(), prompts, "nothing was asked");
    assert_eq!(std::fs::read_to_string(&known).unwrap(), swapped, "the recorded key was never replaced");
    assert_eq!(std::fs::read(l.path(".ssh/config")).unwrap(), config, "~/.ssh/config is unchanged");
    assert!(l.path(".ssh/config.d/hpcinit").exists(), "nothing was uninstalled");

    // The person confirms, as the hint says: the old line removed, the new key accepted.
    std::fs::write(
        &known,
        text.lines().filter(|l| !l.starts_with("sandbox ")).map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    run_ok(&l.hpcinit(&super::remote_steps::base("sandbox", p, &["--ssh-only"]), &[]), "after confirming");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_wrong_one_time_code_is_refused_and_nothing_is_marked_signed_in() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    // The password right, the code wrong.
    let askpass = l.path("wrong-code.sh");
    std::fs::write(
        &askpass,
        format!(
            "#!/bin/sh\necho \"$1\" >> {}\ncase \"$1\" in *[Oo]ne-time*) echo 000000 ;; *) echo {} ;; esac\n",
            l.path("prompts.log").display(),
            l.c.var("HPCINIT_TEST_PASSWORD")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = LogWindow::open(&l.c, true);
    let run = super::remote_steps::base("sandbox-mfa", "fault-otp", &["--ssh-only"]);
    let r = l.hpcinit(&run, &[("SSH_ASKPASS", askpass.to_str().unwrap())]);
    failed(&r, 1, "wrong code");
    assert!(r.stderr.contains("in step: Sign in once"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert_eq!(log.accepted(), 0, "{}", log.text());
    let cm = named(&l.path(".ssh"), "cm-");
    assert!(cm.is_empty(), "no shared connection is left open: {cm:?}");
    // The right code: signed in once.
    run_ok(&l.hpcinit(&run, &[]), "right code");
    assert_eq!(log.accepted(), 1, "{}", log.text());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_read_only_ssh_config_is_left_alone_with_the_line_to_add() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    std::fs::create_dir_all(l.path(".ssh")).unwrap();
    let config = l.path(".ssh/config");
    let mine = b"Host mine\n    User me\n".to_vec();
    std::fs::write(&config, &mine).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o444)).unwrap();
    let run = super::remote_steps::base("sandbox", "fault-ro", &["--ssh-only"]);
    let r = l.hpcinit(&run, &[]);
    failed(&r, 1, "read-only config");
    assert!(r.stderr.contains("is read-only (mode 0444); hpcinit leaves it as it is"), "{}", r.stderr);
    assert!(r.stderr.contains("Include ~/.ssh/config.d/hpcinit"), "the hint gives the line: {}", r.stderr);
    assert_eq!(std::fs::read(&config).unwrap(), mine, "not a byte changed");
    assert!(
        named(&l.path(".ssh"), "config.hpcinit-backup").is_empty()
            && named(&l.path(".ssh"), ".config").is_empty()
    );
    assert!(!l.path(".ssh/known_hosts.d/hpcinit").exists(), "the run stopped at that step");
    assert!(l.prompts().is_empty(), "nothing was asked");

    // Behind a link, on a read-only file system (as home-manager's link into /nix/store is).
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(&config).unwrap();
    let store = l.path("store");
    let m = Mount::tmpfs(&store, "size=64k,mode=0755");
    std::fs::write(store.join("ssh_config"), &mine).unwrap();
    assert!(Command::new("mount").args(["-o", "remount,ro"]).arg(&store).status().unwrap().success());
    std::os::unix::fs::symlink(store.join("ssh_config"), &config).unwrap();
    let r = l.hpcinit(&run, &[]);
    failed(&r, 1, "read-only file system");
    assert!(r.stderr.contains("is on a read-only file system"), "{}", r.stderr);
    assert_eq!(std::fs::read(store.join("ssh_config")).unwrap(), mine);
    drop(m);

    // Made writable, the same run adds the line and keeps the rest.
    std::fs::remove_file(&config).unwrap();
    std::fs::write(&config, &mine).unwrap();
    run_ok(&l.hpcinit(&run, &[]), "writable");
    let now = std::fs::read(&config).unwrap();
    assert_eq!(now, [b"Include ~/.ssh/config.d/hpcinit\n".as_slice(), &mine].concat());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_symlinked_ssh_config_is_edited_at_its_target_and_stays_a_link() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    std::fs::create_dir_all(l.path(".ssh")).unwrap();
    std::fs::create_dir_all(l.path("dotfiles")).unwrap();
    let target = l.path("dotfiles/ssh_config");
    let mine = b"# my dotfiles\nHost mine\n    User me\n".to_vec();
    std::fs::write(&target, &mine).unwrap();
    std::os::unix::fs::symlink("../dotfiles/ssh_config", l.path(".ssh/config")).unwrap();
    let run = super::remote_steps::base("sandbox", "fault-link", &["--ssh-only"]);
    run_ok(&l.hpcinit(&run, &[]), "symlinked config");
    assert_eq!(std::fs::read_link(l.path(".ssh/config")).unwrap(), Path::new("../dotfiles/ssh_config"));
    assert_eq!(
        std::fs::read(&target).unwrap(),
        [b"Include ~/.ssh/config.d/hpcinit\n".as_slice(), &mine].concat()
    );
    assert_eq!(
        std::fs::read(l.path("dotfiles/ssh_config.hpcinit-backup")).unwrap(),
        mine,
        "the original, kept"
    );
    let out = l.ssh(&["-G", "sandbox"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\nport 2222\n"));
    // A re-run changes nothing.
    let again = l.hpcinit(&run, &[]);
    run_ok(&again, "re-run");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        [b"Include ~/.ssh/config.d/hpcinit\n".as_slice(), &mine].concat()
    );
}

/// Another process holding the run lock for `secs` seconds (util-linux `flock`), once it has it.
fn hold(lock: &Path, secs: u32) -> std::process::Child {
    let child = Command::new("flock")
        .arg(lock)
        .args(["sleep", &secs.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the holder", 10, || {
        Command::new("flock").arg("-n").arg(lock).arg("true").status().map(|s| !s.success()).unwrap_or(false)
    });
    child
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn two_runs_at_once_one_waits_and_the_config_stays_valid() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    std::fs::create_dir_all(l.path(".ssh")).unwrap();
    let mine = b"Host mine\n    User me\n".to_vec();
    std::fs::write(l.path(".ssh/config"), &mine).unwrap();
    let a = super::remote_steps::base("sandbox", "fault-two", &["--ssh-only"]);
    let b = super::remote_steps::base("sandbox-mfa", "fault-two", &["--ssh-only"]);
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| l.hpcinit(&a, &[]));
        let hb = s.spawn(|| l.hpcinit(&b, &[]));
        (ha.join().unwrap(), hb.join().unwrap())
    });
    run_ok(&ra, "sandbox");
    run_ok(&rb, "sandbox-mfa");
    let config = std::fs::read_to_string(l.path(".ssh/config")).unwrap();
    assert_eq!(config.matches("Include ~/.ssh/config.d/hpcinit").count(), 1, "{config}");
    assert!(config.ends_with("Host mine\n    User me\n"), "{config}");
    let managed = std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap();
    assert_eq!(managed.matches("Host sandbox\n").count(), 1, "{managed}");
    assert_eq!(managed.matches("Host sandbox-mfa\n").count(), 1, "{managed}");
    for site in ["sandbox", "sandbox-mfa"] {
        let out = l.ssh(&["-G", site]);
        assert!(out.status.success(), "{site}: {}", String::from_utf8_lossy(&out.stderr));
    }

    // A run holding the lock: the next one says whom it waits for, then goes on.
    let lock = l.path(".local/state/hpcinit/run.lock");
    let mut holder = hold(&lock, 3);
    let r = l.hpcinit(&a, &[]);
    run_ok(&r, "waited");
    assert!(r.stderr.contains("waiting for another hpcinit run to finish"), "{}", r.stderr);
    let _ = holder.wait();

    // One that cannot wait that long gives up, having changed nothing.
    let before = std::fs::read(l.path(".ssh/config")).unwrap();
    let mut holder = hold(&lock, 5);
    let r = l.hpcinit(&["sync", "--site", "sandbox", "--user", "hpcuser"], &[("HPCINIT_LOCK_WAIT", "1")]);
    failed(&r, 1, "lock held");
    assert!(r.stderr.contains("another hpcinit run is changing your setup"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert_eq!(std::fs::read(l.path(".ssh/config")).unwrap(), before);
    let _ = holder.kill();
    let _ = holder.wait();
}
