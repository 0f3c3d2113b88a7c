//! The SSH half of the bootstrap, run by the real `hpcinit` binary against the test cluster:
//! one authentication per run on the second-factor node (and none for a later run), both
//! transports, a wrong pinned fingerprint stopping everything before any authentication, the
//! `Include` edit over a corpus of real-world configs, and idempotent key installation.

use super::{Cluster, SERIAL};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A person's machine: a temporary home with a project directory, and hpcinit run in it.
pub struct Laptop {
    pub c: Cluster,
    pub home: tempfile::TempDir,
    pub project: PathBuf,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Laptop {
    pub fn new() -> Laptop {
        Laptop::with_home_prefix("hpcinit-home-")
    }

    /// A laptop whose home directory's name starts with `prefix` (a long home, say).
    pub fn with_home_prefix(prefix: &str) -> Laptop {
        let c = Cluster::get();
        let home = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        let project = home.path().join("demo");
        std::fs::create_dir(&project).unwrap();
        Laptop { c, home, project }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    pub fn hpcinit(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.run(Command::new(env!("CARGO_BIN_EXE_hpcinit")), args, env)
    }

    /// hpcinit run from `dir` (the home directory, say) instead of the project.
    pub fn hpcinit_from(&self, dir: &Path, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hpcinit"));
        cmd.current_dir(dir);
        self.run(cmd, args, &[])
    }

    /// hpcinit run from the laptop network namespace, which reaches the gateway and not the
    /// login node behind it.
    pub fn hpcinit_behind_gateway(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.c.var("HPCINIT_LAPTOP_NS"), env!("CARGO_BIN_EXE_hpcinit")]);
        self.run(cmd, args, env)
    }

