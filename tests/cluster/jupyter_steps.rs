//! `hpcinit jupyter` against the test cluster's real Slurm, sshd and Lmod: Jupyter Lab installed
//! into the project's venv from the wheelhouse, the job submitted and followed, the server
//! reached through a forward on the shared connection and driven as a browser drives it (REST
//! and the kernel's websocket, `kernel.py`), dask-jobqueue's `SLURMCluster()` starting two
//! worker jobs from the config hpcinit wrote, another cluster user refused, the token in no
//! process's arguments, a killed connection replaced, Ctrl-C while pending and while running,
//! and `--persist`, `--list`, `--job` and `--stop`. Every test stops its hpcinit and cancels the
//! test user's jobs, even when it fails.

use super::remote_steps::{base, cleanup, ok, remote_home};
use super::ssh_steps::{Laptop, LogWindow};
use super::SERIAL;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `hpcinit jupyter`, its output collected as it comes; stopped (SIGINT, then
/// SIGKILL) when dropped.
pub(super) struct Session {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

impl Session {
    pub(super) fn start(l: &Laptop, args: &[&str]) -> Session {
        let mut cmd = l.command(args, &[]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("hpcinit starts");
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let buf = Arc::new(Mutex::new(String::new()));
            let b = buf.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = b.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            });
            buf
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Session { child, out, err }
    }

    pub(super) fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    pub(super) fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout(), self.err.lock().unwrap())
    }

    /// Waits until stdout has a line containing `what`; panics with the output after `secs`.
    pub(super) fn wait_for(&mut self, what: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(l) = self.stdout().lines().find(|l| l.contains(what)) {
                return l.to_string();
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!("hpcinit ended ({st}) before `{what}`:\n{}", self.all());
            }
            assert!(Instant::now() < deadline, "no `{what}` within {secs} s:\n{}", self.all());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl-C, then the exit code (within `secs`).
    pub(super) fn interrupt(&mut self, secs: u64) -> i32 {
        unsafe {
            libc_kill(self.child.id() as i32, 2);
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "hpcinit did not end within {secs} s of Ctrl-C:\n{}",
                self.all()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The URL it printed, as (base, token).
    pub(super) fn url(&mut self) -> (String, String) {
        let line = self.wait_for("Jupyter Lab: http://127.0.0.1:", 120);
        let url = line.split("Jupyter Lab: ").nth(1).unwrap().trim().to_string();
        let (base, token) = url.split_once("lab?token=").unwrap();
        (base.to_string(), token.to_string())
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            unsafe {
                libc_kill(self.child.id() as i32, 2);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Cancels every job of the test user and removes a test's project from the cluster when
/// dropped: nothing a failed test started stays in the queue.
pub(super) struct NoJobsLeft(pub(super) super::Cluster);

impl Drop for NoJobsLeft {
    fn drop(&mut self) {
        let _ = Command::new("scancel")
            .args(["-u", "hpcuser"])
            .env("SLURM_CONF", self.0.var("SLURM_CONF"))
            .status();
    }
}

/// The test user's jobs in the queue: (id, name).
pub(super) fn queue(c: &super::Cluster) -> Vec<(String, String)> {
    let out = Command::new("squeue")
        .args(["-h", "-u", "hpcuser", "-o", "%i %j"])
        .env("SLURM_CONF", c.var("SLURM_CONF"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect()
}

/// The queue empties within `secs` (a cancelled job takes a moment to leave it).
pub(super) fn queue_empties(c: &super::Cluster, secs: u64) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let q = queue(c);
        if q.is_empty() || Instant::now() > deadline {
            return q;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn kernel_py() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/kernel.py")
}

/// Runs `code` in a kernel through the forwarded server (a new kernel, or `kernel`), as a
/// browser does: the parsed JSON answer.
fn run_cell(base: &str, token: &str, kernel: Option<&str>, code: &str) -> serde_json::Value {
    let mut cmd = Command::new("python3");
    cmd.arg(kernel_py()).arg(base);
    if let Some(k) = kernel {
        cmd.arg(k);
    }
    let mut child = cmd
        .env("JUPYTER_TEST_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(code.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|_| panic!("kernel.py: {text}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// The HTTP status of `GET {base}api/kernels`, asked as `user` (`None`: this test) with or
/// without the token.
pub(super) fn status_as(user: Option<&str>, base: &str, token: Option<&str>) -> String {
    let mut cmd = match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--", "env"]).arg(format!("JUPYTER_TEST_TOKEN={}", token.unwrap_or("")));
            c.arg("python3");
            c
        }
        None => {
            let mut c = Command::new("python3");
            c.env("JUPYTER_TEST_TOKEN", token.unwrap_or(""));
            c
        }
    };
    cmd.arg(kernel_py()).args(["--status", base]);
    if token.is_none() {
        cmd.arg("none");
    }
    let out = cmd.current_dir("/tmp").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A project whose requirements are the demo package and dask-jobqueue, bootstrapped.
fn bootstrapped(l: &Laptop, project: &str) {
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\ndask-jobqueue\n").unwrap();
    let r = l.hpcinit(&base("sandbox", project, &[]), &[]);
    ok(&r, "bootstrap");
}

fn jupyter<'a>(project: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v =
        vec!["jupyter", "--site", "sandbox", "--user", "hpcuser", "--project-name", project, "--no-browser"];
    v.extend_from_slice(extra);
    v
}

/// The server's runtime file on the cluster (as root reads it): (path, port).
fn runtime_file(l: &Laptop, job: &str) -> (PathBuf, u16) {
    let dir = l.c.dir.join("scratch/hpcuser/.hpcinit/jupyter").join(job);
    let f = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with("jpserver-")
                && p.extension().is_some_and(|x| x == "json")
        })
        .expect("the server's runtime file");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    (f, json["port"].as_u64().unwrap() as u16)
}

fn job_of(line: &str) -> String {
    line.split("(job ").nth(1).unwrap().trim_end_matches(')').trim().to_string()
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

const DASK: &str = r#"
from dask_jobqueue import SLURMCluster
from distributed import Client
cluster = SLURMCluster()
cluster.scale(2)
client = Client(cluster)
client.wait_for_workers(2, timeout=120)
print("answer", client.submit(lambda x: x + 1, 41).result())
print("jobs", " ".join(sorted(j.job_id for j in cluster.workers.values())))
client.close()
cluster.close()
"#;

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_notebook_on_a_compute_node_imports_the_project_and_runs_dask_workers_with_no_new_sign_in() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "jupyter";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let _q = NoJobsLeft(super::Cluster::get());
    bootstrapped(&l, project);
    let lock_before = std::fs::read_to_string(l.project.join("hpcinit.lock")).unwrap();
    // The bootstrap's connection is open: the session rides on it.
    let log = LogWindow::open(&l.c, false);
    let prompts = l.prompts().len();
    let mut s = Session::start(&l, &jupyter(project, &[]));
    let (base, token) = s.url();
    let job = job_of(&s.wait_for(&format!("runs on {} (job", l.c.var("HPCINIT_NODE_NAME")), 5));
    assert!(s.stdout().contains("installed Jupyter Lab 4.6.6 in ~/venvs/jupyter"), "{}", s.all());
    // The lock keeps its packages; what Jupyter added is recorded beside them.
    let lock = std::fs::read_to_string(l.project.join("hpcinit.lock")).unwrap();
    let packages = |t: &str| t.split("\ninteractive:").next().unwrap().trim_end().to_string();
    assert_eq!(packages(&lock), packages(&lock_before), "the locked packages are unchanged");
    assert!(lock.contains("\ninteractive:\n") && lock.contains("- jupyterlab==4.6.6\n"), "{lock}");
    assert_eq!(log.accepted(), 0, "no new authentication while the connection lives:\n{}", log.text());
    assert_eq!(l.prompts().len(), prompts, "no prompt: {:?}", l.prompts());

    // The kernel runs in the project's venv and imports its requirement.
    let cell = run_cell(
        &base,
        &token,
        None,
        "import hpcinit_demo, sys\nx = 41\nprint(hpcinit_demo.GREETING, sys.prefix)",
    );
    assert!(cell["error"].is_null(), "{cell}");
    let printed = cell["stdout"].as_str().unwrap();
    assert!(
        printed.starts_with("hello from hpcinit_demo /tmp/hpcinit-cluster/home/hpcuser/venvs/jupyter"),
        "{cell}"
    );

    // dask as in the course notes: SLURMCluster() with no arguments, two worker jobs.
    let cell = run_cell(&base, &token, cell["kernel"].as_str(), DASK);
    assert!(cell["error"].is_null(), "{cell}");
    let printed = cell["stdout"].as_str().unwrap();
    assert!(printed.contains("answer 42"), "{cell}");
    let workers: Vec<&str> =
        printed.lines().find_map(|l| l.strip_prefix("jobs ")).unwrap().split_whitespace().collect();
    assert_eq!(workers.len(), 2, "{cell}");
    let left = queue_empties(&l.c, 20);
    assert!(
        left.iter().all(|(id, _)| !workers.contains(&id.as_str())),
        "the worker jobs are gone after close: {left:?}"
    );

    // Nobody else on the cluster gets an answer without the token.
    let (runtime, port) = runtime_file(&l, &job);
    assert_eq!(mode(&runtime), 0o600, "{}", runtime.display());
    assert_eq!(mode(runtime.parent().unwrap()), 0o700);
    let direct = format!("http://{}:{port}/", l.c.var("HPCINIT_NODE_NAME"));
    assert_eq!(status_as(Some("hpcgate"), &direct, None), "403", "another user, no token");
    assert_eq!(status_as(None, &base, None), "403", "through the forward, no token");
    assert_eq!(status_as(None, &base, Some(&token)), "200", "with the token");
    // The token is in no process's arguments, on the login node, the compute node or here.
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(!ps.contains(&token), "the token shows in ps:\n{ps}");

    // Ctrl-C while it runs: the job is cancelled and its files are gone.
    let code = s.interrupt(60);
    assert_eq!(code, 0, "{}", s.all());
    assert!(s.stdout().contains(&format!("Job {job} cancelled")), "{}", s.all());
    assert_eq!(queue_empties(&l.c, 20), vec![], "no job of the user is left");
    assert!(!runtime.parent().unwrap().exists(), "the job's private files are removed");
    assert!(remote_home(&l).join("scratch").exists());
    // A later bootstrap leaves the lock as it is: the extras are not locked packages.
    let r = l.hpcinit(&super::remote_steps::base("sandbox", project, &[]), &[]);
    ok(&r, "bootstrap again");
    let row = super::remote_steps::step_result(&r.stdout, "Lock file");
    assert!(row.contains("unchanged"), "{}", r.stdout);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_killed_connection_is_replaced_with_one_sign_in_and_the_kernel_keeps_its_state() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "jupyter-drop";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let _q = NoJobsLeft(super::Cluster::get());
    bootstrapped(&l, project);
    let mut s = Session::start(&l, &jupyter(project, &[]));
    let (base, token) = s.url();
    let cell = run_cell(&base, &token, None, "state = 'kept'");
    assert!(cell["error"].is_null(), "{cell}");
    let kernel = cell["kernel"].as_str().unwrap().to_string();

    // The login node drops the connection (its sshd session ends).
    let log = LogWindow::open(&l.c, false);
    let killed = Command::new("pkill").args(["-u", "hpcuser", "-f", "sshd: hpcuser"]).status().unwrap();
    assert!(killed.success(), "an sshd session of the test user to end");
    let started = Instant::now();
    s.wait_for("Connection restored", 30);
    let noticed = started.elapsed();
    assert!(s.stdout().contains("The connection to Sandbox was lost; signing in again"), "{}", s.all());
    assert_eq!(log.accepted(), 1, "one new sign-in:\n{}", log.text());
    let cell = run_cell(&base, &token, Some(&kernel), "print(state)");
    assert_eq!(cell["stdout"].as_str(), Some("kept\n"), "the same kernel, its variable still set: {cell}");
    assert!(noticed < Duration::from_secs(15), "noticed and restored in {noticed:?}");
    assert_eq!(s.interrupt(60), 0, "{}", s.all());
    assert_eq!(queue_empties(&l.c, 20), vec![]);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn ctrl_c_while_the_job_waits_cancels_it_and_the_wait_says_why() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "jupyter-wait";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let _q = NoJobsLeft(super::Cluster::get());
    bootstrapped(&l, project);
    // `held` takes jobs and never starts them.
    let mut s = Session::start(&l, &jupyter(project, &["--partition", "held", "-v"]));
    let line = s.wait_for("pending (PartitionDown)", 60);
    assert!(line.contains("no start estimate yet") || line.contains("expected to start"), "{line}");
    let job = s.wait_for(" submitted: ", 5);
    let job = job.split("; job ").nth(1).unwrap().split(' ').next().unwrap().to_string();
    assert_eq!(queue(&l.c), vec![(job.clone(), "hpcinit-jupyter".to_string())]);
    assert_eq!(s.interrupt(60), 0, "{}", s.all());
    assert!(s.stdout().contains(&format!("Job {job} cancelled")), "{}", s.all());
    assert_eq!(queue_empties(&l.c, 20), vec![], "no job of the user is left");

    // A job that does not start within --wait-timeout is cancelled too, with the reason.
    let r = l.hpcinit(&jupyter(project, &["--partition", "held", "--wait-timeout", "3"]), &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("did not start within 3 s (last: PENDING)"), "{}", r.stderr);
    assert_eq!(queue_empties(&l.c, 20), vec![], "no job of the user is left");

    // A job the scheduler refuses: its words, and what to check.
    let r = l.hpcinit(&jupyter(project, &["--partition", "nosuch"]), &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "submitting the Jupyter job failed on the cluster: the scheduler refused it: sbatch: error:"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: check the account (--account)"), "{}", r.stderr);
    assert_eq!(queue(&l.c), vec![]);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_persistent_server_is_listed_reconnected_to_and_stopped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "jupyter-keep";
    let l = Laptop::new();
    let _c = cleanup(&l, project);
    let _q = NoJobsLeft(super::Cluster::get());
    bootstrapped(&l, project);
    let mut s = Session::start(&l, &jupyter(project, &["--persist"]));
    let (base, token) = s.url();
    let job = job_of(&s.wait_for(&format!("runs on {} (job", l.c.var("HPCINIT_NODE_NAME")), 5));
    let kernel = run_cell(&base, &token, None, "kept = 1")["kernel"].as_str().unwrap().to_string();
    assert_eq!(s.interrupt(60), 0, "{}", s.all());
    assert!(s.stdout().contains(&format!("job {job} keeps running")), "{}", s.all());
    assert_eq!(queue(&l.c), vec![(job.clone(), "hpcinit-jupyter".to_string())], "it keeps running");

    let r = l.hpcinit(&["jupyter", "--list", "--site", "sandbox", "--user", "hpcuser"], &[]);
    ok(&r, "--list");
    let row = r
        .stdout
        .lines()
        .find(|l| l.contains(&format!("job {job}")))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let on = format!(": running on {}", l.c.var("HPCINIT_NODE_NAME"));
    assert!(row.contains("kept (--persist)") && row.contains(&on), "{row}");

    // Reconnect: a new forward to the same server and kernel; Ctrl-C leaves it running.
    let mut again = Session::start(&l, &["jupyter", "--job", &job, "--no-browser", "--user", "hpcuser"]);
    let (base2, token2) = again.url();
    assert_eq!(token2, token, "the same server");
    let cell = run_cell(&base2, &token2, Some(&kernel), "print(kept)");
    assert_eq!(cell["stdout"].as_str(), Some("1\n"), "{cell}");
    assert_eq!(again.interrupt(60), 0, "{}", again.all());
    assert_eq!(queue(&l.c).len(), 1, "a reconnected job is left as it was");

    // --stop: the only recorded server is cancelled and its record removed.
    let r = l.hpcinit(&["jupyter", "--stop", "--user", "hpcuser"], &[]);
    ok(&r, "--stop");
    assert!(r.stdout.contains(&format!("Job {job} cancelled")), "{}", r.stdout);
    assert_eq!(queue_empties(&l.c, 20), vec![]);
    let r = l.hpcinit(&["jupyter", "--list"], &[]);
    ok(&r, "--list after --stop");
    assert!(r.stdout.contains("No Jupyter server of hpcinit's is recorded"), "{}", r.stdout);
}
