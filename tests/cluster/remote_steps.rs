//! The cluster side of the bootstrap, run by the real `hpcinit` binary against the test
//! cluster: the probe, the directories, a venv from each module naming scheme (Alliance
//! `StdEnv/2023` + `python/3.11`, EasyBuild `Python/3.11.x-GCCcore-…`), a version the cluster
//! lacks, a failed install that leaves the previous venv working, edited templates kept, and a
//! smoke job on the real Slurm whose log line is found. Each test uses its own project name,
//! so its venv and job script on the shared test user are its own.

use super::ssh_steps::{Laptop, LogWindow, Run};
use super::SERIAL;
use std::path::PathBuf;
use std::process::Command;

pub(super) fn base<'a>(site: &'a str, project: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--site", site, "--user", "hpcuser", "--project-name", project];
    v.extend_from_slice(&["--yes", "--accept-new-host-key", "--no-passphrase", "-v"]);
    v.extend_from_slice(extra);
    v
}

pub(super) fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: exit {}\nstdout:\n{}\nstderr:\n{}", r.code, r.stdout, r.stderr);
}

/// The test user's home on the cluster, as this machine sees it.
pub(super) fn remote_home(l: &Laptop) -> PathBuf {
    l.c.dir.join("home/hpcuser")
}

/// Removes what a test's project left on the cluster.
pub(super) struct Cleanup(PathBuf, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let venvs = self.0.join("venvs");
        if let Ok(d) = std::fs::read_dir(&venvs) {
            for e in d.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n == self.1 || n.starts_with(&format!(".{}.hpcinit-", self.1)) {
                    let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
                }
            }
        }
        let _ = std::fs::remove_dir_all(self.0.join("scratch/code-snapshots").join(&self.1));
        if let Ok(d) = std::fs::read_dir(self.0.join("sbatch")) {
            for e in d.flatten() {
                if e.file_name().to_string_lossy().starts_with(&self.1) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

pub(super) fn cleanup(l: &Laptop, project: &str) -> Cleanup {
    let c = Cleanup(remote_home(l), project.to_string());
    drop(Cleanup(remote_home(l), project.to_string()));
    c
}

/// A command in a login shell on the cluster, over the laptop's open connection.
pub(super) fn on_cluster(l: &Laptop, site: &str, script: &str) -> (i32, String) {
    let out = l.ssh(&["-o", "BatchMode=yes", site, &format!("bash -l -c {}", shell_quote(script))]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Round trips per step, from `-v` output: `[(step title, n)]`.
/// A step's result line: its one line (`[7/12] Directories: · unchanged: …`), or after its
/// heading and detail lines, the first that is not a `-v` trace.
pub(super) fn step_result<'a>(stdout: &'a str, title: &str) -> &'a str {
    let mut lines = stdout.lines().skip_while(|l| !(l.starts_with('[') && l.contains(&format!("] {title}"))));
    let Some(first) = lines.next() else { return "" };
    if first.contains(&format!("] {title}: ")) {
        return first;
    }
    lines
        .find(|l| {
            let t = l.trim();
            !t.starts_with('↔') && !t.starts_with('…')
        })
        .unwrap_or("")
}

fn round_trips(stdout: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut title = String::new();
    for line in stdout.lines() {
        if line.starts_with('[') && line.contains("] ") {
            title = line.split_once("] ").unwrap().1.to_string();
        }
        if let Some(rest) = line.trim().strip_prefix("↔ ") {
            if let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse::<usize>().ok()) {
                if rest.contains("round trip") {
                    out.push((title.clone(), n));
                }
            }
        }
    }
    out
}

fn imports(l: &Laptop, site: &str, loads: &str, project: &str, module: &str) -> (i32, String) {
    on_cluster(
        l,
        site,
        &format!(
            "module purge && module load {loads} && ~/venvs/{project}/bin/python -c 'import sys, {module}; print({module}.__name__, sys.version.split()[0], sys.base_prefix)'"
        ),
    )
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn both_naming_schemes_build_a_working_venv_with_one_authentication() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let version = |l: &Laptop| l.c.var("HPCINIT_PYTHON_VERSION");
    for (site, project, loads) in [
        ("sandbox", "schemes-alliance", "StdEnv/2023 python/3.11".to_string()),
        ("sandbox-mfa", "schemes-easybuild", String::new()),
    ] {
        let l = Laptop::new();
        let _c = cleanup(&l, project);
        let loads = if loads.is_empty() { l.c.var("HPCINIT_MODULE_EASYBUILD") } else { loads };
        std::fs::write(l.project.join("requirements.txt"), "hpcinit-extra\n").unwrap();
        let log = LogWindow::open(&l.c, site == "sandbox-mfa");
        let r = l.hpcinit(&base(site, project, &["--python", "3.11"]), &[]);
        ok(&r, site);
        assert!(
            r.stdout.contains(&format!("Python from {}", loads.rsplit(' ').next().unwrap())),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains("imports hpcinit_extra"), "{}", r.stdout);
        // The venv imports its requirement with the modules loaded, and its Python is the module's.
        let (code, out) = imports(&l, site, &loads, project, "hpcinit_extra");
        assert_eq!(code, 0, "{site}: {out}");
        assert!(out.contains(&format!("hpcinit_extra {}", version(&l))), "{site}: {out}");
        let cfg =
            std::fs::read_to_string(remote_home(&l).join(format!("venvs/{project}/pyvenv.cfg"))).unwrap();
        assert!(
            cfg.contains("/sw/python-"),
            "{site}: made from the module's Python, not the system's: {cfg}"
        );
        // The whole run is one authentication; the cluster side one round trip per step.
        if site == "sandbox-mfa" {
            assert_eq!(log.accepted(), 1, "one authentication for the whole bootstrap:\n{}", log.text());
            assert_eq!(l.prompts().len(), 2, "password and code once: {:?}", l.prompts());
        }
        let trips = round_trips(&r.stdout);
        for (step, n) in [
            ("Look at the cluster", 1),
            ("Code snapshot", 2),
            ("Python environment", 1),
            ("Job templates", 1),
        ] {
            assert!(trips.contains(&(step.to_string(), n)), "{site}: {step} should take {n}: {trips:?}");
        }
        let total: usize = trips.iter().filter(|(s, _)| s != "Register the key").map(|(_, n)| n).sum();
        assert!(total <= 6, "{site}: the cluster side took {total} round trips: {trips:?}");
        // Run again: everything unchanged, one round trip (the probe), no authentication.
        let again = l.hpcinit(&base(site, project, &["--python", "3.11"]), &[]);
        ok(&again, "second run");
        for step in ["Directories", "Code snapshot", "Python environment", "Job templates"] {
            let line = step_result(&again.stdout, step);
            assert!(line.contains("· unchanged:"), "{step}:\n{}", again.stdout);
        }
        // (On key sites the key step's own check adds one: the key is still in authorized_keys.)
        let trips: Vec<_> =
            round_trips(&again.stdout).into_iter().filter(|(s, _)| s != "Register the key").collect();
        assert_eq!(trips, [("Look at the cluster".to_string(), 1)], "{site}: {}", again.stdout);
        if site == "sandbox-mfa" {
            assert_eq!(log.accepted(), 1, "the second run authenticated again:\n{}", log.text());
        }
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_version_the_cluster_lacks_lists_the_ones_it_has() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (site, project) in [("sandbox", "missing-alliance"), ("sandbox-mfa", "missing-easybuild")] {
        let l = Laptop::new();
        let _c = cleanup(&l, project);
        let r = l.hpcinit(&base(site, project, &["--python", "3.9"]), &[]);
        assert_eq!(r.code, 2, "{site}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("error: Python 3.9 (--python) is not available on Sandbox"),
            "{}",
            r.stderr
        );
        let listed =
            if site == "sandbox" { "python/3.11".to_string() } else { l.c.var("HPCINIT_MODULE_EASYBUILD") };
        assert!(r.stderr.contains(&listed), "{site}: the available module is listed: {}", r.stderr);
        assert!(r.stderr.contains("hint: choose one of those, e.g. `--python 3.11`"), "{}", r.stderr);
        assert!(!remote_home(&l).join("venvs").join(project).exists(), "nothing was built");
    }
}

fn link_target(l: &Laptop, project: &str) -> PathBuf {
    std::fs::read_link(remote_home(l).join("venvs").join(project)).unwrap()
}

pub(super) fn stamped_dirs(l: &Laptop, project: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(remote_home(l).join("venvs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{project}.hpcinit-")))
        .collect();
    v.sort();
    v
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_failed_install_leaves_the_previous_venv_working_and_a_fixed_rerun_succeeds() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "failing-install";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let reqs = l.project.join("requirements.txt");
    let loads = "StdEnv/2023 python/3.11";
    std::fs::write(&reqs, "hpcinit-demo\n").unwrap();
    ok(&l.hpcinit(&base("sandbox", project, &[]), &[]), "first build");
    let before = link_target(&l, project);
    assert_eq!(stamped_dirs(&l, project).len(), 1);

    // A requirement the wheelhouse does not have: pip fails.
    std::fs::write(&reqs, "hpcinit-demo\nhpcinit-missing==9.9\n").unwrap();
    let r = l.hpcinit(&base("sandbox", project, &[]), &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("pip could not install the requirements"), "{}", r.stderr);
    assert!(r.stderr.contains("hpcinit-missing==9.9"), "pip's reason is shown: {}", r.stderr);
    assert!(r.stderr.contains("was left as it was"), "{}", r.stderr);
    assert_eq!(link_target(&l, project), before, "the venv link did not move");
    assert_eq!(stamped_dirs(&l, project).len(), 1, "the failed build left nothing behind");
    let (code, out) = imports(&l, "sandbox", loads, project, "hpcinit_demo");
    assert_eq!(code, 0, "the previous venv still imports: {out}");

    // One that installs but cannot be imported: the import check stops it.
    std::fs::write(&reqs, "hpcinit-broken\n").unwrap();
    let r = l.hpcinit(&base("sandbox", project, &[]), &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("installed but do not import: hpcinit_broken ImportError"), "{}", r.stderr);
    assert_eq!(link_target(&l, project), before);
    assert_eq!(imports(&l, "sandbox", loads, project, "hpcinit_demo").0, 0);

    // Fixed: the rerun builds, swaps in and removes the old environment.
    std::fs::write(&reqs, "hpcinit-extra\n").unwrap();
    let r = l.hpcinit(&base("sandbox", project, &[]), &[]);
    ok(&r, "fixed rerun");
    assert_ne!(link_target(&l, project), before);
    assert_eq!(stamped_dirs(&l, project).len(), 1, "the old environment was removed");
    let (code, out) = imports(&l, "sandbox", loads, project, "hpcinit_extra");
    assert_eq!(code, 0, "{out}");
    // What it recorded for the lock file.
    let state = std::fs::read_to_string(l.path(".local/state/hpcinit/sandbox/failing-install.yaml")).unwrap();
    assert!(state.contains("- hpcinit-extra==1.0") && state.contains("- python/3.11"), "{state}");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_venv_hpcinit_did_not_make_is_kept_unless_told() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "foreign-venv";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    ok(&l.hpcinit(&base("sandbox", project, &["--ssh-only"]), &[]), "ssh");
    let (code, out) = on_cluster(
        &l,
        "sandbox",
        &format!("mkdir -p ~/venvs/{project} && echo mine > ~/venvs/{project}/note"),
    );
    assert_eq!(code, 0, "{out}");
    let r = l.hpcinit(&base("sandbox", project, &[]), &[]);
    assert_eq!(r.code, 2, "no terminal, no --on-existing: {}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--on-existing replace|keep"), "{}", r.stderr);
    let r = l.hpcinit(&base("sandbox", project, &["--on-existing", "keep"]), &[]);
    ok(&r, "keep");
    assert!(
        r.stdout.contains("kept ~/venvs/foreign-venv (a directory hpcinit did not make)"),
        "{}",
        r.stdout
    );
    assert!(remote_home(&l).join("venvs/foreign-venv/note").is_file());
    let r = l.hpcinit(&base("sandbox", project, &["--on-existing", "replace"]), &[]);
    ok(&r, "replace");
    assert!(std::fs::symlink_metadata(remote_home(&l).join("venvs/foreign-venv"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn an_edited_job_script_is_kept_and_the_new_one_put_beside_it() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "edited-template";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    ok(&l.hpcinit(&base("sandbox", project, &[]), &[]), "first run");
    let script = remote_home(&l).join(format!("sbatch/{project}.sh"));
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.starts_with("#!/bin/bash\n# hpcinit-sha256: "), "{text}");
    assert!(text.contains("#SBATCH --output=/tmp/hpcinit-cluster/scratch/hpcuser/logs/%x-%j.out"), "{text}");
    let edited = text.replace("python main.py  # your command here", "python train.py --epochs 3");
    std::fs::write(&script, &edited).unwrap();
    let r = l.hpcinit(&base("sandbox", project, &[]), &[]);
    ok(&r, "rerun");
    assert_eq!(std::fs::read_to_string(&script).unwrap(), edited, "the person's edit is kept byte for byte");
    let new =
        std::fs::read_to_string(remote_home(&l).join(format!("sbatch/{project}.sh.hpcinit-new"))).unwrap();
    assert_eq!(new, text, "hpcinit's version goes beside it");
    assert!(
        r.stdout.contains("to do:") && r.stdout.contains("was edited since hpcinit wrote it"),
        "{}",
        r.stdout
    );
    let again = l.hpcinit(&base("sandbox", project, &[]), &[]);
    ok(&again, "third run");
    assert!(step_result(&again.stdout, "Job templates").contains("· unchanged:"), "{}", again.stdout);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn the_smoke_job_runs_on_slurm_and_its_line_is_found() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "smoke";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-extra\n").unwrap();
    let r = l.hpcinit(&base("sandbox", project, &["--check-job"]), &[]);
    ok(&r, "run with --check-job");
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("wrote `hpcinit-check ok "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    // The line is in the job's log file, in the log directory the template names.
    let log = line.rsplit(" to ").next().unwrap().trim();
    assert!(log.starts_with("/tmp/hpcinit-cluster/scratch/hpcuser/logs/hpcinit-check-"), "{log}");
    let text = std::fs::read_to_string(log).unwrap();
    let token = line.split("hpcinit-check ok ").nth(1).unwrap().split_whitespace().next().unwrap();
    assert!(text.contains(&format!("hpcinit-check ok {token} on ")), "{text}");
    assert!(text.contains("@@hpcinit:import hpcinit_extra 1.0"), "the job imported the requirement: {text}");
    // `hpcinit check-job` alone, over the open connection.
    let r =
        l.hpcinit(&["check-job", "--site", "sandbox", "--user", "hpcuser", "--project-name", project], &[]);
    ok(&r, "check-job");
    assert!(r.stdout.contains("Works: a job runs on Sandbox"), "{}", r.stdout);
}

fn sbatch(c: &super::Cluster, script: &str) -> String {
    let out = Command::new("runuser")
        .args(["-u", "hpcuser", "--", "env"])
        .arg(format!("SLURM_CONF={}", c.var("SLURM_CONF")))
        .args(["sbatch", "--parsable", "--wait"])
        .arg(script)
        .current_dir("/tmp")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn without_its_log_directory_a_job_fails_silently_so_check_job_refuses() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "no-logs";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    ok(&l.hpcinit(&base("sandbox", project, &[]), &[]), "setup");

    // The scheduler's behaviour: --output into a missing directory, and the job dies unseen.
    let missing = l.c.dir.join("scratch/hpcuser/no-such-dir");
    let job = l.c.dir.join("scratch/hpcuser/silent.sh");
    std::fs::write(
        &job,
        format!("#!/bin/bash\n#SBATCH --output={0}/%x-%j.out\n#SBATCH --error={0}/%x-%j.err\necho you will never see this\n", missing.display()),
    )
    .unwrap();
    let id = sbatch(&l.c, job.to_str().unwrap());
    let state = Command::new("scontrol")
        .args(["show", "job", &id])
        .env("SLURM_CONF", l.c.var("SLURM_CONF"))
        .output()
        .unwrap();
    let state = String::from_utf8_lossy(&state.stdout).into_owned();
    assert!(state.contains("JobState=FAILED"), "job {id}: {state}");
    assert!(!missing.exists(), "Slurm made no directory and wrote no log anywhere");
    std::fs::remove_file(&job).unwrap();

    // hpcinit refuses to submit into a missing log directory, and says why.
    let logs = l.c.dir.join("scratch/hpcuser/logs");
    let kept = l.c.dir.join("scratch/hpcuser/logs.kept");
    std::fs::rename(&logs, &kept).unwrap();
    let r =
        l.hpcinit(&["check-job", "--site", "sandbox", "--user", "hpcuser", "--project-name", project], &[]);
    std::fs::rename(&kept, &logs).unwrap();
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("would fail without a word"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: run `hpcinit --site sandbox` first"), "{}", r.stderr);
    assert!(!r.stdout.contains("submitted"), "nothing was submitted: {}", r.stdout);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_compiled_wheel_is_reported_by_its_package_name_only() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let project = "compiled";
    let _c = cleanup(&l, project);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-compiled==1.0\n").unwrap();
    let r = l.hpcinit(&base("sandbox", project, &[]), &[]);
    ok(&r, "bootstrap");
    assert!(r.stdout.contains("imports hpcinit_compiled"), "{}", r.stdout);
    assert!(!r.stdout.contains("__mypyc"), "no helper module in the summary: {}", r.stdout);
    // The helper is still imported (by its package), with the jobs' modules loaded.
    let (code, out) =
        imports(&l, "sandbox", "StdEnv/2023 python/3.11", project, "c0ffee00c0ffee00c0ff__mypyc");
    assert_eq!(code, 0, "{out}");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_first_bootstrap_with_yes_prints_at_most_40_lines() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let project = "fortylines";
    let _c = cleanup(&l, project);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo==1.0\n").unwrap();
    std::fs::write(l.project.join("main.py"), "print('hi')\n").unwrap();
    let args = [
        "--site",
        "sandbox",
        "--user",
        "hpcuser",
        "--project-name",
        project,
        "--yes",
        "--accept-new-host-key",
        "--no-passphrase",
        "--check-job",
    ];
    let r = l.hpcinit(&args, &[]);
    ok(&r, "bootstrap");
    let lines = r.stdout.lines().count() + r.stderr.lines().count();
    assert!(lines <= 40, "{lines} lines:\n{}{}", r.stdout, r.stderr);
    // The short plan, then one line per quiet step, and the summary.
    assert!(r.stdout.starts_with("Plan for sandbox: Sandbox"), "{}", r.stdout);
    assert!(r.stdout.contains("[1/12] SSH key: ✓ created ~/.ssh/id_ed25519_hpcinit"), "{}", r.stdout);
    assert!(r.stdout.contains("Ready: Sandbox is set up for fortylines."), "{}", r.stdout);
    assert!(!r.stdout.contains("hpcinit_key_state"), "no script text: {}", r.stdout);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn from_the_home_directory_the_account_is_set_up_without_a_project() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let _c = cleanup(&l, "general");
    let home = l.home.path().to_path_buf();
    let r = l.hpcinit_from(
        &home,
        &[
            "--site",
            "sandbox",
            "--user",
            "hpcuser",
            "--yes",
            "--accept-new-host-key",
            "--no-passphrase",
            "--check-job",
        ],
    );
    ok(&r, "bootstrap from ~");
    assert!(r.stdout.contains("no project here: a general environment ~/venvs/general"), "{}", r.stdout);
    assert!(!r.stdout.contains("Code snapshot") && !r.stdout.contains("Lock file"), "{}", r.stdout);
    assert!(r.stdout.contains("with a general environment ~/venvs/general (no project yet)"), "{}", r.stdout);
    assert!(r.stdout.contains("A project:     run `hpcinit --site sandbox` in its folder"), "{}", r.stdout);
    assert!(r.stdout.contains("hpcinit-check ok"), "the test job ran: {}", r.stdout);
    // Nothing of the home directory was copied, and no lock written into it.
    assert!(!remote_home(&l).join("scratch/code-snapshots/general").exists());
    assert!(!home.join("hpcinit.lock").exists());
    // The general environment imports, with the site's module loaded.
    let (code, out) = imports(&l, "sandbox", "StdEnv/2023 python/3.11", "general", "json");
    assert_eq!(code, 0, "{out}");
    let job = std::fs::read_to_string(remote_home(&l).join("sbatch/general.sh")).unwrap();
    assert!(
        job.contains("runs in the directory it was submitted from") && !job.contains("code-snapshots"),
        "{job}"
    );
}

/// The test user's login files made chatty for one test, as many clusters' are: a banner from
/// the login profile and a `.bashrc` that prints, on standard output and error, with words that
/// look like hpcinit's replies. Put back as they were when the test ends, passed or failed.
struct Chatty {
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl Chatty {
    fn new(l: &Laptop) -> Chatty {
        let home = remote_home(l);
        let mut files = Vec::new();
        for (name, text) in [
            (
                ".bash_profile",
                "echo '*** Welcome to Sandbox. Maintenance on Friday: jobs will not start. ***'\necho 'present'\necho 'hpcinit: ~/scratch is missing on the cluster'\necho 'login banner on stderr' >&2\n",
            ),
            (".bashrc", "echo 'bashrc: loading my aliases'\necho '@@hpcinit-like words, no tag'\necho 'absent' >&2\n"),
        ] {
            let path = home.join(name);
            let before = std::fs::read(&path).unwrap();
            // Prepended to .bash_profile (before it sources .bashrc), appended to .bashrc.
            let mut new = if name == ".bash_profile" { text.as_bytes().to_vec() } else { before.clone() };
            new.extend_from_slice(if name == ".bash_profile" { &before } else { text.as_bytes() });
            std::fs::write(&path, new).unwrap();
            files.push((path, before));
        }
        Chatty { files }
    }
}

impl Drop for Chatty {
    fn drop(&mut self) {
        for (path, before) in &self.files {
            let _ = std::fs::write(path, before);
        }
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_login_banner_and_a_printing_bashrc_change_no_step() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "chatty";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let chatty = Chatty::new(&l);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-extra\n").unwrap();
    std::fs::write(l.project.join("main.py"), "print('hi')\n").unwrap();
    // A first bootstrap with a fresh key: the key goes into authorized_keys, the probe, the
    // directories, the venv, the snapshot, the templates and a test job, as on a quiet cluster.
    let r = l.hpcinit(&base("sandbox", project, &["--check-job"]), &[]);
    ok(&r, "bootstrap with a chatty login");
    let (_, login) = on_cluster(&l, "sandbox", "true");
    assert!(login.contains("Welcome to Sandbox") && login.contains("bashrc: loading"), "chatty: {login}");
    assert!(step_result(&r.stdout, "Register the key").contains("added the key"), "{}", r.stdout);
    assert!(r.stdout.contains("imports hpcinit_extra"), "{}", r.stdout);
    assert!(r.stdout.contains("hpcinit-check ok"), "the test job ran: {}", r.stdout);
    let (code, out) = imports(&l, "sandbox", "StdEnv/2023 python/3.11", project, "hpcinit_extra");
    assert_eq!(code, 0, "{out}");
    let latest = remote_home(&l).join(format!("scratch/code-snapshots/{project}/latest"));
    assert_eq!(std::fs::read_to_string(latest.join("main.py")).unwrap(), "print('hi')\n");
    // Again: every step finds its work done, the key too.
    let again = l.hpcinit(&base("sandbox", project, &[]), &[]);
    ok(&again, "second run");
    for step in ["Register the key", "Directories", "Code snapshot", "Python environment", "Job templates"] {
        assert!(step_result(&again.stdout, step).contains("· unchanged:"), "{step}:\n{}", again.stdout);
    }
    // A new snapshot after an edit, its files checked against the manifest, and doctor.
    std::fs::write(l.project.join("main.py"), "print('hello')\n").unwrap();
    let s = l.hpcinit(&["sync", "--site", "sandbox", "--user", "hpcuser", "--project-name", project], &[]);
    ok(&s, "sync");
    assert_eq!(std::fs::read_to_string(latest.join("main.py")).unwrap(), "print('hello')\n");
    let v = l.hpcinit(
        &["sync", "--verify", "--site", "sandbox", "--user", "hpcuser", "--project-name", project],
        &[],
    );
    ok(&v, "sync --verify");
    let d = l.hpcinit(&["doctor", "--site", "sandbox", "--user", "hpcuser", "--project-name", project], &[]);
    ok(&d, "doctor");
    drop(chatty);
}
