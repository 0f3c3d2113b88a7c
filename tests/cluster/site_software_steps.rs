//! The built-in sites' own software on the test cluster, run by the real `hpcinit` binary.
//!
//! The DTU-shaped login (`sandbox-lsf`, port 2227): Tcl Environment Modules from Debian's
//! `environment-modules` package (real), and LSF 10.1's commands from the STAND-IN
//! `tests/cluster/lsf.py`, whose jobs run on the test cluster's Slurm. A fresh laptop's
//! bootstrap with the test job signs in once; the template hpcinit writes runs under `bsub` and
//! its log lands where it says; the stand-in answers as LSF's documentation shows (unknown
//! queue, a pending job's reason, `bkill`, a finished job, output whose directory is missing is
//! mailed, not stored); a lock made under Lmod rebuilds under Environment Modules.

use super::remote_steps::{base, cleanup, ok, on_cluster, remote_home};
use super::ssh_steps::{register_later, type_at, Laptop, LogWindow};
use super::SERIAL;
use std::time::{Duration, Instant};

const SITE: &str = "sandbox-lsf";

/// `bsub`'s answer → the job id.
fn job_id(answer: &str) -> String {
    let at = answer.find("Job <").unwrap_or_else(|| panic!("no job id in {answer:?}"));
    answer[at + 5..].split('>').next().unwrap().to_string()
}

