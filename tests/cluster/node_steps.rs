//! `hpcinit code` and `hpcinit shell` against the test cluster's compute node: its own network
//! namespace, out of the desk's reach, whose sshd admits only a user with a running job there
//! (pam_slurm_adopt). VS Code is not on this machine: a named stand-in `code`
//! (tests/cluster/fake-code/code) records its arguments and connects with the written ssh config
//! as Remote-SSH does (`ssh -T -D PORT HOST bash`). Checked: the node reached through the login
//! node's shared connection with no prompt and no new sign-in there, the node's host key
//! recorded and a changed one refused before anything is sent, `StrictHostKeyChecking` never
//! `no`, settings.json with comments changed in two keys only and given back by uninstall, the
//! node refusing once the job is gone, a shell importing the project on the node, `exit` and
//! Ctrl-C leaving no job, and `srun --overlap` where nodes refuse outside keys.

use super::jupyter_steps::{queue, queue_empties, NoJobsLeft, Session};
use super::remote_steps::{base, cleanup, ok};
use super::ssh_steps::{profile_variant, Laptop, LogWindow};
use super::SERIAL;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// VS Code's settings as a person keeps them: comments, a trailing comma, their own timeout.
const SETTINGS: &str = "// my settings\n{\n    // font\n    \"editor.fontSize\": 14, // big\n    \"files.exclude\": {\n        \"**/.git\": true,\n    },\n    \"remote.SSH.connectTimeout\": 30,\n}\n";

