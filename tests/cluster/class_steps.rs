//! A class at once, against the test cluster: a login node too busy to take a new connection
//! (sshd's MaxStartups) is tried again before anything is sent, and a student's first run from a
//! course repository asks only what the course cannot know. bench/class.sh runs a whole room.

use super::remote_steps::{cleanup, ok, remote_home};
use super::ssh_steps::{args, profile_variant, type_at, Laptop, LogWindow};
use super::SERIAL;
use std::time::Duration;

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_busy_login_node_is_tried_again_before_anything_is_sent_with_both_transports() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for transport in ["ssh", "ssh2"] {
        let l = Laptop::new();
        let port = l.c.var("HPCINIT_BUSY_PORT");
        let profile = profile_variant(&l, "sandbox", "busy-site", |t| {
            t.replacen("  port: 2222\n", &format!("  port: {port}\n"), 1)
        });
        // One connection that never signs in: the "busy" sshd (MaxStartups 1:100:2) drops every
        // new one while it is pending, as a login node does when a room connects at once.
        let hold = std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            drop(hold);
        });
        let log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_BUSY");
        let mut a = vec!["--profile", profile.to_str().unwrap()];
        a.extend(args("busy-site", &["--transport", transport]));
        let r = l.hpcinit(&a, &[]);
        release.join().unwrap();
        ok(&r, &format!("a busy node, --transport {transport}"));
        assert!(
            r.stdout.contains("the login node is busy, retrying (2/12); nothing was sent yet"),
            "{transport}: {}",
            r.stdout
        );
        // The password went once (with libssh2 the key is then proven by a login of its own).
        let passwords = log.text().lines().filter(|l| l.starts_with("Accepted password for hpcuser")).count();
        assert_eq!(passwords, 1, "{transport}: one password sign-in: {}", log.text());
        assert_eq!(l.prompts().len(), 1, "{transport}: the password asked once: {:?}", l.prompts());
        assert!(log.text().contains("drop connection"), "sshd dropped some: {}", log.text());
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_student_in_a_course_repository_is_asked_only_username_and_passphrase() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let project = "demo";
    let _c = cleanup(&l, project);
    std::fs::write(
        l.project.join("hpcinit-course.yaml"),
        "course-version: 1\ncourse: INF-1234\ncontact: ta@example.edu\nsites:\n  sandbox:\n    time: \"00:20:00\"\n    partition: debug\n    data: /tmp/hpcinit-cluster/course-data\npython: \"3.11\"\nrequirements: requirements.txt\n",
    )
    .unwrap();
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
    // The course's shared data on the cluster, and no link to it yet.
    std::fs::create_dir_all(l.c.dir.join("course-data")).unwrap();
    let data_link = remote_home(&l).join(format!("{project}-data"));
    let _ = std::fs::remove_file(&data_link);
    let log = LogWindow::open(&l.c, false);
    let mut p = l.in_terminal(&[], 120_000);
    // The course names one site, its Python and the project (this folder): hpcinit asks the
    // username, shows the plan, asks a passphrase for the new key (twice) and whether to trust
    // the host key; then ssh asks the password.
    type_at(&mut p, "Your username on Sandbox", "hpcuser\r");
    type_at(&mut p, "Go ahead?", "\r");
    type_at(&mut p, "assphrase", "course-key-pass\r");
    type_at(&mut p, "Same passphrase again", "course-key-pass\r");
    type_at(&mut p, "Trust this host key for sandbox?", "y");
    type_at(&mut p, "assword:", &format!("{}\n", l.c.var("HPCINIT_TEST_PASSWORD")));
    let rest = p.exp_eof().expect("the run ends");
    let status = p.process().wait().unwrap();
    assert!(matches!(status, rexpect::process::WaitStatus::Exited(_, 0)), "{status:?}\n{rest}");
    assert!(!rest.contains("Which cluster?") && !rest.contains("Python version"), "{rest}");
    assert_eq!(log.accepted(), 1, "{}", log.text());
    // The template carries the course's partition and time after the site's directives.
    let template = std::fs::read_to_string(remote_home(&l).join(format!("sbatch/{project}.sh"))).unwrap();
    for line in ["#SBATCH --time=00:20:00", "#SBATCH --partition=debug"] {
        assert!(template.contains(line), "{line} in:\n{template}");
    }
    // The course's data is linked into the student's home.
    assert_eq!(std::fs::read_link(&data_link).unwrap(), l.c.dir.join("course-data"));
    let _ = std::fs::remove_file(&data_link);
}