/// `bjobs -noheader -o FIELDS ID` on the DTU-shaped login, until `done` holds (bounded).
fn bjobs_until(l: &Laptop, id: &str, fields: &str, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let (_, out) = on_cluster(l, SITE, &format!("bjobs -noheader -o \"{fields} delimiter='|'\" {id}"));
        let line = out.lines().last().unwrap_or_default().to_string();
        if done(&line) {
            return line;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "job {id}: still {line:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn environment_modules_and_lsf_a_first_bootstrap_with_the_test_job_signs_in_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "lsf-first";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
    std::fs::write(
        l.project.join("main.py"),
        "import hpcinit_demo\nprint('main.py ran with hpcinit_demo', hpcinit_demo.VERSION)\n",
    )
    .unwrap();
    let module = l.c.var("HPCINIT_MODULE_DTU");
    let log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_DTU");
    let r = l.hpcinit(&base(SITE, project, &["--check-job"]), &[]);
    ok(&r, "bootstrap with --check-job on the Environment Modules + LSF login");
    assert_eq!(log.accepted(), 1, "one sign-in: {}", log.text());
    assert_eq!(l.prompts().len(), 1, "one password prompt: {:?}", l.prompts());
    // The probe read Environment Modules (no version variable: `module --version`, on stderr)
    // and its terse listing (also on stderr), and picked the DTU-style name.
    assert!(r.stdout.contains("environment modules 5.2.0"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("Python from {module}")), "{}", r.stdout);
    // The test job went through bsub and its line was found in its -o file, which (LSF's
    // way) also holds the job report and the script: the line is the job's output.
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("✓ job ") && l.contains("wrote `hpcinit-check ok "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let out = line.rsplit(" to ").next().unwrap().trim();
    let text = std::fs::read_to_string(out).unwrap();
    assert!(text.contains("Subject: Job ") && text.contains("in cluster <hpcinit-test> Done"), "{text}");
    assert!(text.contains("Successfully completed."), "{text}");
    assert!(text.contains("@@hpcinit:import hpcinit_demo 1.0"), "the job imported the requirement: {text}");

    // The template hpcinit wrote: #BSUB directives, its log directory exists, and submitted as
    // the run says (`bsub < ~/sbatch/PROJECT.sh`) it runs main.py from the snapshot.
    let home = remote_home(&l);
    let template = std::fs::read_to_string(home.join(format!("sbatch/{project}.sh"))).unwrap();
    let logs = home.join("scratch/logs");
    for want in [
        "#BSUB -q hpc".to_string(),
        "#BSUB -R \"rusage[mem=512MB]\"".to_string(),
        format!("#BSUB -o {}/{project}-%J.out", "/tmp/hpcinit-cluster/scratch/hpcuser/logs"),
        format!("module load {module}"),
    ] {
        assert!(template.contains(&want), "{want:?} in:\n{template}");
    }
    assert!(logs.is_dir());
    assert!(r.stdout.contains(&format!("`bsub < ~/sbatch/{project}.sh`")), "{}", r.stdout);
    let (rc, answer) = on_cluster(&l, SITE, &format!("cd ~ && bsub < ~/sbatch/{project}.sh"));
    assert_eq!(rc, 0, "{answer}");
    assert!(answer.contains("is submitted to queue <hpc>."), "{answer}");
    let id = job_id(&answer);
    let last = bjobs_until(&l, &id, "stat exit_code", |s| s.starts_with("DONE") || s.starts_with("EXIT"));
    assert_eq!(last, "DONE|-", "the template's job succeeded");
    let text = std::fs::read_to_string(logs.join(format!("{project}-{id}.out"))).unwrap();
    assert!(text.contains("\nmain.py ran with hpcinit_demo 1.0\n"), "{text}");
    assert!(text.contains("\nhpcinit: code snapshot "), "{text}");

    // Again: nothing changes, still no second sign-in over the open connection.
    let r = l.hpcinit(&base(SITE, project, &[]), &[]);
    ok(&r, "second run");
    assert!(!r.stdout.contains("✓ wrote") && !r.stdout.contains("✓ built"), "{}", r.stdout);
    assert_eq!(log.accepted(), 1, "{}", log.text());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn the_lsf_stand_in_answers_as_lsf_documents() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    ok(&l.hpcinit(&super::ssh_steps::args(SITE, &[]), &[]), "ssh steps");
    let job = "printf '#!/bin/bash\\n#BSUB -J standin\\n#BSUB -W 5\\n%s\\necho standin-output $LSB_JOBID $LSB_QUEUE ${SLURM_JOB_ID:-no-slurm}\\n'";

    // An unknown queue: LSF's words, exit 255, nothing submitted.
    let (rc, out) = on_cluster(&l, SITE, &format!("{job} '' | bsub -q nosuch"));
    assert_eq!(rc, 255, "{out}");
    assert!(out.contains("nosuch: No such queue. Job not submitted."), "{out}");

    // -o into a directory that does not exist: the job runs, "the output will not be stored"
    // and is mailed instead (here: the stand-in's mail file).
    let missing = format!("/tmp/hpcinit-cluster/scratch/hpcuser/no-such-dir-{}", std::process::id());
    let (rc, out) = on_cluster(&l, SITE, &format!("{job} '#BSUB -o {missing}/out-%J.txt' | bsub"));
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("is submitted to default queue <hpc>."), "{out}");
    let id = job_id(&out);
    let last = bjobs_until(&l, &id, "stat exec_host", |s| s.starts_with("DONE") || s.starts_with("EXIT"));
    assert_eq!(last, format!("DONE|{}", l.c.var("HPCINIT_NODE_NAME")));
    assert!(!std::path::Path::new(&missing).exists(), "LSF does not create the -o file's directory");
    let mail = std::fs::read_to_string(format!("{}/hpcuser", l.c.var("HPCINIT_LSF_MAIL"))).unwrap();
    assert!(
        mail.contains(&format!("Subject: Job {id}: <standin>"))
            && mail.contains(&format!("standin-output {id} hpc no-slurm")),
        "the output went by mail, with LSF's variables and none of Slurm's: {mail}"
    );

    // A job in a queue that never dispatches: PEND with LSF's reason; bkill; then EXIT.
    let (_, out) = on_cluster(&l, SITE, &format!("{job} '' | bsub -q held"));
    let id = job_id(&out);
    let pend = bjobs_until(&l, &id, "stat pend_reason estimated_sim_start_time exec_host", |s| !s.is_empty());
    assert_eq!(pend, "PEND|The queue is inactivated by the administrator|-|-");
    let (_, out) = on_cluster(&l, SITE, &format!("bjobs -noheader -o 'stat pend_reason' {id}"));
    assert_eq!(out.trim_end(), "PEND The queue is inactivated by the administrator", "space-separated");
    let (rc, out) = on_cluster(&l, SITE, &format!("bkill {id}"));
    assert_eq!((rc, out.trim_end()), (0, format!("Job <{id}> is being terminated").as_str()));
    bjobs_until(&l, &id, "stat", |s| s == "EXIT");
    let (rc, out) = on_cluster(&l, SITE, &format!("bkill {id}"));
    assert_eq!((rc, out.trim_end()), (255, format!("Job <{id}>: Job has already finished").as_str()));
    let (rc, out) = on_cluster(&l, SITE, "bjobs -noheader -o stat 99999999");
    assert_eq!((rc, out.trim_end()), (255, "Job <99999999> is not found"));
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_lock_made_under_lmod_rebuilds_under_environment_modules() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let (a, b) = ("lock-lmod", "lock-tclmod");
    let (_ca, _cb) = (cleanup(&l, a), cleanup(&l, b));
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\nhpcinit-extra\n").unwrap();
    ok(&l.hpcinit(&base("sandbox", a, &[]), &[]), "bootstrap on the Lmod node");
    let lock = std::fs::read_to_string(l.project.join("hpcinit.lock")).unwrap();
    let module = l.c.var("HPCINIT_MODULE_DTU");

    let log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_DTU");
    let r = l.hpcinit(&base(SITE, b, &[]), &[]);
    ok(&r, "rebuild from the lock on the Environment Modules node");
    assert!(r.stdout.contains("version from: hpcinit.lock"), "{}", r.stdout);
    assert!(r.stdout.contains("from hpcinit.lock (Sandbox): 2 of 2 pinned versions exactly"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("({module}")), "python/3.11 became {module}: {}", r.stdout);
    assert_eq!(log.accepted(), 1, "{}", log.text());
    assert_eq!(
        std::fs::read_to_string(l.project.join("hpcinit.lock")).unwrap(),
        lock,
        "the lock stays Sandbox's"
    );
    let (rc, out) = on_cluster(
        &l,
        SITE,
        &format!(
            "module purge && module load {module} && ~/venvs/{b}/bin/python -c 'import hpcinit_demo, hpcinit_extra; print(hpcinit_demo.VERSION, hpcinit_extra.VALUE)'"
        ),
    );
    assert_eq!((rc, out.lines().last().unwrap_or_default()), (0, "1.0 42"), "{out}");

    // hpcinit diff: the same packages, the module names each system gives them.
    let r = l.hpcinit(&["diff", "--site", "sandbox", "--site", SITE, "--exit-code"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("The same environment: Python 3.11 and the same 2 package versions."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("python/3.11") && r.stdout.contains(&module), "{}", r.stdout);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn jupyter_runs_as_an_lsf_job_and_ctrl_c_kills_it() {
    use super::jupyter_steps::{status_as, NoJobsLeft, Session};
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "lsf-jupyter";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let _q = NoJobsLeft(super::Cluster::get());
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
    ok(&l.hpcinit(&base(SITE, project, &[]), &[]), "bootstrap");
    let log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_DTU");
    let mut s = Session::start(
        &l,
        &["jupyter", "--site", SITE, "--user", "hpcuser", "--project-name", project, "--no-browser"],
    );
    let (url, token) = s.url();
    // Submitted with bsub to the profile's queue, followed with bjobs, placed from exec_host.
    let started = s.wait_for("job ", 5);
    assert!(s.stdout().contains("submitted: 1 CPU, 512M, 00:30:00, queue hpc"), "{}", s.all());
    let line = s.wait_for(&format!("Jupyter Lab runs on {} (job ", l.c.var("HPCINIT_NODE_NAME")), 5);
    let id = line.split("(job ").nth(1).unwrap().trim_end_matches(')').trim().to_string();
    assert_eq!(status_as(None, &url, Some(&token)), "200", "{started}");
    let (_, out) = on_cluster(&l, SITE, &format!("bjobs -noheader -o 'stat queue exec_host' {id}"));
    assert_eq!(out.trim_end(), format!("RUN hpc {}", l.c.var("HPCINIT_NODE_NAME")));
    assert_eq!(log.accepted(), 0, "the session rode the bootstrap's connection: {}", log.text());

    // Ctrl-C: bkill, and the job ends as LSF shows a killed job.
    let code = s.interrupt(60);
    assert_eq!(code, 0, "{}", s.all());
    assert!(s.stdout().contains(&format!("Job {id} cancelled")), "{}", s.all());
    let last = bjobs_until(&l, &id, "stat", |st| st == "EXIT" || st == "DONE");
    assert_eq!(last, "EXIT");
}

// --- Duo (the stand-in pam_duo) -----------------------------------------------------------------

/// What the phone does with the next pushes (the stand-in's `push` file), back to "approve 1"
/// when dropped; and the stand-in's decisions from now on.
struct Phone {
    state: std::path::PathBuf,
    start: usize,
}

impl Phone {
    fn will(l: &Laptop, answer: &str) -> Phone {
        let state = std::path::PathBuf::from(l.c.var("HPCINIT_DUO_STATE"));
        std::fs::write(state.join("push"), format!("{answer}\n")).unwrap();
        let start = std::fs::read(state.join("log")).map(|b| b.len()).unwrap_or(0);
        Phone { state, start }
    }

    /// The decisions since `will`: "push approve hpcuser", "passcode ok hpcuser", …
    fn decisions(&self) -> Vec<String> {
        let b = std::fs::read(self.state.join("log")).unwrap_or_default();
        String::from_utf8_lossy(&b[self.start.min(b.len())..]).lines().map(String::from).collect()
    }

    /// A fresh passcode, as Duo Mobile shows one.
    fn passcode(&self) -> String {
        let code = format!("{:06}", std::process::id() % 1_000_000);
        let mut f = std::fs::OpenOptions::new().append(true).open(self.state.join("passcodes")).unwrap();
        std::io::Write::write_all(&mut f, format!("{code}\n").as_bytes()).unwrap();
        code
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = std::fs::write(self.state.join("push"), "approve 1\n");
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn duo_password_then_push_bootstraps_with_one_push_on_both_transports() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for transport in ["ssh", "ssh2"] {
        let project = format!("duo-{transport}");
        let l = Laptop::new();
        let _c = cleanup(&l, &project);
        std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
        let phone = Phone::will(&l, "approve 1");
        let log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_DUO");
        let r = l.hpcinit(&base("sandbox-duo", &project, &["--check-job", "--transport", transport]), &[]);
        ok(&r, &format!("password + Duo push, --transport {transport}"));
        assert!(r.stdout.contains("wrote `hpcinit-check ok "), "{}", r.stdout);
        assert_eq!(phone.decisions(), ["push approve hpcuser"], "one push for the whole run ({transport})");
        assert_eq!(log.accepted(), 1, "one sign-in ({transport}): {}", log.text());
        // Asked twice, once per factor: the password, then Duo's menu (its first line here).
        assert_eq!(
            l.prompts(),
            [
                if transport == "ssh" {
                    "hpcuser@sandbox-duo's password: "
                } else {
                    "hpcuser@127.0.0.1's password: "
                },
                if transport == "ssh" {
                    "(hpcuser@sandbox-duo) Duo two-factor login for hpcuser"
                } else {
                    "Duo two-factor login for hpcuser"
                },
            ],
            "{transport}"
        );
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn duo_key_site_registers_through_the_portal_then_signs_in_with_the_key_and_one_passcode() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for transport in ["ssh", "ssh2"] {
        let project = format!("duo-key-{transport}");
        let l = Laptop::new();
        let _c = cleanup(&l, &project);
        std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
        let phone = Phone::will(&l, "deny 1");
        let code = phone.passcode();
        let log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_DUO_KEY");
        let later = register_later(&l, Duration::from_secs(2));
        let extra = ["--check-job", "--wait-for-key", "60", "--key-poll", "1", "--transport", transport];
        let r = l.hpcinit(&base("sandbox-duo-key", &project, &extra), &[("HPCINIT_ASKPASS_DUO", &code)]);
        later.join().unwrap();
        ok(&r, &format!("key + Duo passcode, --transport {transport}"));
        assert!(r.stdout.contains("accepts the key"), "{}", r.stdout);
        assert!(r.stdout.contains("wrote `hpcinit-check ok "), "{}", r.stdout);
        assert_eq!(phone.decisions(), ["passcode ok hpcuser"], "one passcode, no push ({transport})");
        assert_eq!(log.accepted(), 1, "one sign-in ({transport}): {}", log.text());
        assert_eq!(l.prompts().len(), 1, "only Duo asked, no password ({transport}): {:?}", l.prompts());
        let used = std::fs::read_to_string(l.c.dir.join("duo/passcodes")).unwrap();
        assert!(!used.lines().any(|c| c == code), "a passcode is used once");
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_denied_or_unanswered_push_stops_the_run_with_duos_words_and_writes_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // sandbox-duo asks once per attempt (pam_duo's `prompts = 1`): Duo's words come as the
    // instructions of a last request, which OpenSSH prints on standard error. sandbox-duo-key
    // asks up to 3 times (the default): they come before the next prompt.
    for (site, transport, phone_does, words, why) in [
        ("sandbox-duo", "ssh", "deny 1", "Login request denied.", "the push was denied on the phone"),
        // libssh2 does not pass on a request without prompts: hpcinit says what it knows.
        (
            "sandbox-duo",
            "ssh2",
            "deny 1",
            "the push (or call) was not approved",
            "the push was denied on the phone or not answered in time",
        ),
        ("sandbox-duo-key", "ssh2", "ignore 2", "Login timed out.", "nobody answered the push in time"),
    ] {
        let project = "duo-denied";
        let l = Laptop::new();
        let _c = cleanup(&l, project);
        let phone = Phone::will(&l, phone_does);
        let log = LogWindow::of(
            &l.c,
            if site == "sandbox-duo" { "HPCINIT_SSHD_LOG_DUO" } else { "HPCINIT_SSHD_LOG_DUO_KEY" },
        );
        let portal = site == "sandbox-duo-key";
        let later = portal.then(|| register_later(&l, Duration::ZERO));
        let mut extra = vec!["--transport", transport];
        if portal {
            extra.extend(["--wait-for-key", "60", "--key-poll", "1"]);
        }
        // A person who answers Duo once (`1`, a push) and, told no, gives up.
        let r = l.hpcinit(&base(site, project, &extra), &[("HPCINIT_ASKPASS_DUO_ONCE", "1")]);
        if let Some(t) = later {
            t.join().unwrap();
        }
        assert_eq!(r.code, 1, "{transport}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&format!("error: Duo refused the sign-in to 127.0.0.1: {words}")),
            "{transport}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!("hint: {why}: the second factor, not your password")),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("in step: Sign in once"), "{}", r.stderr);
        assert!(!r.stderr.contains("did not accept") && !r.stderr.contains("timed out)"), "{}", r.stderr);
        // One push; after Duo's no, nothing more was asked or sent for it (the stand-in logs an
        // empty answer as "invalid").
        let pushes = phone.decisions().iter().filter(|d| d.starts_with("push ")).count();
        assert_eq!(pushes, 1, "{transport}: {:?}", phone.decisions());
        assert_eq!(log.accepted(), 0, "{}", log.text());
        // Nothing on the cluster: no key, no directories, no environment.
        let home = remote_home(&l);
        let public = std::fs::read_to_string(l.path(".ssh/id_ed25519_hpcinit.pub")).unwrap();
        let keys = std::fs::read_to_string(home.join(".ssh/authorized_keys")).unwrap();
        assert!(
            portal || !keys.contains(public.split_whitespace().nth(1).unwrap()),
            "the key was not installed"
        );
        assert!(!home.join(format!("venvs/{project}")).exists());
        assert!(!home.join(format!("sbatch/{project}.sh")).exists());
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_push_approved_after_25_seconds_is_waited_for_on_both_transports() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for transport in ["ssh", "ssh2"] {
        let l = Laptop::new();
        let phone = Phone::will(&l, "approve 25");
        let started = Instant::now();
        let r = l.hpcinit(&super::ssh_steps::args("sandbox-duo", &["--transport", transport]), &[]);
        ok(&r, &format!("a slow phone, --transport {transport}"));
        assert!(started.elapsed() >= Duration::from_secs(25));
        assert_eq!(phone.decisions(), ["push approve hpcuser"]);
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn in_a_terminal_the_ssh2_transport_shows_duos_menu_and_echoes_the_answer() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let phone = Phone::will(&l, "approve 1");
    // No SSH_ASKPASS: hpcinit's own prompter asks on the terminal.
    let mut p = l.in_terminal(&super::ssh_steps::args("sandbox-duo", &["--transport", "ssh2"]), 60_000);
    let answer = type_at;
    answer(&mut p, "@127.0.0.1's password:", &format!("{}\r", l.c.var("HPCINIT_TEST_PASSWORD")));
    // Duo's whole menu, then its question, and what is typed shows (echo on, as pam_duo asks).
    for line in [
        "Duo two-factor login for hpcuser",
        "Enter a passcode or select one of the following options:",
        " 1. Duo Push to My phone (iOS)",
    ] {
        p.exp_string(line).unwrap_or_else(|e| panic!("waiting for {line:?}: {e}"));
    }
    answer(&mut p, "Passcode or option (1-1): ", "1");
    p.exp_string("1").expect("the answer is echoed");
    std::thread::sleep(Duration::from_millis(200));
    p.send("\r").unwrap();
    p.flush().unwrap();
    let rest = p.exp_eof().expect("the run ends");
    let status = p.process().wait().unwrap();
    assert!(matches!(status, rexpect::process::WaitStatus::Exited(_, 0)), "{status:?}\n{rest}");
    assert!(rest.contains("SSH is ready"), "{rest}");
    assert_eq!(phone.decisions(), ["push approve hpcuser"]);
}

// --- Olivia's container wrapper (a stand-in) ----------------------------------------------------

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn olivia_builds_with_pip_containerize_where_native_pip_is_refused_and_the_job_runs_it() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "olivia-first";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
    std::fs::write(
        l.project.join("main.py"),
        "import os, hpcinit_demo\nprint('main.py ran with hpcinit_demo', hpcinit_demo.VERSION, 'in', os.environ.get('HPCINIT_CONTAINER_PREFIX', 'no container'))\n",
    )
    .unwrap();
    let log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_OLIVIA");
    let r = l.hpcinit(&base("sandbox-olivia", project, &["--check-job"]), &[]);
    ok(&r, "bootstrap with --check-job on the Olivia-shaped login");
    assert_eq!(log.accepted(), 1, "one sign-in: {}", log.text());
    assert!(r.stdout.contains("Python from no module: the container brings its own Python"), "{}", r.stdout);
    assert!(r.stdout.contains("wrote `hpcinit-check ok "), "{}", r.stdout);
    let lock = std::fs::read_to_string(l.project.join("hpcinit.lock")).unwrap();
    assert!(lock.contains("kind: container-wrapper") && lock.contains("- hpcinit-demo==1.0"), "{lock}");

    // Olivia's rule holds on this login: pip and venv refused outside the container.
    let (rc, out) = on_cluster(&l, "sandbox-olivia", "pip install hpcinit-extra");
    assert!(rc != 0 && out.contains("native pip and venv installs are not allowed"), "{out}");
    let (rc, out) = on_cluster(&l, "sandbox-olivia", "python3 -m venv /tmp/not-allowed");
    assert!(rc != 0 && out.contains("not allowed"), "{out}");
    // What hpcinit built is pip-containerize's: wrappers in bin/ that run inside the installation.
    let (rc, out) = on_cluster(
        &l,
        "sandbox-olivia",
        &format!("head -2 ~/venvs/{project}/bin/python; ~/venvs/{project}/bin/python -c 'import sys; print(sys.prefix != sys.base_prefix)'"),
    );
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("pip-containerize") && out.trim_end().ends_with("True"), "{out}");

    // A package added the documented way (`pip-containerize update`), then `hpcinit lock`
    // records the environment as it is.
    let (rc, out) = on_cluster(
        &l,
        "sandbox-olivia",
        &format!(
            "module --quiet reset && module load NRIS/CPU hpc-container-wrapper && f=$(mktemp) && echo hpcinit-extra >$f && pip-containerize update ~/venvs/{project} -r $f && rm $f && ~/venvs/{project}/bin/python -c 'import hpcinit_extra; print(hpcinit_extra.VALUE)'"
        ),
    );
    assert!(rc == 0 && out.lines().any(|l| l == "42"), "{out}");
    let r = l.hpcinit(&["lock"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let lock = std::fs::read_to_string(l.project.join("hpcinit.lock")).unwrap();
    assert!(lock.contains("- hpcinit-extra==1.0"), "{lock}");

    // The template's job, submitted as the run says, runs main.py with the container's Python.
    let (rc, id) =
        on_cluster(&l, "sandbox-olivia", &format!("cd ~ && sbatch --parsable --wait ~/sbatch/{project}.sh"));
    assert_eq!(rc, 0, "{id}");
    let id = id.lines().last().unwrap().trim().to_string();
    let out =
        std::fs::read_to_string(remote_home(&l).join(format!("scratch/logs/{project}-{id}.out"))).unwrap();
    assert!(
        out.contains("main.py ran with hpcinit_demo 1.0 in /tmp/hpcinit-cluster/home/hpcuser/venvs/"),
        "{out}"
    );
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_lock_moves_from_lmod_to_the_container_wrapper_and_back() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let (a, b, c) = ("lock-to-olivia-a", "lock-to-olivia-b", "lock-from-olivia");
    let (_ca, _cb, _cc) = (cleanup(&l, a), cleanup(&l, b), cleanup(&l, c));
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\nhpcinit-extra\n").unwrap();
    let lock_path = l.project.join("hpcinit.lock");
    ok(&l.hpcinit(&base("sandbox", a, &[]), &[]), "bootstrap on the Lmod node");
    let lmod_lock = std::fs::read_to_string(&lock_path).unwrap();

    // Onto Olivia: the pins go to pip-containerize; the same versions import in the container.
    let log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_OLIVIA");
    let r = l.hpcinit(&base("sandbox-olivia", b, &[]), &[]);
    ok(&r, "rebuild from the lock with pip-containerize");
    assert!(r.stdout.contains("Reproduced:    hpcinit.lock from Sandbox"), "{}", r.stdout);
    assert_eq!(log.accepted(), 1, "{}", log.text());
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), lmod_lock, "the lock stays Sandbox's");
    let code = "import hpcinit_demo, hpcinit_extra; print(hpcinit_demo.VERSION, hpcinit_extra.VALUE)";
    let (rc, out) = on_cluster(&l, "sandbox-olivia", &format!("~/venvs/{b}/bin/python -c '{code}'"));
    assert_eq!((rc, out.lines().last().unwrap_or_default()), (0, "1.0 42"), "{out}");

    // hpcinit diff: the same packages; what differs is how each site builds them.
    let r = l.hpcinit(&["diff", "--site", "sandbox", "--site", "sandbox-olivia"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("the same 2 package versions"), "{}", r.stdout);
    assert!(r.stdout.contains("hpc-container-wrapper") && r.stdout.contains("python/3.11"), "{}", r.stdout);

    // And back: a lock made on Olivia rebuilds on the Lmod node.
    std::fs::remove_file(&lock_path).unwrap();
    ok(&l.hpcinit(&base("sandbox-olivia", b, &[]), &[]), "the lock written on Olivia");
    let olivia_lock = std::fs::read_to_string(&lock_path).unwrap();
    assert!(
        olivia_lock.contains("site: sandbox-olivia") && olivia_lock.contains("kind: container-wrapper"),
        "{olivia_lock}"
    );
    let r = l.hpcinit(&base("sandbox", c, &[]), &[]);
    ok(&r, "rebuild the Olivia lock under Lmod");
    assert!(r.stdout.contains("Reproduced:    hpcinit.lock from Sandbox Olivia"), "{}", r.stdout);
    assert!(r.stdout.contains("2 of 2 pinned versions exactly"), "{}", r.stdout);
    let (rc, out) = on_cluster(
        &l,
        "sandbox",
        &format!("module purge && module load StdEnv/2023 python/3.11 && ~/venvs/{c}/bin/python -c '{code}'"),
    );
    assert_eq!((rc, out.lines().last().unwrap_or_default()), (0, "1.0 42"), "{out}");
}

/// The site-shaped sandbox profiles describe the test cluster as `up.sh` made it.
#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn the_site_shaped_profiles_match_the_cluster() {
    let c = super::Cluster::get();
    let set = hpcinit::profile::ProfileSet::builtin().unwrap();
    for (name, port) in [
        ("sandbox-lsf", "HPCINIT_DTU_PORT"),
        ("sandbox-duo", "HPCINIT_DUO_PORT"),
        ("sandbox-duo-key", "HPCINIT_DUO_KEY_PORT"),
        ("sandbox-olivia", "HPCINIT_OLIVIA_PORT"),
    ] {
        let p = set.get(name).unwrap();
        assert!(p.is_test(), "{name}");
        assert_eq!(p.raw.ssh.port.to_string(), c.var(port), "{name}");
    }
    let lsf = set.get("sandbox-lsf").unwrap();
    let known: Vec<String> = lsf.raw.python.modules.known.iter().map(|m| m.to_string()).collect();
    assert_eq!(known, [c.var("HPCINIT_MODULE_DTU")], "sandbox-lsf names the module up.sh made");
}
