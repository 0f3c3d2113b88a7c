//! The `hpcinit` binary as a person runs it: output, exit codes, files it must not touch.

use std::path::Path;
use std::process::{Command, Output};

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs hpcinit with a temporary HOME, no colours, no terminal.
fn hpcinit_in(home: &Path, cwd: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_hpcinit"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .output()
        .expect("hpcinit runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

struct Sandbox {
    home: tempfile::TempDir,
    project: std::path::PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let home = tempfile::tempdir().unwrap();
        let project = home.path().join("demo");
        std::fs::create_dir(&project).unwrap();
        std::fs::write(project.join("requirements.txt"), "numpy\n").unwrap();
        Sandbox { home, project }
    }
    fn run(&self, args: &[&str]) -> Run {
        hpcinit_in(self.home.path(), &self.project, args)
    }
    /// Writes `~/.ssh/config` with `bytes`; its path.
    fn ssh_config(&self, bytes: &[u8]) -> std::path::PathBuf {
        std::fs::create_dir_all(self.home.path().join(".ssh")).unwrap();
        let config = self.home.path().join(".ssh/config");
        std::fs::write(&config, bytes).unwrap();
        config
    }
}

#[test]
fn profiles_list_shows_every_builtin_profile() {
    let r = Sandbox::new().run(&["profiles", "list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let set = hpcinit::profile::ProfileSet::builtin().unwrap();
    for name in set.iter().map(|p| p.name().to_string()) {
        assert!(
            r.stdout.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing:\n{}",
            r.stdout
        );
    }
    let header = r.stdout.lines().next().unwrap();
    for col in ["NAME", "SITE", "SCHEDULER", "SIGN-IN"] {
        assert!(header.contains(col), "{header}");
    }
    let json = Sandbox::new().run(&["profiles", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v.as_array().unwrap().len() >= 11);
}

#[test]
fn profiles_show_saga_has_host_and_pinned_fingerprint() {
    let r = Sandbox::new().run(&["profiles", "show", "saga"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("host: saga.sigma2.no"));
    assert!(r.stdout.contains(
        "algorithm: ssh-ed25519\n      fingerprint: SHA256:YOkZ1uudXrFmaigdnpZ64z497ZccNhdZe/abFkDXOH8"
    ));
}

#[test]
fn plan_saga_multiplexes_and_does_not_chase_key_login() {
    let r = Sandbox::new().run(&[
        "plan",
        "--site",
        "saga",
        "--user",
        "alice",
        "--account",
        "nn1234k",
        "--details",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o = &r.stdout;
    assert!(o.contains("Host saga\n"), "{o}");
    assert!(o.contains("HostName saga.sigma2.no"));
    assert!(o.contains("ControlMaster auto"));
    assert!(o.contains("ControlPersist 10m"));
    assert!(o.contains("PubkeyAuthentication no"), "no attempt at key-only login");
    assert!(!o.contains("authorized_keys"), "no key is installed on Saga");
    assert!(!o.contains("IdentityFile"));
    assert!(o.contains("#SBATCH --account=nn1234k"));
    assert!(o.contains("Include ~/.ssh/config.d/hpcinit"));
    let home = Sandbox::new();
    let _ = home.run(&["plan", "--site", "saga", "--user", "alice", "--account", "nn1234k"]);
    assert!(!home.home.path().join(".ssh").exists(), "plan touches nothing");
}

#[test]
fn plan_narval_uses_ccdb_and_virtualenv() {
    let r = Sandbox::new().run(&["plan", "--site", "narval", "--user", "alice", "-v"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("https://ccdb.alliancecan.ca/ssh_authorized_keys"));
    assert!(r.stdout.contains("virtualenv --no-download"));
    assert!(r.stdout.contains("pip --no-index (the site's wheelhouse)"));
    assert!(r.stdout.contains("modules: StdEnv/2023 python/3.11.5"));
    assert!(r.stdout.contains("module load StdEnv/2023 python/3.11.5"), "the job template loads them");
}

#[test]
fn plan_dtu_submits_with_bsub_redirect() {
    // The short table by default: one line per step, no script text.
    let short = Sandbox::new().run(&["plan", "--site", "dtu", "--user", "s123456"]);
    assert_eq!(short.code, 0, "{}", short.stderr);
    assert!(
        !short.stdout.contains("#BSUB") && short.stdout.contains("WHAT IT CHANGES, WHERE"),
        "{}",
        short.stdout
    );
    assert!(short.stdout.lines().count() <= 20, "{}", short.stdout);
    let r = Sandbox::new().run(&["plan", "--site", "dtu", "--user", "s123456", "--details"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("submit: bsub < ~/sbatch/demo.sh"));
    assert!(r.stdout.contains("#BSUB -W 01:00"));
    assert!(r.stdout.contains("UNVERIFIED"));
}

#[test]
fn plan_json_is_the_same_plan() {
    let r = Sandbox::new().run(&["plan", "--site", "trillium", "--user", "alice", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = v["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "key",
            "ssh-config",
            "host-key",
            "register-key",
            "connect",
            "probe",
            "remote-layout",
            "job-templates",
            "python",
            "lock",
            "sync"
        ],
        "Trillium takes only CCDB keys: registration comes before the first connection"
    );
}

#[test]
fn misspelled_profile_field_exits_2_with_file_line_and_field() {
    let sb = Sandbox::new();
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/saga.yaml")).unwrap();
    let bad = text.replace("  quota_command: dusage", "  quota_comand: dusage");
    let path = sb.home.path().join("mysite.yaml");
    std::fs::write(&path, &bad).unwrap();
    let line = bad.lines().position(|l| l.contains("quota_comand")).unwrap() + 1;
    let r = sb.run(&["profiles", "validate", path.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    let want = format!("{}:{line}:3", path.display());
    assert!(r.stderr.contains(&want), "want {want} in:\n{}", r.stderr);
    assert!(r.stderr.contains("unknown field `quota_comand`"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    // The same file given with --profile stops every command the same way.
    let r = sb.run(&[
        "--profile",
        path.to_str().unwrap(),
        "plan",
        "--site",
        "saga",
        "--user",
        "a",
        "--account",
        "nn1234k",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: invalid profile"), "{}", r.stderr);
}

#[test]
fn validate_accepts_the_builtin_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let files: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    let mut args = vec!["profiles", "validate"];
    args.extend(files.iter().map(String::as_str));
    let r = Sandbox::new().run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().filter(|l| l.starts_with("ok: ")).count(), files.len());
}

#[test]
fn user_profile_dir_overrides_builtin() {
    let sb = Sandbox::new();
    let dir = sb.home.path().join(".config/hpcinit/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/saga.yaml")).unwrap();
    std::fs::write(dir.join("saga.yaml"), text.replace("control_persist: 10m", "control_persist: 2h"))
        .unwrap();
    let r = sb.run(&["plan", "--site", "saga", "--user", "alice", "--account", "nn1234k"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("(kept 2h)"), "{}", r.stdout);
    let list = sb.run(&["profiles", "list"]);
    assert!(list.stdout.lines().any(|l| l.starts_with("saga ") && l.ends_with("user")), "{}", list.stdout);
}

#[test]
fn bad_answers_exit_2_with_a_hint() {
    let sb = Sandbox::new();
    let cases: &[(&[&str], &str)] = &[
        (&["plan", "--user", "alice"], "--site"),
        (&["plan", "--site", "saga", "--account", "nn1234k"], "--user"),
        (&["plan", "--site", "saga", "--user", "alice"], "--account nn1234k"),
        (&["plan", "--site", "saga", "--user", "alice", "--account", "1234"], "look like `nn1234k`"),
        (&["plan", "--site", "saga", "--user", "$(touch pwned)", "--account", "nn1234k"], "username"),
        (&["plan", "--site", "saga", "--user=-oProxyCommand=x", "--account", "nn1234k"], "username"),
        (&["plan", "--site", "saga", "--user", "al\nice", "--account", "nn1234k"], "line break"),
        (
            &["plan", "--site", "saga", "--user", "alice", "--account", "nn1234k", "--project-name", "a;b"],
            "project name",
        ),
        (&["plan", "--site", "narval", "--user", "alice", "--python", "3.x"], "Python version"),
        (&["plan", "--site", "narval", "--user", "alice", "--key", "/nonexistent/key"], "--key"),
        (&["plan", "--site", "cedar", "--user", "alice"], "--site fir"),
        (&["plan", "--site", "nowhere", "--user", "alice"], "profiles list"),
    ];
    for (args, expect) in cases {
        let r = sb.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(expect), "{args:?} should mention {expect:?}:\n{}", r.stderr);
        assert!(r.stderr.contains("hint:") || r.stderr.contains("Usage"), "{args:?}: {}", r.stderr);
    }
    assert!(!sb.project.join("pwned").exists());
}

#[test]
fn unreadable_profile_says_why() {
    let r = Sandbox::new().run(&["--profile", "/nonexistent/site.yaml", "profiles", "list"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("error: cannot read profile /nonexistent/site.yaml"), "{}", r.stderr);
    assert!(r.stderr.contains("caused by: No such file or directory"), "{}", r.stderr);
}

#[test]
fn without_a_terminal_the_run_needs_yes_and_changes_nothing() {
    let sb = Sandbox::new();
    let r = sb.run(&["--site", "narval", "--user", "alice"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.contains("Plan for narval"), "the plan is shown first");
    assert!(r.stderr.contains("no terminal"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:") && r.stderr.contains("--yes"), "{}", r.stderr);
    assert!(!sb.home.path().join(".ssh").exists(), "nothing was written before the confirmation");
}

#[test]
fn help_version_and_completions() {
    let sb = Sandbox::new();
    let help = sb.run(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Examples:") && help.stdout.contains("--site"));
    let v = sb.run(&["--version"]);
    assert_eq!(v.stdout.trim(), format!("hpcinit {}", env!("CARGO_PKG_VERSION")));
    for shell in ["bash", "zsh", "fish"] {
        let c = sb.run(&["completions", shell]);
        assert_eq!(c.code, 0);
        assert!(c.stdout.contains("hpcinit") && c.stdout.contains("profiles"), "{shell}");
    }
    let bad = sb.run(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2);
}

/// OpenSSH's own parser reads every config hpcinit plans, and resolves the values hpcinit set,
/// even with a `Host *` block in the user's config that sets the same options differently.
#[test]
fn openssh_accepts_every_planned_config() {
    let ssh = Command::new("ssh").arg("-V").output();
    assert!(ssh.is_ok(), "OpenSSH client (ssh) is required for this test; the test command installs it");
    let sb = Sandbox::new();
    let set = hpcinit::profile::ProfileSet::builtin().unwrap();
    for p in set.iter() {
        let mut args = vec!["plan", "--json", "--site", p.name().as_str(), "--user", "alice"];
        let account = p.raw.scheduler.account.as_ref().map(|a| a.example.value.clone());
        if let Some(a) = &account {
            args.extend(["--account", a.as_str()]);
        }
        let r = sb.run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let step = v["steps"].as_array().unwrap().iter().find(|s| s["id"] == "ssh-config").unwrap();
        let managed = sb.home.path().join(format!("managed-{}", p.name()));
        std::fs::write(&managed, step["text"].as_str().unwrap()).unwrap();
        let user_config = sb.home.path().join(format!("config-{}", p.name()));
        std::fs::write(
            &user_config,
            format!("Include {}\n\nHost *\n    ControlMaster no\n    User someoneelse\n    ServerAliveInterval 5\n", managed.display()),
        )
        .unwrap();
        let out =
            Command::new("ssh").args(["-G", "-F"]).arg(&user_config).arg(p.name().as_str()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}: {}", p.name(), String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(&format!("hostname {}\n", p.raw.ssh.host)), "{}: {text}", p.name());
        assert!(text.contains("user alice\n"), "{}", p.name());
        assert!(text.contains("controlmaster auto\n"), "{}", p.name());
        assert!(text.contains("serveraliveinterval 60\n"), "{}", p.name());
        assert!(text.contains("stricthostkeychecking true\n"), "{}", p.name());
    }
}

#[test]
fn a_missing_answer_without_a_terminal_is_exit_2_naming_the_flag() {
    let s = Sandbox::new();
    std::fs::write(s.project.join("class.yaml"), "site: saga\naccount: nn1234k\n").unwrap();
    let r = s.run(&["--answers", "class.yaml", "--yes"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("error: missing username"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: pass --user NAME"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "nothing was planned: {}", r.stdout);
    // No site at all.
    let r = s.run(&["--yes"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--site"), "{}", r.stderr);
    // A flag fills the gap the file left; the file's account is used.
    let r = s.run(&["--answers", "class.yaml", "plan", "--user", "alice"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("user alice · account nn1234k"), "{}", r.stdout);
}

#[test]
fn a_bad_answers_file_points_at_its_line() {
    let s = Sandbox::new();
    std::fs::write(s.project.join("class.yaml"), "site: saga\nuser: alice\nacount: nn1234k\n").unwrap();
    let r = s.run(&["--answers", "class.yaml", "plan"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("class.yaml:3:1: unknown field `acount`"), "{}", r.stderr);
    assert!(r.stderr.contains("3 | acount: nn1234k"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: the keys are the long flags' names"), "{}", r.stderr);
    let r = s.run(&["--answers", "missing.yaml", "plan"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("cannot read the answers file"), "{}", r.stderr);
}

#[test]
fn ctrl_c_in_the_wizard_exits_130_and_writes_nothing() {
    let s = Sandbox::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hpcinit"));
    cmd.current_dir(&s.project)
        .env_clear()
        .env("HOME", s.home.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).expect("a pseudo-terminal");
    p.exp_string("Which cluster?").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    p.send_control('c').unwrap();
    let rest = p.exp_eof().unwrap();
    let status = p.process().wait().unwrap();
    assert!(matches!(status, rexpect::process::WaitStatus::Exited(_, 130)), "{status:?}\n{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert!(!s.home.path().join(".ssh").exists(), "nothing was written");
}

#[test]
fn a_damaged_or_missing_lock_file_exits_2_naming_the_place() {
    let s = Sandbox::new();
    // `hpcinit reproduce` without a lock: what to run first.
    let r = s.run(&["reproduce", "--site", "saga", "--user", "alice", "--account", "nn1234k", "--yes"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("error: no hpcinit.lock in"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: `hpcinit --site SITE` writes hpcinit.lock"), "{}", r.stderr);
    // A lock with a misspelt key: file:line:column, the line, how to recover.
    std::fs::write(
        s.project.join("hpcinit.lock"),
        "lock-version: 1\nhpcinit: \"0.1.0\"\norigin: {site: narval, name: Narval, venv: ~/venvs/demo}\npython: {version: \"3.11.5\", logical: python 3.11}\nrecipe: {kind: virtualenv}\npackges: [numpy==1.26.4]\n",
    )
    .unwrap();
    let r = s.run(&["plan", "--site", "saga", "--user", "alice", "--account", "nn1234k"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("hpcinit.lock:6:1: unknown field `packges`"), "{}", r.stderr);
    assert!(r.stderr.contains("packges: [numpy==1.26.4]"), "the line is shown: {}", r.stderr);
    assert!(r.stderr.contains("hint: hpcinit.lock is written by hpcinit"), "{}", r.stderr);
    // --no-lock and reproduce contradict each other.
    let r = s.run(&["reproduce", "--site", "saga", "--user", "alice", "--account", "nn1234k", "--no-lock"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--no-lock says not to"), "{}", r.stderr);
}

/// Hostile answers and profile values: refused (exit 2, naming the value) before anything
/// runs; the canary each would create if a shell ever ran it never appears, and nothing is
/// written under ~/.ssh.
#[test]
fn hostile_answers_and_profile_values_are_refused_never_run() {
    let s = Sandbox::new();
    let canary = s.home.path().join("pwned");
    let c = canary.display().to_string();
    let hostile = [
        format!("a;touch {c}"),
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        format!("a'b;touch {c}"),
        "a\"b".to_string(),
        format!("a b {c}"),
        format!("a\ntouch {c}"),
        format!("-oProxyCommand=touch {c}"),
    ];
    for v in &hostile {
        for (flag, what) in [
            ("--user", "username"),
            ("--account", "account"),
            ("--project-name", "project name"),
            ("--python", "Python version"),
            ("--bwlimit", "bandwidth limit"),
        ] {
            let mut args = vec!["--site", "sandbox", "--user", "hpcuser", "--yes", "--accept-new-host-key"];
            if flag == "--user" {
                args.truncate(2);
                args.push("--yes");
            }
            // `--flag=VALUE`: a leading `-` reaches hpcinit instead of clap.
            let pair = format!("{flag}={v}");
            args.push(&pair);
            let r = s.run(&args);
            assert_eq!(r.code, 2, "{flag} {v:?}: {}\n{}", r.stdout, r.stderr);
            assert!(r.stderr.starts_with(&format!("error: {what}")), "{flag} {v:?}: {}", r.stderr);
            assert!(r.stderr.contains("hint:"), "{flag} {v:?}: {}", r.stderr);
        }
    }
    // A profile whose host or scratch path carries a command.
    for (field, value) in [
        ("host", format!("\"x;touch {c}\"")),
        ("host", "\"-oProxyCommand=x\"".into()),
        ("port", "\"22;x\"".into()),
    ] {
        let text = std::fs::read_to_string(env!("CARGO_MANIFEST_DIR").to_string() + "/profiles/sandbox.yaml")
            .unwrap()
            .replacen(
                if field == "host" { "host: 127.0.0.1" } else { "port: 2222" },
                &format!("{field}: {value}"),
                1,
            );
        let file = s.home.path().join("hostile.yaml");
        std::fs::write(&file, text).unwrap();
        let r = s.run(&["profiles", "validate", file.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{field}: {value}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("hostile.yaml:"), "{}", r.stderr);
    }
    assert!(!canary.exists(), "a hostile value was run by a shell");
    assert!(!s.home.path().join(".ssh").exists(), "nothing was written under ~/.ssh");
}

/// A profile or answers file cut off mid-write (a failed download, a full disk, an editor
/// crash): exit 2 with the file, the line and a hint; nothing is written to `~/.ssh`.
#[test]
fn truncated_profiles_and_answers_files_exit_2_naming_the_place() {
    let s = Sandbox::new();
    let saga =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/saga.yaml")).unwrap();
    // Cut in the middle of a line, a third of the way in, and inside a quoted string.
    let third = saga.len() / 3;
    let cuts = [
        saga[..third].to_string(),
        saga[..saga.find("\nscheduler:").unwrap()].to_string(),
        format!("{}  extra: \"unterminated\n", &saga[..saga.find("\nstorage:").unwrap() + 1]),
        String::new(),
    ];
    for (i, text) in cuts.iter().enumerate() {
        let path = s.project.join(format!("cut-{i}.yaml"));
        std::fs::write(&path, text).unwrap();
        let r = s.run(&["profiles", "validate", path.to_str().unwrap()]);
        assert_eq!(r.code, 2, "cut {i}: {r:?}");
        assert!(r.stderr.contains(&format!("cut-{i}.yaml")), "cut {i} names the file: {}", r.stderr);
        assert!(r.stderr.contains("error:"), "cut {i}: {}", r.stderr);
        // The same file given to a run: refused before anything happens.
        let r = s.run(&["--profile", path.to_str().unwrap(), "--site", "saga", "--user", "alice", "--yes"]);
        assert_eq!(r.code, 2, "cut {i} as --profile: {r:?}");
        assert!(r.stderr.contains("hint:"), "cut {i}: {}", r.stderr);
    }
    // Line numbers point at the cut: a mapping broken off after `host:` on line N.
    let path = s.project.join("cut-key.yaml");
    std::fs::write(&path, "name: cutsite\ndisplay_name: Cut\nssh:\n  host: [login.example.org\n").unwrap();
    let r = s.run(&["profiles", "validate", path.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("cut-key.yaml:"), "{}", r.stderr);

    // Answers files: cut mid-key, mid-value, inside a quote.
    for (i, text) in ["site: saga\nuser: [ali", "site: saga\nus", "site: saga\nuser: \"alice\naccount: nn1"]
        .iter()
        .enumerate()
    {
        std::fs::write(s.project.join("class.yaml"), text).unwrap();
        let r = s.run(&["--answers", "class.yaml", "--yes"]);
        assert_eq!(r.code, 2, "answers cut {i}: {r:?}");
        assert!(r.stderr.contains("class.yaml"), "answers cut {i} names the file: {}", r.stderr);
        assert!(r.stderr.contains("hint:"), "answers cut {i}: {}", r.stderr);
    }
    // Cut where the rest still parses: the missing answer is named, with its flag.
    std::fs::write(s.project.join("class.yaml"), "site: saga\nuser: ali").unwrap();
    let r = s.run(&["--answers", "class.yaml", "--yes"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("missing account") && r.stderr.contains("--account"), "{}", r.stderr);
    assert!(!s.home.path().join(".ssh").exists(), "nothing was written to ~/.ssh");
}

#[test]
fn the_version_is_the_one_the_readme_and_the_changelog_name() {
    let d = tempfile::tempdir().unwrap();
    let r = hpcinit_in(d.path(), d.path(), &["--version"]);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(r.stdout.trim(), format!("hpcinit {version}"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains(&format!("**Status ({minor}):**")), "README's status is {minor}");
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap();
    let first = changelog.lines().find(|l| l.starts_with("## [") && !l.contains("Unreleased")).unwrap();
    assert!(first.starts_with(&format!("## [{version}] - ")), "the newest release in CHANGELOG.md: {first}");
}

/// `~/.ssh/config` files OpenSSH rejects, the line it names, and words the message must have.
const REJECTED_CONFIGS: &[(&str, &[u8], usize, &[&str])] = &[
    (
        "macOS keyword",
        b"Host *\n    AddKeysToAgent yes\n    UseKeychain yes\n",
        3,
        &["IgnoreUnknown UseKeychain", "macOS"],
    ),
    ("newer keyword", b"# work\nHost work\n  Tag=work\n", 3, &["IgnoreUnknown Tag", "does not know `Tag`"]),
    ("byte-order mark", b"\xef\xbb\xbfHost a\n  User x\n", 1, &["byte-order mark", "plain UTF-8"]),
    (
        "Match all with criteria",
        b"Host a\n  User x\nMatch all host b\n  User y\n",
        3,
        &["`Match all` stands alone"],
    ),
    ("keyword without a value", b"Host a\n  User\n", 2, &["give `User` a value"]),
    ("a bad value", b"Host a\n  Port abc\n", 2, &["Bad port 'abc'"]),
];

#[test]
fn a_config_openssh_rejects_is_left_as_it_is_and_its_own_line_is_named() {
    let have_ssh = Command::new("ssh").arg("-V").output().is_ok_and(|o| o.status.success());
    if !have_ssh {
        assert!(std::env::var("HPCINIT_REQUIRE_CLUSTER").as_deref() != Ok("1"), "ssh is not installed");
        eprintln!("skipped: no ssh here to read the config");
        return;
    }
    for (shape, bytes, line, words) in REJECTED_CONFIGS {
        let s = Sandbox::new();
        let config = s.ssh_config(bytes);
        let r = s.run(&[
            "--site",
            "sandbox",
            "--user",
            "hpcuser",
            "--yes",
            "--no-passphrase",
            "--accept-new-host-key",
        ]);
        assert_eq!(r.code, 2, "{shape}: exit 2\n{}\n{}", r.stdout, r.stderr);
        assert_eq!(&std::fs::read(&config).unwrap(), bytes, "{shape}: the file is as it was");
        assert!(
            r.stderr.contains(&format!("error: OpenSSH rejects {} line {line}: ", config.display())),
            "{shape}: the person's file and line: {}",
            r.stderr
        );
        for w in *words {
            assert!(r.stderr.contains(w), "{shape}: `{w}` in\n{}", r.stderr);
        }
        assert!(!s.home.path().join(".ssh/config.d").exists(), "{shape}: nothing of hpcinit's written");
        assert!(!s.home.path().join(".ssh/id_ed25519_hpcinit").exists(), "{shape}: no key made");
    }
}

#[test]
fn fix_config_adds_ignore_unknown_with_a_backup_and_openssh_then_reads_the_file() {
    if !Command::new("ssh").arg("-V").output().is_ok_and(|o| o.status.success()) {
        return;
    }
    let s = Sandbox::new();
    let original = b"Host *\n    UseKeychain yes\n  IgnoreUnknown AddKeysToAgent\n";
    let config = s.ssh_config(original);
    let r = s.run(&[
        "--site",
        "sandbox",
        "--user",
        "hpcuser",
        "--yes",
        "--no-passphrase",
        "--fix-config",
        "--ssh-only",
    ]);
    assert!(
        r.stdout.contains("added `IgnoreUnknown UseKeychain` as the first line"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("IgnoreUnknown AddKeysToAgent,UseKeychain\nHost *\n    UseKeychain yes\n"),
        "{text}"
    );
    let backup = s.home.path().join(".ssh/config.hpcinit-fix-backup");
    assert_eq!(std::fs::read(backup).unwrap(), original);
    let g = Command::new("ssh").args(["-G", "-F"]).arg(&config).arg("x").output().unwrap();
    assert!(g.status.success(), "OpenSSH reads it now: {}", String::from_utf8_lossy(&g.stderr));
}

#[test]
fn doctor_names_the_line_of_a_config_openssh_rejects() {
    if !Command::new("ssh").arg("-V").output().is_ok_and(|o| o.status.success()) {
        return;
    }
    let s = Sandbox::new();
    s.ssh_config(b"Host *\n  UseKeychain yes\n");
    let r = s.run(&["doctor", "--site", "sandbox", "--user", "hpcuser", "--json"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).expect("doctor --json");
    let row =
        report["checks"].as_array().unwrap().iter().find(|c| c["check"] == "your ~/.ssh/config").cloned();
    let row = row.expect("a row for the person's config");
    assert_eq!(row["status"], "fail");
    assert!(
        row["detail"].as_str().unwrap().contains("~/.ssh/config line 2: Bad configuration option"),
        "{row}"
    );
    assert!(row["hint"].as_str().unwrap().contains("IgnoreUnknown UseKeychain"), "{row}");
}

#[test]
fn unreadable_parts_of_a_project_are_all_listed_with_the_lines_that_leave_them_out() {
    // As root nothing is unreadable: the run is made as `nobody` (setpriv, util-linux).
    let as_root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
    let d = tempfile::tempdir().unwrap();
    let project = d.path().join("proj");
    std::fs::create_dir_all(project.join("secret/deeper")).unwrap();
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("requirements.txt"), "numpy\n").unwrap();
    std::fs::write(project.join("src/main.py"), "print(1)\n").unwrap();
    std::fs::write(project.join("token.txt"), "x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    let set =
        |p: &Path, mode: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    set(d.path(), 0o755);
    if as_root {
        let ok = Command::new("chown").args(["-R", "nobody"]).arg(d.path()).status().unwrap().success();
        assert!(ok, "chown");
    }
    set(&project.join("secret"), 0o000);
    set(&project.join("token.txt"), 0o000);
    let mut cmd = if as_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", env!("CARGO_BIN_EXE_hpcinit")]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_hpcinit"))
    };
    let out = cmd
        .args(["plan", "--site", "sandbox", "--user", "hpcuser"])
        .current_dir(&project)
        .env_clear()
        .env("HOME", d.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    set(&project.join("secret"), 0o755);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("hpcinit may not read 2 entries in the project"), "{stderr}");
    assert!(stderr.contains("\n  secret/\n  token.txt\n"), "both, one per line: {stderr}");
    assert!(stderr.contains("`/secret/`, `/token.txt`") && stderr.contains(".hpcinitignore"), "{stderr}");
}

#[test]
fn course_check_passes_the_example_and_writes_the_handout() {
    let s = Sandbox::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/course/hpcinit-course.yaml");
    let handout = s.home.path().join("handout.md");
    let r = hpcinit_in(
        s.home.path(),
        &s.project,
        &["course", "check", example.to_str().unwrap(), "--handout", handout.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for row in ["✓ saga: account nn1234k", "✓ narval: site: Narval", "✓ requirements:", "✓ saga: python 3.11"]
    {
        assert!(r.stdout.contains(row), "{row:?} in:\n{}", r.stdout);
    }
    let text = std::fs::read_to_string(&handout).unwrap();
    assert!(text.contains("# INF-1234 Machine learning on HPC (spring 2027)"), "{text}");
    assert!(text.contains("ccdb.alliancecan.ca"), "{text}");
}

#[test]
fn a_course_file_with_an_error_exits_2_at_its_line_and_a_failed_check_exits_1_with_the_fix() {
    let s = Sandbox::new();
    let file = s.project.join("hpcinit-course.yaml");
    std::fs::write(
        &file,
        "course-version: 1\ncourse: C\ncontact: ta@example.edu\nsites:\n  saga:\n    acount: nn1234k\n",
    )
    .unwrap();
    let r = hpcinit_in(s.home.path(), &s.project, &["course", "check"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("hpcinit-course.yaml:6:5: unknown field `acount`"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: check the key's spelling"), "{}", r.stderr);

    std::fs::write(
        &file,
        "course-version: 1\ncourse: C\ncontact: ta@example.edu\nsites:\n  saga:\n    account: nn12\n",
    )
    .unwrap();
    let r = hpcinit_in(s.home.path(), &s.project, &["course", "check"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("✗ saga: account:"), "{}", r.stdout);
    assert!(r.stdout.contains("fix: ") && r.stdout.contains("hpcinit-course.yaml:6"), "{}", r.stdout);

    // Inline requirements with hashes: a line pip's hash-checking mode would refuse is a ✗.
    std::fs::write(
        &file,
        format!(
            "course-version: 1\ncourse: C\ncontact: ta@example.edu\nsites:\n  saga:\n    account: nn1234k\nrequirements:\n  - numpy==2.1.0 --hash=sha256:{}\n  - pandas\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let r = hpcinit_in(s.home.path(), &s.project, &["course", "check"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("✓ requirements: inline (2 requirements, with hashes)"), "{}", r.stdout);
    assert!(r.stdout.contains("✗ requirements: `pandas` is not pinned"), "{}", r.stdout);
    assert!(r.stdout.contains("pip hash"), "{}", r.stdout);

    // A file past its date: the run stops before planning anything, naming the contact.
    std::fs::write(
        &file,
        "course-version: 1\ncourse: Old course\ncontact: ta@example.edu\nvalid-until: 2020-01-01\nsites:\n  saga:\n    account: nn1234k\n",
    )
    .unwrap();
    let r = hpcinit_in(s.home.path(), &s.project, &["plan", "--user", "alice"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("which ended on 2020-01-01") && r.stderr.contains("ta@example.edu"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_course_file_answers_the_site_account_and_python_and_its_directives_reach_the_template() {
    let s = Sandbox::new();
    std::fs::write(
        s.project.join("hpcinit-course.yaml"),
        "course-version: 1\ncourse: C\ncontact: ta@example.edu\nsites:\n  saga:\n    account: nn1234k\n    reservation: inf1234\n    time: \"00:30:00\"\n    memory: 6G\npython: \"3.11\"\nrequirements:\n  - scipy==1.14.1\n",
    )
    .unwrap();
    std::fs::write(s.project.join("requirements.txt"), "numpy\n").unwrap();
    // No --site, --account or --python: the course gives them.
    let r = hpcinit_in(s.home.path(), &s.project, &["plan", "--user", "alice", "--details"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Plan for saga"), "{}", r.stdout);
    for line in [
        "#SBATCH --account=nn1234k",
        "#SBATCH --reservation=inf1234",
        "#SBATCH --time=00:30:00",
        "#SBATCH --mem=6G",
        "scipy==1.14.1",
    ] {
        assert!(r.stdout.contains(line), "{line} in:\n{}", r.stdout);
    }
    // The course's memory replaces Saga's per-CPU memory: sbatch refuses the two together.
    assert!(!r.stdout.contains("--mem-per-cpu"), "{}", r.stdout);
    // The course's inline requirements, not the project's file.
    assert!(!r.stdout.contains("numpy"), "{}", r.stdout);
    // A flag wins over the course.
    let r = hpcinit_in(s.home.path(), &s.project, &["plan", "--user", "alice", "--account", "nn9999k"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The course's interactive defaults reach `hpcinit jupyter`, named as the course's; a flag wins.
    std::fs::write(
        s.project.join("hpcinit-course.yaml"),
        "course-version: 1\ncourse: C\ncontact: ta@example.edu\nsites:\n  saga:\n    account: nn1234k\ninteractive:\n  time: \"02:00:00\"\n  memory: 6G\n",
    )
    .unwrap();
    let r =
        hpcinit_in(s.home.path(), &s.project, &["jupyter", "--dry-run", "--user", "alice", "--mem", "3G"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("time       02:00:00 (the course file)"), "{}", r.stdout);
    assert!(r.stdout.contains("memory     3G (your flag)"), "{}", r.stdout);
    // --no-course: no site, so the run says which flag is missing.
    let r = hpcinit_in(s.home.path(), &s.project, &["plan", "--user", "alice", "--no-course"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--site"), "{}", r.stderr);
}