fn fake_code_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/fake-code")
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn vs_code_reaches_the_node_through_the_login_nodes_connection_and_its_key_is_checked() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "code";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let _q = NoJobsLeft(super::Cluster::get());
    let node = l.c.var("HPCINIT_NODE_NAME");
    // The desk reaches the login node on its own address, and no compute node.
    let login = l.c.var("HPCINIT_DESK_LOGIN");
    let profile = profile_variant(&l, "sandbox", "sandbox-desk", |t| {
        t.replacen("  host: 127.0.0.1\n", &format!("  host: {login}\n"), 1)
    });
    let p = profile.to_str().unwrap();
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
    let boot: Vec<&str> = [&["--profile", p][..], &base("sandbox-desk", project, &[])].concat();
    ok(&l.hpcinit_at_desk(&boot, &[]), "bootstrap from the desk");
    let managed = std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap();
    assert!(
        managed.contains("Host hpcnode*\n    User hpcuser\n    Port 22\n    ProxyJump sandbox-desk\n"),
        "{managed}"
    );

    let settings = l.path(".config/Code/User/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, SETTINGS).unwrap();
    let code_log = l.path("code");
    let path = format!("{}:{}", fake_code_dir().display(), std::env::var("PATH").unwrap());
    let env = [("PATH", path.as_str()), ("HPCINIT_FAKE_CODE_LOG", code_log.to_str().unwrap())];
    let login_log = LogWindow::open(&l.c, false);
    let prompts = l.prompts().len();
    let code = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = ["code", "--profile", p, "--site", "sandbox-desk", "--user", "hpcuser"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(["--project-name", project].iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let args = code(&["--persist", "--vscode-settings"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = l.hpcinit_at_desk(&args, &env);
    ok(&r, "hpcinit code");

    // The stand-in VS Code was opened on the node, in the latest snapshot, and got there.
    let workdir = format!("{}/home/hpcuser/scratch/code-snapshots/{project}/latest", l.c.dir.display());
    let called = std::fs::read_to_string(l.path("code.args")).unwrap();
    assert_eq!(called, format!("--new-window --remote ssh-remote+{node} {workdir}\n"));
    let jobs = queue(&l.c);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let (job, name) = &jobs[0];
    assert_eq!(name, "hpcinit-code");
    let answered = std::fs::read_to_string(l.path("code.out")).unwrap();
    let err = std::fs::read_to_string(l.path("code.err")).unwrap_or_default();
    assert_eq!(
        answered,
        format!("host {node}\njob {job}\nfolder {workdir}\nexit 0\n"),
        "the node answered, inside the job (pam_slurm_adopt); ssh said:\n{err}"
    );
    assert_eq!(login_log.accepted(), 0, "no new sign-in at the login node:\n{}", login_log.text());
    assert_eq!(l.prompts().len(), prompts, "no prompt: {:?}", l.prompts());

    // The node's host key, recorded under its name on first use, and said so.
    assert!(
        r.stdout.contains(&format!(
            "Recorded {node}'s host key (ssh-ed25519) in ~/.ssh/known_hosts.d/hpcinit under its name, read from the node through sandbox-desk (first use"
        )),
        "{}",
        r.stdout
    );
    let node_key = std::fs::read_to_string(l.c.var("HPCINIT_NODE_HOST_KEY")).unwrap();
    let node_key: Vec<&str> = node_key.split_whitespace().take(2).collect();
    let known_file = l.path(".ssh/known_hosts.d/hpcinit");
    let known = std::fs::read_to_string(&known_file).unwrap();
    assert!(
        known.lines().any(|k| k == format!("{node} {} hpcinit-node:sandbox-desk", node_key.join(" "))),
        "{known}"
    );

    // `ssh NODE` through the written config: the node answers, no prompt, no new sign-in at the
    // login node (the hop rides its shared connection).
    let out = l.ssh_at_desk(&[&node, "hostname"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), node);
    assert_eq!(login_log.accepted(), 0, "{}", login_log.text());
    assert_eq!(l.prompts().len(), prompts);
    // Without the login node, the desk does not reach the node at all.
    let direct = l.ssh_at_desk(&["-o", "ProxyJump=none", "-o", "ConnectTimeout=5", &node, "hostname"]);
    assert!(!direct.status.success(), "the node answered the desk directly");

    // A changed node key stops the connection with OpenSSH's error; nothing reaches the node.
    let other = l.path("other_key");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(made.success());
    let other_key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_key: Vec<&str> = other_key.split_whitespace().take(2).collect();
    std::fs::write(&known_file, known.replace(&node_key.join(" "), &other_key.join(" "))).unwrap();
    let node_log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_NODE");
    let marker = l.c.dir.join(format!("scratch/hpcuser/{project}-changed-key"));
    let out = l.ssh_at_desk(&[&node, &format!("touch {}", marker.display())]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a changed key was accepted");
    assert!(said.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{said}");
    assert!(!marker.exists(), "the command ran");
    assert_eq!(node_log.accepted(), 0, "something authenticated:\n{}", node_log.text());
    std::fs::write(&known_file, &known).unwrap();

    // Nothing hpcinit wrote switches host-key checking off.
    let managed = std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap();
    for line in managed.lines().filter(|l| l.to_lowercase().contains("stricthostkeychecking")) {
        assert_eq!(line.trim(), "StrictHostKeyChecking yes", "{managed}");
    }

    // settings.json: the two keys, every other byte as it was.
    let scratch = l.c.dir.join("scratch/hpcuser");
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        format!(
            "// my settings\n{{\n    // font\n    \"editor.fontSize\": 14, // big\n    \"files.exclude\": {{\n        \"**/.git\": true,\n    }},\n    \"remote.SSH.connectTimeout\": 60,\n    \"remote.SSH.serverInstallPath\": {{\n        \"{node}\": \"{}\"\n    }},\n}}\n",
            scratch.display()
        )
    );
    assert!(
        r.stdout.contains("backed up first to ~/.config/Code/User/settings.json.hpcinit-backup"),
        "{}",
        r.stdout
    );

    // Listed, then stopped: the job goes, and the node refuses the same connection.
    let args = code(&["--list"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let listed = l.hpcinit_at_desk(&args, &[]);
    ok(&listed, "--list");
    assert!(
        listed.stdout.contains(&format!("job {job}")) && listed.stdout.contains("kept (--persist)"),
        "{}",
        listed.stdout
    );
    let stopped = l.hpcinit_at_desk(&["code", "--profile", p, "--stop"], &[]);
    ok(&stopped, "--stop");
    assert!(stopped.stdout.contains(&format!("Job {job} cancelled")), "{}", stopped.stdout);
    assert_eq!(queue_empties(&l.c, 20), vec![]);
    let out = l.ssh_at_desk(&[&node, "hostname"]);
    assert!(!out.status.success(), "the node let in a user without a job");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("Access denied by pam_slurm_adopt: you have no active jobs on this node"),
        "{said}"
    );

    // Uninstall gives settings.json back byte for byte, and takes the node's key away.
    let un = l.hpcinit_at_desk(&["uninstall", "--profile", p, "--site", "sandbox-desk"], &[]);
    ok(&un, "uninstall");
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), SETTINGS);
    assert!(!l.path(".config/Code/User/settings.json.hpcinit-backup").exists(), "{}", un.stdout);
    let known = std::fs::read_to_string(&known_file).unwrap_or_default();
    assert!(!known.contains(&node), "{known}");
}

fn shell<'a>(project: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["shell", "--site", "sandbox", "--user", "hpcuser", "--project-name", project];
    v.extend_from_slice(extra);
    v
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_shell_on_the_node_imports_the_project_and_exit_or_ctrl_c_leaves_no_job() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "shell";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let _q = NoJobsLeft(super::Cluster::get());
    let node = l.c.var("HPCINIT_NODE_NAME");
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
    ok(&l.hpcinit(&base("sandbox", project, &[]), &[]), "bootstrap");

    // A command: the project's requirement imports on the node, inside the job, in the snapshot.
    let probe = "import hpcinit_demo, os, socket; print('imported', socket.gethostname(), os.environ['SLURM_JOB_ID'], os.getcwd())";
    let r = l.hpcinit(&shell(project, &["--", "python", "-c", probe]), &[]);
    ok(&r, "hpcinit shell -- python");
    let line =
        r.stdout.lines().find(|l| l.starts_with("imported ")).unwrap_or_else(|| panic!("{}", r.stdout));
    let words: Vec<&str> = line.split(' ').collect();
    assert_eq!(words[1], node, "{line}");
    assert!(words[3].contains(&format!("/code-snapshots/{project}/")), "{line}");
    assert!(r.stdout.contains(&format!("Job {} cancelled", words[2])), "{}", r.stdout);
    assert_eq!(queue_empties(&l.c, 20), vec![]);

    // The command's own status is hpcinit's.
    let r = l.hpcinit(&shell(project, &["--", "python", "-c", "import no_such_module"]), &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("ModuleNotFoundError") || r.stdout.contains("ModuleNotFoundError"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(queue_empties(&l.c, 20), vec![]);

    // An interactive shell (its input typed on standard input): `exit` ends it and the job.
    let mut cmd = l.command(&shell(project, &[]), &[]);
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"python -c 'import hpcinit_demo; print(\"in-shell\", hpcinit_demo.__name__)'\nexit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("in-shell hpcinit_demo"), "{text}");
    assert_eq!(queue_empties(&l.c, 20), vec![], "exit ended the job");

    // Ctrl-C while the job waits: it is cancelled.
    let mut s = Session::start(&l, &shell(project, &["--partition", "held", "-v"]));
    s.wait_for("pending (PartitionDown)", 60);
    let jobs = queue(&l.c);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(s.interrupt(60), 130, "{}", s.all());
    assert!(s.stdout().contains(&format!("Job {} cancelled", jobs[0].0)), "{}", s.all());
    assert_eq!(queue_empties(&l.c, 20), vec![], "no job of the user is left");

    // Where nodes do not take outside keys: into the job with srun, from the login node.
    let prof = profile_variant(&l, "sandbox", "sandbox-srun", |t| {
        t.replacen("  accept_keys: true\n", "  accept_keys: false\n", 1)
    });
    let p = prof.to_str().unwrap();
    let boot: Vec<&str> = [&["--profile", p][..], &base("sandbox-srun", project, &["--ssh-only"])].concat();
    ok(&l.hpcinit(&boot, &[]), "sign-in for sandbox-srun");
    let managed = std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap();
    let section = managed.split("# site: sandbox-srun").nth(1).unwrap();
    assert!(!section.contains("Host hpcnode*"), "no node entry where nodes refuse outside keys:\n{managed}");
    let r = l.hpcinit(
        &[
            "shell",
            "--profile",
            p,
            "--site",
            "sandbox-srun",
            "--user",
            "hpcuser",
            "--project-name",
            project,
            "--",
            "python",
            "-c",
            "import hpcinit_demo, socket; print('srun', socket.gethostname())",
        ],
        &[],
    );
    ok(&r, "hpcinit shell through srun");
    assert!(r.stdout.contains(&format!("srun {node}")), "{}", r.stdout);
    assert!(r.stdout.contains("with srun, from sandbox-srun"), "{}", r.stdout);
    assert_eq!(queue_empties(&l.c, 20), vec![]);
    // VS Code cannot go that way: said so, nothing submitted.
    let r = l.hpcinit(
        &["code", "--profile", p, "--site", "sandbox-srun", "--user", "hpcuser", "--project-name", project],
        &[],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "not possible at Sandbox: Sandbox's compute nodes do not take your key from outside the cluster"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(queue(&l.c), vec![]);
}