/// The forwarder (tests/cluster/forwarder.py) between the laptop and the plain login node; its
/// process group is stopped when dropped.
struct Forwarder {
    child: std::process::Child,
    state: tempfile::TempDir,
    port: u16,
}

impl Forwarder {
    fn start(target: &str) -> Forwarder {
        let state = tempfile::tempdir().unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/forwarder.py");
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(script).arg(port.to_string()).arg(target).arg(state.path());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().unwrap();
        let ready = state.path().join("ready");
        let start = std::time::Instant::now();
        while !ready.exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "the forwarder did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Forwarder { child, state, port }
    }

    /// Freezes every connection open now: no byte passes, the sockets stay.
    fn freeze(&self) -> usize {
        let mut n = 0;
        for e in std::fs::read_dir(self.state.path()).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("conn-") {
                std::fs::remove_file(e.path()).unwrap();
                // Connections that ended (a key check's) have no process left to stop.
                if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::process::Command::new("kill").args(["-STOP", pid]).status();
                    n += 1;
                }
            }
        }
        n
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill").args(["-CONT", "--", &group]).status();
        let _ = std::process::Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_frozen_shared_connection_is_replaced_within_15_seconds_with_one_sign_in() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let fwd = Forwarder::start(&l.c.var("HPCINIT_PLAIN_PORT"));
    let port = fwd.port;
    let profile = profile_variant(&l, "sandbox", "frozen-site", |t| {
        t.replacen("  port: 2222\n", &format!("  port: {port}\n"), 1)
    });
    let mut a = vec!["--profile", profile.to_str().unwrap()];
    a.extend(args("frozen-site", &[]));
    ok(&l.hpcinit(&a, &[]), "the first run, through the forwarder");
    // The laptop sleeps: the master's connection stops passing bytes, its socket stays.
    assert_eq!(fwd.freeze(), 1, "one connection: the master");
    let check = l.ssh(&["-O", "check", "frozen-site"]);
    assert!(check.status.success(), "ssh -O check still answers: {}", String::from_utf8_lossy(&check.stderr));
    let log = LogWindow::open(&l.c, false);
    let started = std::time::Instant::now();
    let r = l.hpcinit(&a, &[]);
    let took = started.elapsed();
    ok(&r, "the next run after the freeze");
    assert!(took < Duration::from_secs(15), "replaced within 15 s, took {took:?}");
    assert!(r.stdout.contains("signed in once"), "a new sign-in, not the dead one: {}", r.stdout);
    assert_eq!(log.accepted(), 1, "exactly one new sign-in: {}", log.text());
}

/// The test cluster's login shell made slow to start (its .bashrc sleeps while the file holds
/// seconds); back to normal when dropped.
struct SlowShell(std::path::PathBuf);

impl SlowShell {
    fn seconds(c: &super::Cluster, s: u32) -> SlowShell {
        let f = c.dir.join("slow-shell");
        std::fs::write(&f, s.to_string()).unwrap();
        SlowShell(f)
    }
}

