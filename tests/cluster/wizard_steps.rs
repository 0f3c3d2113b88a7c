//! The product as a new student meets it, against the test cluster: the wizard in a real
//! pseudo-terminal (keys typed as a person types them, ssh's own password and one-time-code
//! prompts answered on the terminal), the same bootstrap from an answers file without a
//! terminal, `doctor` before and after the environment is deleted on the cluster, and
//! `uninstall` giving back `~/.ssh/config` byte for byte.

use super::ssh_steps::{Laptop, LogWindow};
use super::SERIAL;
use rexpect::process::WaitStatus;
use std::process::Command;

fn remove_project(l: &Laptop, project: &str) {
    let home = l.c.dir.join("home/hpcuser");
    if let Ok(d) = std::fs::read_dir(home.join("venvs")) {
        for e in d.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n == project || n.starts_with(&format!(".{project}.hpcinit-")) {
                let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
            }
        }
    }
    let _ = std::fs::remove_dir_all(home.join("scratch/code-snapshots").join(project));
    for f in [format!("{project}.sh"), format!("{project}-env.sh")] {
        let _ = std::fs::remove_file(home.join("sbatch").join(f));
    }
}

/// The next one-time code, from the cluster's own askpass helper (it never hands out a code
/// twice, as pam_oath refuses a replayed one).
fn one_time_code(l: &Laptop) -> String {
    let out = Command::new(l.c.var("HPCINIT_ASKPASS"))
        .arg("One-time code: ")
        .env("HPCINIT_CLUSTER_DIR", &l.c.dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "askpass: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Runs `script` in a login shell on the cluster through the laptop's ssh config (the shared
/// connection hpcinit left open).
fn on_cluster(l: &Laptop, site: &str, script: &str) -> (bool, String) {
    let out =
        l.ssh(&["-o", "BatchMode=yes", site, &format!("bash -l -c '{}'", script.replace('\'', "'\\''"))]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_new_student_runs_the_wizard_in_a_terminal() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let project = "wizard-pty";
    remove_project(&l, project);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo==1.0\n").unwrap();
    std::fs::write(l.project.join("train.py"), "print('hello')\n").unwrap();
    let log = LogWindow::open(&l.c, true);

    // No SSH_ASKPASS: ssh asks on the terminal, as it does for a person.
    let mut p = l.in_terminal(&["--project-name", project], 120_000);
    let step = |p: &mut rexpect::session::PtySession, want: &str| {
        p.exp_string(want).unwrap_or_else(|e| panic!("waiting for {want:?}: {e}"));
    };
    let answer = super::ssh_steps::type_at;
    answer(&mut p, "Which cluster?", "sandbox-mfa");
    answer(&mut p, "sandbox-mfa  Sandbox MFA", "\r");
    answer(&mut p, "Your username on Sandbox MFA", "hpcuser\r");
    answer(&mut p, "Project folder", "\r");
    answer(&mut p, "Python version", "\r");
    step(&mut p, "Plan for");
    answer(&mut p, "Go ahead?", "\r"); // Proceed
    answer(&mut p, "Trust this host key for sandbox-mfa?", "y");
    answer(&mut p, "assword:", &format!("{}\n", l.c.var("HPCINIT_TEST_PASSWORD")));
    answer(&mut p, "ne-time", &format!("{}\n", one_time_code(&l)));
    let rest = p.exp_eof().expect("the run ends");
    let status = p.process().wait().unwrap();
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}\n{rest}");
    for line in [
        "Ready: Sandbox MFA is set up for wizard-pty.",
        "Log in:        ssh sandbox-mfa",
        "sbatch ~/sbatch/wizard-pty.sh",
        "purge:",
    ] {
        assert!(rest.contains(line), "summary lacks {line:?}:\n{rest}");
    }
    assert_eq!(log.accepted(), 1, "one sign-in for the whole run:\n{}", log.text());

    // The alias works (over the connection the run left open), and the venv imports.
    let (ok, out) = on_cluster(&l, "sandbox-mfa", "echo alias-works");
    assert!(ok && out.contains("alias-works"), "{out}");
    let module = l.c.var("HPCINIT_MODULE_EASYBUILD");
    let (ok, out) = on_cluster(
        &l,
        "sandbox-mfa",
        &format!("module purge && module load {module} && ~/venvs/{project}/bin/python -c 'import hpcinit_demo; print(\"imports\", hpcinit_demo.__name__)'"),
    );
    assert!(ok && out.contains("imports hpcinit_demo"), "{out}");
    assert_eq!(log.accepted(), 1, "checking afterwards signed in again:\n{}", log.text());
    let _ = l.ssh(&["-O", "exit", "sandbox-mfa"]);
    remove_project(&l, project);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn answers_file_bootstrap_then_doctor_then_uninstall() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let project = "answers-file";
    remove_project(&l, project);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo==1.0\n").unwrap();
    std::fs::write(l.project.join("main.py"), "print(1)\n").unwrap();
    std::fs::create_dir_all(l.path(".ssh")).unwrap();
    let original = b"# mine\r\nHost *\r\n    ServerAliveInterval 30\r\n".to_vec();
    std::fs::write(l.path(".ssh/config"), &original).unwrap();
    let answers = l.path("class.yaml");
    std::fs::write(
        &answers,
        format!(
            "# what a teaching assistant hands out\nsite: sandbox\nuser: hpcuser\nproject-dir: demo\nproject-name: {project}\nno-passphrase: true\naccept-new-host-key: true\n"
        ),
    )
    .unwrap();
    let a = answers.to_str().unwrap();

    // Without --yes and without a terminal: the plan, then an error naming the flag; nothing done.
    let r = l.hpcinit(&["--answers", a], &[]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--yes") && r.stdout.contains("Plan for"), "{}", r.stderr);
    assert_eq!(std::fs::read(l.path(".ssh/config")).unwrap(), original, "nothing was changed");

    let r = l.hpcinit(&["--answers", a, "--yes"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Ready: Sandbox is set up for answers-file."), "{}", r.stdout);

    // doctor: needs only --site now (user remembered), every check passes.
    let r = l.hpcinit(&["doctor", "--site", "sandbox", "--json"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("doctor --json prints JSON only");
    assert_eq!(v["ok"], true, "{}", r.stdout);
    let checks: Vec<&str> =
        v["checks"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    for c in [
        "SSH key",
        "key permissions",
        "ssh config",
        "host key",
        "sign-in",
        "directories",
        "Python environment",
        "imports",
        "job templates",
        "code snapshot",
        "scheduler",
        "quota",
        "lock file",
    ] {
        assert!(checks.contains(&c), "doctor lacks {c}: {checks:?}");
    }

    // The environment deleted on the cluster: doctor fails, naming it.
    let venvs = l.c.dir.join("home/hpcuser/venvs");
    let target = std::fs::read_link(venvs.join(project)).unwrap();
    std::fs::remove_dir_all(venvs.join(&target)).unwrap();
    std::fs::remove_file(venvs.join(project)).unwrap();
    let r = l.hpcinit(&["doctor", "--site", "sandbox"], &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let failed: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with('✗')).collect();
    assert_eq!(failed.len(), 1, "{}", r.stdout);
    assert!(
        failed[0].contains("Python environment") && failed[0].contains("~/venvs/answers-file does not exist"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 of 16 checks failed for sandbox."), "{}", r.stdout);

    // uninstall --remote (no terminal: --yes confirms): the project's files on the cluster go;
    // the person's config is back to its bytes; hpcinit's files are gone.
    let home = l.c.dir.join("home/hpcuser");
    assert!(home.join("scratch/code-snapshots").join(project).is_dir());
    assert!(home.join("sbatch").join(format!("{project}.sh")).is_file());
    let r = l.hpcinit(&["uninstall", "--site", "sandbox", "--remote"], &[]);
    assert_eq!(r.code, 2, "without a terminal the deletion needs --yes: {}\n{}", r.stdout, r.stderr);
    assert!(home.join("sbatch").join(format!("{project}.sh")).is_file(), "nothing deleted");
    let r = l.hpcinit(&["uninstall", "--site", "sandbox", "--remote", "--yes"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!home.join("scratch/code-snapshots").join(project).exists(), "{}", r.stdout);
    assert!(!home.join("sbatch").join(format!("{project}.sh")).exists(), "{}", r.stdout);
    assert!(r.stdout.contains("on the cluster"), "{}", r.stdout);
    assert_eq!(std::fs::read(l.path(".ssh/config")).unwrap(), original, "{}", r.stdout);
    for gone in [".ssh/config.d/hpcinit", ".ssh/known_hosts.d/hpcinit", ".ssh/config.hpcinit-backup"] {
        assert!(!l.path(gone).exists(), "{gone} is still there:\n{}", r.stdout);
    }
    assert!(l.path(".ssh/id_ed25519_hpcinit").exists(), "the key is the person's: kept");
    assert!(r.stdout.contains("Include ~/.ssh/config.d/hpcinit"), "{}", r.stdout);
    let r = l.hpcinit(&["uninstall", "--site", "sandbox"], &[]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("nothing was changed"), "{}", r.stdout);
    remove_project(&l, project);
}