    /// hpcinit run from the desk network namespace, which reaches the login node (on its own
    /// address there) and no compute node.
    pub fn hpcinit_at_desk(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.c.var("HPCINIT_DESK_NS"), env!("CARGO_BIN_EXE_hpcinit")]);
        self.run(cmd, args, env)
    }

    /// The system ssh from the desk namespace, reading this laptop's config.
    pub fn ssh_at_desk(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.c.var("HPCINIT_DESK_NS"), "ssh", "-F"])
            .arg(self.path(".ssh/config"))
            .args(args)
            .env("HOME", self.home.path())
            .env("SSH_ASKPASS", self.c.var("HPCINIT_ASKPASS"))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .env("HPCINIT_CLUSTER_DIR", &self.c.dir)
            .env("HPCINIT_ASKPASS_LOG", self.path("prompts.log"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The hpcinit command this laptop runs (its home, askpass, no terminal), not yet started.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hpcinit"));
        self.prepare(&mut cmd, args, env);
        cmd
    }

    fn run(&self, mut cmd: Command, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.prepare(&mut cmd, args, env);
        let out: Output = cmd.output().expect("hpcinit runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn prepare(&self, cmd: &mut Command, args: &[&str], env: &[(&str, &str)]) {
        if cmd.get_current_dir().is_none() {
            cmd.current_dir(&self.project);
        }
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env("USER", "student")
            .env("SSH_ASKPASS", self.c.var("HPCINIT_ASKPASS"))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .env("HPCINIT_CLUSTER_DIR", &self.c.dir)
            .env("HPCINIT_ASKPASS_LOG", self.path("prompts.log"))
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
    }

    /// The system ssh, reading this laptop's config as the person's own ssh would.
    pub fn ssh(&self, args: &[&str]) -> Output {
        Command::new("ssh")
            .arg("-F")
            .arg(self.path(".ssh/config"))
            .args(args)
            .env("HOME", self.home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Every prompt a person would have answered (password, code, passphrase).
    pub fn prompts(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("prompts.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

impl Laptop {
    /// hpcinit in a pseudo-terminal, as a person runs it: this laptop's home and project, no
    /// SSH_ASKPASS (ssh and hpcinit ask on the terminal); `timeout_ms` for each expectation.
    pub fn in_terminal(&self, args: &[&str], timeout_ms: u64) -> rexpect::session::PtySession {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hpcinit"));
        cmd.args(args)
            .current_dir(&self.project)
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .env("USER", "student")
            .env("HPCINIT_CLUSTER_DIR", &self.c.dir);
        rexpect::session::spawn_command(cmd, Some(timeout_ms)).expect("a pseudo-terminal")
    }
}

/// Waits for `want` on the terminal, then types `keys` as a person does: keys typed before a
/// prompt switches the terminal to raw mode are dropped, so a moment after the prompt, one by one.
pub fn type_at(p: &mut rexpect::session::PtySession, want: &str, keys: &str) {
    p.exp_string(want).unwrap_or_else(|e| panic!("waiting for {want:?}: {e}"));
    std::thread::sleep(std::time::Duration::from_millis(400));
    for k in keys.chars() {
        p.send(&k.to_string()).unwrap();
        p.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Laptop {
    /// Closes the master connections this laptop opened.
    pub fn close_masters(&self) {
        if let Ok(dir) = std::fs::read_dir(self.path(".ssh")) {
            for e in dir.flatten() {
                if e.file_name().to_string_lossy().starts_with("cm-") {
                    let _ = Command::new("ssh")
                        .args(["-F", "/dev/null", "-o"])
                        .arg(format!("ControlPath={}", e.path().display()))
                        .args(["-O", "exit", "x"])
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
    }
}

impl Drop for Laptop {
    fn drop(&mut self) {
        self.close_masters();
    }
}

/// What one sshd logged from now on.
pub struct LogWindow {
    path: PathBuf,
    start: usize,
}

impl LogWindow {
    pub fn open(c: &Cluster, mfa: bool) -> LogWindow {
        LogWindow::of(c, if mfa { "HPCINIT_SSHD_LOG_MFA" } else { "HPCINIT_SSHD_LOG_PLAIN" })
    }

    /// The log named by the cluster variable `var` (`HPCINIT_SSHD_LOG_GATEWAY`, …).
    pub fn of(c: &Cluster, var: &str) -> LogWindow {
        let path = PathBuf::from(c.var(var));
        let start = std::fs::read(&path).map(|b| b.len()).unwrap_or(0);
        LogWindow { path, start }
    }

    pub fn text(&self) -> String {
        let b = std::fs::read(&self.path).unwrap_or_default();
        String::from_utf8_lossy(&b[self.start.min(b.len())..]).into_owned()
    }

    /// Successful authentications of the test user ("Accepted password/keyboard-interactive/publickey").
    pub fn accepted(&self) -> usize {
        self.text().lines().filter(|l| l.starts_with("Accepted ") && l.contains(" for hpcuser from")).count()
    }
}

/// The SSH steps only: the cluster-side steps have their own tests (`remote_steps.rs`).
const RUN: &[&str] =
    &["--user", "hpcuser", "--yes", "--accept-new-host-key", "--no-passphrase", "--ssh-only"];

pub fn args<'a>(site: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--site", site];
    v.extend_from_slice(RUN);
    v.extend_from_slice(extra);
    v
}

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: exit {}\nstdout:\n{}\nstderr:\n{}", r.code, r.stdout, r.stderr);
}

pub(super) fn host_fingerprint(file: &str) -> String {
    let out = Command::new("ssh-keygen").arg("-lf").arg(file).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).unwrap().to_string()
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn second_factor_site_one_authentication_then_none() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let log = LogWindow::open(&l.c, true);
    let r = l.hpcinit(&args("sandbox-mfa", &["--transport", "ssh"]), &[]);
    ok(&r, "first run");
    assert_eq!(log.accepted(), 1, "one authentication for the whole run:\n{}", log.text());
    let prompts = l.prompts();
    assert_eq!(prompts.len(), 2, "password and one-time code, once each: {prompts:?}");
    assert!(prompts[0].contains("Password") && prompts[1].contains("One-time"), "{prompts:?}");
    for step in ["[1/4] SSH key", "[2/4] SSH config", "[3/4] Host key", "[4/4] Sign in once"] {
        assert!(r.stdout.contains(step), "{step} missing:\n{}", r.stdout);
    }
    assert!(r.stdout.contains("SSH is ready: `ssh sandbox-mfa`"), "{}", r.stdout);

    // `ssh sandbox-mfa` works, riding on the master: no new authentication, no prompt.
    let out = l.ssh(&["-o", "BatchMode=yes", "sandbox-mfa", "id -un"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hpcuser",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A later run within ControlPersist: every step unchanged, 0 authentications.
    let again = l.hpcinit(&args("sandbox-mfa", &["--transport", "ssh"]), &[]);
    ok(&again, "second run");
    assert_eq!(again.stdout.matches("· unchanged:").count(), 4, "{}", again.stdout);
    assert_eq!(log.accepted(), 1, "the second run added an authentication:\n{}", log.text());
    assert_eq!(l.prompts().len(), 2, "the second run asked something");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn second_factor_site_over_ssh2_one_authentication() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let log = LogWindow::open(&l.c, true);
    let r = l.hpcinit(&args("sandbox-mfa", &["--transport", "ssh2"]), &[]);
    ok(&r, "ssh2 run");
    assert_eq!(log.accepted(), 1, "{}", log.text());
    assert!(log.text().contains("Accepted keyboard-interactive/pam for hpcuser"), "{}", log.text());
    let prompts = l.prompts();
    assert_eq!(prompts.len(), 2, "password and code through hpcinit's prompter: {prompts:?}");
    assert!(r.stdout.contains("every later step of this run uses the same session"), "{}", r.stdout);
    // The config it wrote is the same as with OpenSSH: ssh -G agrees.
    let g = String::from_utf8_lossy(&l.ssh(&["-G", "sandbox-mfa"]).stdout).into_owned();
    assert!(g.contains("\nport 2223\n") && g.contains("\nhostkeyalias sandbox-mfa\n"), "{g}");
}

/// A copy of a built-in test profile under another name, with `edit` applied to its text.
pub(super) fn profile_variant(
    l: &Laptop,
    base: &str,
    name: &str,
    edit: impl Fn(String) -> String,
) -> PathBuf {
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("profiles/{base}.yaml")))
            .unwrap();
    let text = edit(src.replacen(&format!("name: {base}\n"), &format!("name: {name}\n"), 1));
    let path = l.path(&format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn pin(text: String, fingerprint: &str) -> String {
    text.replacen(
        "  port: 2223\n",
        &format!(
            "  port: 2223\n  host_keys:\n    - algorithm: ssh-ed25519\n      fingerprint: {fingerprint}\n  host_keys_source: docs/testing.md\n"
        ),
        1,
    )
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn wrong_pinned_fingerprint_stops_before_any_authentication() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let profile = profile_variant(&l, "sandbox-mfa", "pinned-wrong", |t| pin(t, wrong));
    let log = LogWindow::open(&l.c, true);
    let r =
        l.hpcinit(&[&["--profile", profile.to_str().unwrap()][..], &args("pinned-wrong", &[])].concat(), &[]);
    assert_eq!(r.code, 1, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let real = host_fingerprint(&l.c.var("HPCINIT_HOST_KEY_ED25519"));
    assert!(
        r.stderr.contains("SECURITY") && r.stderr.contains(&real) && r.stderr.contains(wrong),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("docs/testing.md"), "names where the pin came from: {}", r.stderr);
    let text = log.text();
    assert!(text.contains("host key read [preauth]"), "the key exchange happened: {text}");
    for word in ["Accepted", "Failed", "Postponed", "Invalid user", "for hpcuser"] {
        assert!(!text.contains(word), "sshd saw an authentication attempt ({word}):\n{text}");
    }
    assert!(l.prompts().is_empty(), "nothing was asked: {:?}", l.prompts());
    let known = std::fs::read_to_string(l.path(".ssh/known_hosts.d/hpcinit")).unwrap_or_default();
    assert!(!known.contains("pinned-wrong"), "nothing recorded: {known}");

    // The right pin passes, with no trust-on-first-use question.
    let profile = profile_variant(&l, "sandbox-mfa", "pinned-right", |t| pin(t, &real));
    let run = [
        "--site",
        "pinned-right",
        "--user",
        "hpcuser",
        "--yes",
        "--ssh-only",
        "--profile",
        profile.to_str().unwrap(),
    ];
    let r = l.hpcinit(&run, &[]);
    ok(&r, "right pin");
    assert!(r.stdout.contains("matches the fingerprint Sandbox MFA publishes"), "{}", r.stdout);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn unknown_host_key_without_a_terminal_needs_the_flag() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let log = LogWindow::open(&l.c, true);
    let r = l.hpcinit(&["--site", "sandbox-mfa", "--user", "hpcuser", "--yes"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stdout.contains("presents the ssh-ed25519 host key SHA256:"),
        "shows the fingerprint: {}",
        r.stdout
    );
    assert!(r.stderr.contains("--accept-new-host-key"), "{}", r.stderr);
    assert_eq!(log.accepted(), 0);
    assert!(l.prompts().is_empty());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn refused_connection_names_host_port_and_network_rule() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let profile = profile_variant(&l, "sandbox-mfa", "closed-port", |t| {
        t.replacen(
            "  port: 2223\n",
            "  port: 2299\n  network: Off campus, connect to the test VPN first.\n",
            1,
        )
    });
    let r =
        l.hpcinit(&[&["--profile", profile.to_str().unwrap()][..], &args("closed-port", &[])].concat(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("127.0.0.1 refused the connection on port 2299"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:") && r.stderr.contains("connect to the test VPN first"), "{}", r.stderr);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn wrong_password_says_what_the_site_asks_for() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let log = LogWindow::open(&l.c, false);
    let r = l.hpcinit(&args("sandbox", &[]), &[("HPCINIT_ASKPASS_PASSWORD", "not-the-password")]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("did not accept the sign-in"), "{}", r.stderr);
    assert!(r.stderr.contains("ssh offered the key ~/.ssh/id_ed25519_hpcinit"), "{}", r.stderr);
    assert!(r.stderr.contains("Check your username (hpcuser)"), "{}", r.stderr);
    assert_eq!(log.accepted(), 0);
}

fn key_lines(c: &Cluster, public: &str) -> usize {
    let file = c.dir.join("home/hpcuser/.ssh/authorized_keys");
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split_whitespace().take(2).eq(key.iter().copied()))
        .count()
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn authorized_keys_install_is_idempotent_and_key_login_works() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for transport in ["ssh", "ssh2"] {
        let l = Laptop::new();
        let log = LogWindow::open(&l.c, false);
        for i in 1..=3 {
            ok(
                &l.hpcinit(&args("sandbox", &["--transport", transport]), &[]),
                &format!("{transport} run {i}"),
            );
        }
        let key = l.path(".ssh/id_ed25519_hpcinit");
        let public = std::fs::read_to_string(l.path(".ssh/id_ed25519_hpcinit.pub")).unwrap();
        assert_eq!(key_lines(&l.c, &public), 1, "{transport}: one line after three runs");
        let mode = |p: &Path| {
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777
        };
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&l.path(".ssh")), 0o700);
        assert_eq!(mode(&l.c.dir.join("home/hpcuser/.ssh/authorized_keys")), 0o600);
        assert_eq!(l.prompts().len(), 1, "{transport}: the password, once in three runs: {:?}", l.prompts());
        // Key login, with no master and no way to type a password.
        let out = l.ssh(&["-o", "ControlPath=none", "-o", "BatchMode=yes", "sandbox", "id -un"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "hpcuser",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(log.text().contains("Accepted publickey for hpcuser"), "{}", log.text());
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn include_edit_round_trips_a_corpus_of_real_configs() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ssh_configs");
    let mut cases: Vec<(String, Vec<u8>)> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "config"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    cases.sort();
    assert!(cases.len() >= 9, "corpus: {cases:?}");
    // One key, registered once, shared by every case: each run signs in with it (no prompt).
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id_test");
    let first = Laptop::new();
    let made =
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(made.success());
    ok(
        &first.hpcinit(&args("sandbox", &["--key", key.to_str().unwrap()]), &[]),
        "registering the shared key",
    );

    for symlinked in [false, true] {
        for (name, original) in &cases {
            let l = Laptop::new();
            std::fs::create_dir_all(l.path(".ssh")).unwrap();
            let config = l.path(".ssh/config");
            let target = if symlinked {
                std::fs::create_dir_all(l.path("dotfiles")).unwrap();
                std::os::unix::fs::symlink("../dotfiles/ssh_config", &config).unwrap();
                l.path("dotfiles/ssh_config")
            } else {
                config.clone()
            };
            std::fs::write(&target, original).unwrap();
            let case = format!("{name}{}", if symlinked { " (symlinked)" } else { "" });
            let mut seen = Vec::new();
            for i in 0..10 {
                ok(
                    &l.hpcinit(&args("sandbox", &["--key", key.to_str().unwrap()]), &[]),
                    &format!("{case} run {i}"),
                );
                seen.push(std::fs::read(&target).unwrap());
            }
            assert!(
                seen.windows(2).all(|w| w[0] == w[1]),
                "{case}: the 10 runs did not give identical bytes"
            );
            let crlf =
                original.iter().position(|&b| b == b'\n').is_some_and(|i| i > 0 && original[i - 1] == b'\r');
            let mut expected = b"Include ~/.ssh/config.d/hpcinit".to_vec();
            expected.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            expected.extend_from_slice(original);
            assert_eq!(seen[0], expected, "{case}: more than the Include line changed");
            if symlinked {
                assert!(
                    config.symlink_metadata().unwrap().file_type().is_symlink(),
                    "{case}: the link stays a link"
                );
            }
            let mut backup = target.as_os_str().to_owned();
            backup.push(".hpcinit-backup");
            if !original.is_empty() {
                assert_eq!(&std::fs::read(PathBuf::from(backup)).unwrap(), original, "{case}: backup");
            }
            let g = String::from_utf8_lossy(&l.ssh(&["-G", "sandbox"]).stdout).into_owned();
            for want in [
                "user hpcuser".to_string(),
                "hostname 127.0.0.1".into(),
                "port 2222".into(),
                "hostkeyalias sandbox".into(),
                format!("identityfile {}", key.display()),
                format!("controlpath {}/.ssh/cm-", l.home.path().display()),
                format!("userknownhostsfile {}/.ssh/known_hosts.d/hpcinit", l.home.path().display()),
                "stricthostkeychecking true".into(),
            ] {
                assert!(g.lines().any(|line| line.starts_with(&want)), "{case}: ssh -G lacks `{want}`:\n{g}");
            }
        }
    }
}

fn portal(text: String, required: bool) -> String {
    text.replacen(
        "  mode: authorized-keys\n",
        &format!(
            "  mode: portal\n  portal_url: docs/testing.md\n  propagation: a few seconds\n  required_before_login: {required}\n"
        ),
        1,
    )
}

/// Appends this laptop's public key to the test user's authorized_keys once it exists, as a
/// site's portal would after the person pasted it.
pub(super) fn register_later(l: &Laptop, delay: std::time::Duration) -> std::thread::JoinHandle<()> {
    let public = l.path(".ssh/id_ed25519_hpcinit.pub");
    let file = l.c.dir.join("home/hpcuser/.ssh/authorized_keys");
    std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while !public.exists() && start.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(delay);
        let key = std::fs::read_to_string(&public).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
        std::io::Write::write_all(&mut f, key.as_bytes()).unwrap();
    })
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn portal_key_is_shown_then_waited_for() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let profile = profile_variant(&l, "sandbox", "portal-site", |t| portal(t, false));
    let p = profile.to_str().unwrap();
    let later = register_later(&l, std::time::Duration::from_secs(3));
    let r = l.hpcinit(
        &[&["--profile", p][..], &args("portal-site", &["--wait-for-key", "60", "--key-poll", "1"])].concat(),
        &[],
    );
    later.join().unwrap();
    ok(&r, "portal run");
    let public = std::fs::read_to_string(l.path(".ssh/id_ed25519_hpcinit.pub")).unwrap();
    assert!(
        r.stdout.contains("Open docs/testing.md") && r.stdout.contains(public.trim()),
        "shows URL and key:\n{}",
        r.stdout
    );
    assert!(r.stdout.contains("✓ Sandbox accepts the key"), "{}", r.stdout);
    let out = l.ssh(&["-o", "ControlPath=none", "-o", "BatchMode=yes", "portal-site", "true"]);
    assert!(
        out.status.success(),
        "key login after the portal step: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn portal_wait_is_bounded_and_resumable() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let profile = profile_variant(&l, "sandbox", "portal-site", |t| portal(t, false));
    let p = profile.to_str().unwrap();
    let started = std::time::Instant::now();
    let r = l.hpcinit(
        &[&["--profile", p][..], &args("portal-site", &["--wait-for-key", "2", "--key-poll", "1"])].concat(),
        &[],
    );
    ok(&r, "portal run without registration");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the wait is bounded");
    assert!(r.stdout.contains("to do: add the key at docs/testing.md"), "{}", r.stdout);
    assert!(r.stdout.contains("SSH is ready"), "password sign-in still works: {}", r.stdout);
    // The person registers the key later; the next run finds it and reports it done.
    let later = register_later(&l, std::time::Duration::ZERO);
    later.join().unwrap();
    let again =
        l.hpcinit(&[&["--profile", p][..], &args("portal-site", &["--wait-for-key", "2"])].concat(), &[]);
    ok(&again, "rerun");
    assert!(again.stdout.contains("· unchanged: Sandbox accepts the key"), "{}", again.stdout);

    // Where the key is needed before any login, an unregistered key stops the run, with no sign-in.
    let l = Laptop::new();
    let profile = profile_variant(&l, "sandbox", "portal-first", |t| portal(t, true));
    let log = LogWindow::open(&l.c, false);
    let r = l.hpcinit(
        &[
            &["--profile", profile.to_str().unwrap()][..],
            &args("portal-first", &["--wait-for-key", "1", "--key-poll", "1"]),
        ]
        .concat(),
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("not registered") && r.stderr.contains("run `hpcinit --site portal-first` again"),
        "{}",
        r.stderr
    );
    assert_eq!(log.accepted(), 0, "{}", log.text());
    assert!(l.prompts().is_empty(), "{:?}", l.prompts());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn key_passphrase_from_a_file_and_required_passphrases() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let pass = l.path("passphrase");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let base = ["--site", "sandbox", "--user", "hpcuser", "--yes", "--accept-new-host-key", "--ssh-only"];
    let r = l.hpcinit(&[&base[..], &["--key-passphrase-file", pass.to_str().unwrap()]].concat(), &[]);
    ok(&r, "key with a passphrase");
    assert!(r.stdout.contains("with a passphrase"), "{}", r.stdout);
    let key = l.path(".ssh/id_ed25519_hpcinit");
    let check = |p: &str| {
        Command::new("ssh-keygen").args(["-y", "-P", p, "-f"]).arg(&key).output().unwrap().status.success()
    };
    assert!(check("correct horse battery staple"), "OpenSSH opens the key with the passphrase");
    assert!(!check("wrong"), "and not without it");
    assert!(!r.stdout.contains("correct horse") && !r.stderr.contains("correct horse"), "never printed");
    assert!(
        r.stdout.contains("key login works")
            || r.stdout.contains("key login is checked beside the next steps"),
        "{}",
        r.stdout
    );

    // A site that requires a passphrase refuses --no-passphrase before creating anything.
    let l = Laptop::new();
    let profile = profile_variant(&l, "sandbox", "needs-passphrase", |t| {
        t.replacen("  mode: authorized-keys\n", "  mode: authorized-keys\n  passphrase_required: true\n", 1)
    });
    let r = l.hpcinit(
        &[&["--profile", profile.to_str().unwrap()][..], &args("needs-passphrase", &[])].concat(),
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("requires a passphrase") && r.stderr.contains("--key-passphrase-file"),
        "{}",
        r.stderr
    );
    assert!(!l.path(".ssh/id_ed25519_hpcinit").exists(), "no key was made");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn group_writable_home_is_not_changed_without_consent() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let home = l.c.dir.join("home/hpcuser");
    let set = |mode: u32| {
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap()
    };
    struct Restore<F: Fn()>(F);
    impl<F: Fn()> Drop for Restore<F> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    // Debian's sshd tolerates a group-writable home when the group is the user's own, as here;
    // writable by others, it ignores authorized_keys (StrictModes).
    set(0o757);
    let _restore = Restore(|| set(0o755));
    let r = l.hpcinit(&args("sandbox", &[]), &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("can be written by other users"), "{}", r.stdout);
    assert!(r.stderr.contains("chmod go-w ~"), "{}", r.stderr);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&home).unwrap().permissions()) & 0o777;
    assert_eq!(mode, 0o757, "hpcinit changed the home directory without consent");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn two_sites_share_the_managed_file() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    ok(&l.hpcinit(&args("sandbox", &[]), &[]), "first site");
    ok(&l.hpcinit(&args("sandbox-mfa", &[]), &[]), "second site");
    let managed = std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap();
    assert!(managed.contains("\nHost sandbox\n") && managed.contains("\nHost sandbox-mfa\n"), "{managed}");
    let config = std::fs::read_to_string(l.path(".ssh/config")).unwrap();
    assert_eq!(config, "Include ~/.ssh/config.d/hpcinit\n", "one Include line for both sites");
    // Re-running the first site keeps the second one's entries.
    ok(&l.hpcinit(&args("sandbox", &[]), &[]), "first site again");
    assert_eq!(std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap(), managed);
    for (alias, port) in [("sandbox", "2222"), ("sandbox-mfa", "2223")] {
        let out = l.ssh(&["-o", "BatchMode=yes", alias, "id -un"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "hpcuser",
            "{alias}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let g = String::from_utf8_lossy(&l.ssh(&["-G", alias]).stdout).into_owned();
        assert!(g.contains(&format!("\nport {port}\n")), "{alias}: {g}");
    }
}