impl Drop for SlowShell {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_login_shell_slower_than_the_bound_keeps_its_shared_connection() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "slow-shell";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    ok(&l.hpcinit(&super::remote_steps::base("sandbox", project, &[]), &[]), "the first run");
    // A site whose shell takes longer to start than hpcinit waits for `true`: the connection
    // is alive (sshd answers a channel request itself), so the next command keeps it.
    let _slow = SlowShell::seconds(&l.c, 10);
    let log = LogWindow::open(&l.c, false);
    let r = l.hpcinit(&["sync", "--site", "sandbox", "--user", "hpcuser", "--project-name", project], &[]);
    ok(&r, "a sync over the slow shell");
    assert_eq!(log.accepted(), 0, "the shared connection was kept, no new sign-in: {}", log.text());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_sync_over_a_frozen_shared_connection_signs_in_again_instead_of_hanging() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "frozen-sync";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let fwd = Forwarder::start(&l.c.var("HPCINIT_PLAIN_PORT"));
    let port = fwd.port;
    let profile = profile_variant(&l, "sandbox", "frozen-sync-site", |t| {
        t.replacen("  port: 2222\n", &format!("  port: {port}\n"), 1)
    });
    let p = profile.to_str().unwrap();
    let base = super::remote_steps::base("frozen-sync-site", project, &[]);
    let mut first = vec!["--profile", p];
    first.extend(base);
    ok(&l.hpcinit(&first, &[]), "the first run, through the forwarder");
    let sync = [
        "--profile",
        p,
        "sync",
        "--site",
        "frozen-sync-site",
        "--user",
        "hpcuser",
        "--project-name",
        project,
        "-v",
    ];
    // A sync over the open connection proves it by the copy alone: no round trip first.
    std::fs::write(l.project.join("main.py"), "print(2)\n").unwrap();
    let r = l.hpcinit(&sync, &[]);
    ok(&r, "a sync over the open connection");
    // The laptop sleeps: the master's connection stops passing bytes, its socket stays.
    assert_eq!(fwd.freeze(), 1, "one connection: the master");
    std::fs::write(l.project.join("main.py"), "print(3)\n").unwrap();
    let log = LogWindow::open(&l.c, false);
    let started = std::time::Instant::now();
    let r = l.hpcinit(&sync, &[]);
    let took = started.elapsed();
    ok(&r, "the sync after the freeze");
    assert!(r.stdout.contains("did not answer") && r.stdout.contains("signing in again"), "{}", r.stdout);
    assert!(took < Duration::from_secs(30), "no hang: {took:?}");
    assert_eq!(log.accepted(), 1, "exactly one new sign-in: {}\n{}", log.text(), r.stdout);
    let latest = l.c.dir.join("scratch/hpcuser/code-snapshots").join(project).join("latest/main.py");
    assert_eq!(std::fs::read_to_string(latest).unwrap(), "print(3)\n");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_home_too_long_for_a_socket_path_puts_the_socket_in_a_private_directory() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::with_home_prefix(&format!("hpcinit-home-{}--", "a-very-long-home".repeat(4)));
    let home = l.home.path().display().to_string();
    assert!(home.len() >= 90, "{home} is {} characters", home.len());
    let r = l.hpcinit(&args("sandbox", &[]), &[]);
    ok(&r, "a 90-character home");
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("socket goes in /tmp/hpcinit-"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let config = std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap();
    let cp = config.lines().find(|l| l.trim_start().starts_with("ControlPath")).unwrap().trim().to_string();
    let dir = cp.trim_start_matches("ControlPath ").trim_end_matches("/cm-%C").to_string();
    assert!(line.contains(&dir), "{line} names {dir}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    // The person's own ssh rides on the connection the run left open there.
    let out = l.ssh(&["-o", "BatchMode=yes", "sandbox", "echo", "rides"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rides"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = l.ssh(&["-O", "exit", "sandbox"]);
}

/// A Slurm reservation a year from now (no effect on today's jobs), deleted when dropped.
struct Reservation(String);

impl Reservation {
    fn make(c: &super::Cluster, name: &str) -> Reservation {
        let out = std::process::Command::new("scontrol")
            .env("SLURM_CONF", c.var("SLURM_CONF"))
            .args(["create", "reservation", &format!("ReservationName={name}"), "StartTime=now+365days"])
            .args(["Duration=60", "Users=hpcuser", &format!("Nodes={}", c.var("HPCINIT_NODE_NAME"))])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Reservation(name.into())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let c = super::Cluster::get();
        let _ = std::process::Command::new("scontrol")
            .env("SLURM_CONF", c.var("SLURM_CONF"))
            .args(["delete", &format!("ReservationName={}", self.0)])
            .output();
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn course_check_probe_checks_the_site_as_the_teaching_assistant() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let _r = Reservation::make(&l.c, "hpcinit-course");
    let course = |reservation: &str| {
        format!("course-version: 1\ncourse: INF-1234\ncontact: ta@example.edu\nsites:\n  sandbox:\n    reservation: {reservation}\npython: \"3.11\"\nrequirements: requirements.txt\n")
    };
    std::fs::write(l.project.join("hpcinit-course.yaml"), course("hpcinit-course")).unwrap();
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\nhpcinit-extra==1.0\n").unwrap();
    // The teaching assistant's own SSH setup for the site, then the check signs in no more.
    ok(&l.hpcinit(&args("sandbox", &[]), &[]), "the teaching assistant's SSH setup");
    let log = LogWindow::open(&l.c, false);
    let check = ["course", "check", "--probe", "--site", "sandbox", "--user", "hpcuser"];
    let r = l.hpcinit(&check, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for row in [
        "✓ sandbox (signed in): module load StdEnv/2023",
        "✓ sandbox (signed in): python 3.11: python/3.11 loads (Python 3.11",
        "✓ sandbox (signed in): reservation hpcinit-course exists",
        "✓ sandbox (signed in): requirement hpcinit-demo resolves",
        "✓ sandbox (signed in): requirement hpcinit-extra==1.0 resolves",
    ] {
        assert!(r.stdout.contains(row), "{row:?} in:\n{}", r.stdout);
    }
    assert!(!r.stdout.contains('✗'), "{}", r.stdout);
    assert_eq!(log.accepted(), 0, "over the open connection: {}", log.text());

    // A reservation the site does not have and a package it cannot provide: ✗, with the fix.
    std::fs::write(l.project.join("hpcinit-course.yaml"), course("no-such-reservation")).unwrap();
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\nno-such-package-xyz\n").unwrap();
    let r = l.hpcinit(&check, &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("✗ sandbox (signed in): reservation no-such-reservation: not found"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("fix: ask the site for the reservation"), "{}", r.stdout);
    assert!(
        r.stdout.contains("✗ sandbox (signed in): requirement no-such-package-xyz:")
            && r.stdout.contains("No matching distribution"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("✓ sandbox (signed in): requirement hpcinit-demo resolves"), "{}", r.stdout);

    // Inline requirements with hashes: the wheelhouse's file matches its hash; a wrong hash is a ✗.
    let wheel = l.c.dir.join("wheelhouse/hpcinit_demo-1.0-py3-none-any.whl");
    let digest = {
        use sha2::Digest;
        let bytes = std::fs::read(&wheel).unwrap_or_else(|e| panic!("{}: {e}", wheel.display()));
        sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let inline = |hash: &str| {
        format!("course-version: 1\ncourse: INF-1234\ncontact: ta@example.edu\nsites:\n  sandbox: {{}}\nrequirements:\n  - hpcinit-demo==1.0 --hash=sha256:{hash}\n")
    };
    std::fs::write(l.project.join("hpcinit-course.yaml"), inline(&digest)).unwrap();
    let r = l.hpcinit(&check, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("✓ requirements: inline (1 requirement, with hashes)"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("✓ sandbox (signed in): requirements hpcinit-demo==1.0 resolve and match their hashes"),
        "{}",
        r.stdout
    );
    std::fs::write(l.project.join("hpcinit-course.yaml"), inline(&"0".repeat(64))).unwrap();
    let r = l.hpcinit(&check, &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("✗ sandbox (signed in): requirements hpcinit-demo==1.0:")
            && r.stdout.contains("HASHES"),
        "{}",
        r.stdout
    );
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_master_killed_in_the_middle_of_a_run_ends_it_cleanly_and_the_rerun_finishes_with_one_sign_in() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "killed-master";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\nhpcinit-extra\n").unwrap();
    let mut child = l
        .command(&super::remote_steps::base("sandbox", project, &[]), &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The environment's build has begun on the cluster: its new directory is there.
    let venvs = remote_home(&l).join("venvs");
    let start = std::time::Instant::now();
    loop {
        let building = std::fs::read_dir(&venvs)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(&format!(".{project}.hpcinit-")))
            })
            .unwrap_or(false);
        if building {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the build did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The master goes away (a laptop's network dropped it): the run must end, not hang.
    let _ = l.ssh(&["-O", "exit", "sandbox"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(std::time::Instant::now() < deadline, "the run hangs after its connection died");
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success(), "the step could not finish without its connection: {stderr}");
    // Nothing half-built counts as done: no venv link to an unfinished build.
    assert!(venvs.join(project).symlink_metadata().is_err(), "no environment put in place");
    // The rerun signs in once and finishes.
    let log = LogWindow::open(&l.c, false);
    let r = l.hpcinit(&super::remote_steps::base("sandbox", project, &[]), &[]);
    ok(&r, "the rerun");
    assert_eq!(log.accepted(), 1, "{}", log.text());
    assert!(venvs.join(project).join(".hpcinit-ok").is_file(), "the environment stands");
}
