//! The test cluster itself, checked with real clients: password login, key install and key
//! login, a second factor asked once per connection and once in total for a ControlMaster
//! session, Lmod modules and venvs over non-interactive ssh, and a Slurm job writing its log.
//!
//! Needs the cluster that `tests/cluster/up.sh` brings up (the test command does). Without it
//! every test here fails, saying so: none is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// `cargo test` runs a binary's tests in threads; the sshd log counts need one at a time.
/// (nextest runs them one at a time through the `cluster` test group.)
static SERIAL: Mutex<()> = Mutex::new(());

#[path = "cluster/ssh_steps.rs"]
mod ssh_steps;

#[path = "cluster/remote_steps.rs"]
mod remote_steps;

#[path = "cluster/wizard_steps.rs"]
mod wizard_steps;

#[path = "cluster/sync_steps.rs"]
mod sync_steps;

#[path = "cluster/lock_steps.rs"]
mod lock_steps;

#[path = "cluster/fault_steps.rs"]
mod fault_steps;

#[path = "cluster/jump_steps.rs"]
mod jump_steps;

#[path = "cluster/wsl_steps.rs"]
mod wsl_steps;

#[path = "cluster/jupyter_steps.rs"]
mod jupyter_steps;

#[path = "cluster/node_steps.rs"]
mod node_steps;

#[path = "cluster/site_software_steps.rs"]
mod site_software_steps;

#[path = "cluster/class_steps.rs"]
mod class_steps;

struct Cluster {
    dir: PathBuf,
    vars: Vec<(String, String)>,
}

impl Cluster {
    fn get() -> Cluster {
        let dir =
            PathBuf::from(std::env::var("HPCINIT_CLUSTER_DIR").unwrap_or("/tmp/hpcinit-cluster".into()));
        let env = dir.join("cluster.env");
        let text = std::fs::read_to_string(&env).unwrap_or_else(|_| {
            panic!(
                "the test cluster is not up ({} is missing): run ./tests/run.sh, or `sudo tests/cluster/up.sh` before cargo test",
                env.display()
            )
        });
        let vars = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Cluster { dir, vars }
    }

    fn var(&self, k: &str) -> String {
        self.vars
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} in cluster.env"))
    }

    fn port(&self, mfa: bool) -> String {
        self.var(if mfa { "HPCINIT_MFA_PORT" } else { "HPCINIT_PLAIN_PORT" })
    }

    /// Successful logins of the test user in one sshd's log.
    fn accepted(&self, mfa: bool) -> usize {
        let log = self.var(if mfa { "HPCINIT_SSHD_LOG_MFA" } else { "HPCINIT_SSHD_LOG_PLAIN" });
        let user = self.var("HPCINIT_TEST_USER");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("Accepted ") && l.contains(&format!(" for {user} from")))
            .count()
    }
}

/// One ssh client with its own known_hosts (pinned to the cluster's host key) and prompt log.
struct Client {
    c: Cluster,
    tmp: tempfile::TempDir,
}

impl Client {
    fn new() -> Client {
        let c = Cluster::get();
        let tmp = tempfile::tempdir().unwrap();
        let key = std::fs::read_to_string(c.var("HPCINIT_HOST_KEY_ED25519")).unwrap();
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        let known: String = [c.port(false), c.port(true)]
            .iter()
            .map(|p| format!("[127.0.0.1]:{p} {}\n", key.join(" ")))
            .collect();
        std::fs::write(tmp.path().join("known_hosts"), known).unwrap();
        Client { c, tmp }
    }

    fn prompts(&self) -> Vec<String> {
        std::fs::read_to_string(self.tmp.path().join("prompts.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn otp_prompts(&self) -> usize {
        self.prompts().iter().filter(|p| p.contains("One-time")).count()
    }

    fn ssh(&self, mfa: bool, extra: &[&str]) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-p", &self.c.port(mfa), "-l", &self.c.var("HPCINIT_TEST_USER")])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.tmp.path().join("known_hosts").display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"])
            .args(extra)
            .env("SSH_ASKPASS", self.c.var("HPCINIT_ASKPASS"))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .env("HPCINIT_CLUSTER_DIR", &self.c.dir)
            .env("HPCINIT_ASKPASS_LOG", self.tmp.path().join("prompts.log"))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `remote` on the cluster and returns stdout; panics with stderr on failure.
    fn run(&self, mfa: bool, extra: &[&str], remote: &str) -> String {
        let out = self.ssh(mfa, extra).arg("127.0.0.1").arg(remote).output().unwrap();
        ok(&out, remote)
    }
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const PASSWORD_ONLY: &[&str] = &["-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no"];

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn password_login() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cl = Client::new();
    let before = cl.c.accepted(false);
    let out = cl.run(false, PASSWORD_ONLY, "id -un");
    assert_eq!(out.trim(), cl.c.var("HPCINIT_TEST_USER"));
    assert_eq!(cl.c.accepted(false) - before, 1, "one password authentication in sshd's log");
    assert_eq!(cl.prompts().len(), 1, "{:?}", cl.prompts());
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn wrong_password_is_refused() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cl = Client::new();
    let out = cl
        .ssh(false, &["-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1"])
        .env("HPCINIT_ASKPASS_PASSWORD", "not-the-password")
        .arg("127.0.0.1")
        .arg("true")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn key_install_then_key_login() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cl = Client::new();
    let key = cl.tmp.path().join("id_ed25519");
    let gen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "harness-test", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    ok(&gen, "ssh-keygen");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    // Install over a password login, the way hpcinit does on authorized_keys sites.
    let install = format!(
        "umask 077 && mkdir -p ~/.ssh && printf '%s\\n' '{}' >> ~/.ssh/authorized_keys",
        public.trim()
    );
    cl.run(false, PASSWORD_ONLY, &install);
    let prompts_before = cl.prompts().len();
    let key_only =
        ["-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes", "-i"];
    let mut args: Vec<&str> = key_only.to_vec();
    let key_s = key.display().to_string();
    args.push(&key_s);
    let out = cl.run(false, &args, "echo key-login");
    assert_eq!(out.trim(), "key-login");
    assert_eq!(cl.prompts().len(), prompts_before, "a key login asks nothing");
    let log = std::fs::read_to_string(cl.c.var("HPCINIT_SSHD_LOG_PLAIN")).unwrap();
    assert!(log.lines().any(|l| l.contains("Accepted publickey for")), "sshd logged the key login");
    // Leave authorized_keys as it was.
    let fp = public.split_whitespace().nth(1).unwrap().to_string();
    cl.run(
        false,
        PASSWORD_ONLY,
        &format!(
            "grep -vF '{fp}' ~/.ssh/authorized_keys > ~/.ssh/ak.tmp; mv ~/.ssh/ak.tmp ~/.ssh/authorized_keys"
        ),
    );
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn second_factor_is_asked_once_per_connection() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cl = Client::new();
    let before = cl.c.accepted(true);
    for _ in 0..2 {
        assert_eq!(cl.run(true, &[], "echo in").trim(), "in");
    }
    assert_eq!(cl.otp_prompts(), 2, "a code per connection: {:?}", cl.prompts());
    assert_eq!(cl.prompts().iter().filter(|p| p.contains("Password")).count(), 2);
    assert_eq!(cl.c.accepted(true) - before, 2, "two authentications in sshd's log");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn wrong_second_factor_is_refused() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cl = Client::new();
    // A "code" answered with the password: pam_oath refuses it.
    let askpass = cl.tmp.path().join("bad-askpass.sh");
    std::fs::write(&askpass, format!("#!/bin/sh\necho {}\n", cl.c.var("HPCINIT_TEST_PASSWORD"))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = cl
        .ssh(true, &["-o", "NumberOfPasswordPrompts=1"])
        .env("SSH_ASKPASS", &askpass)
        .arg("127.0.0.1")
        .arg("true")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong code must not get in");
}

/// The headline: a ControlMaster session running several commands costs one authentication.
#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn control_master_session_authenticates_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cl = Client::new();
    let before = cl.c.accepted(true);
    let socket = cl.tmp.path().join("cm-%C");
    let cm = format!("ControlPath={}", socket.display());
    let mux = ["-o", "ControlMaster=auto", "-o", &cm, "-o", "ControlPersist=60"];
    for i in 0..6 {
        assert_eq!(cl.run(true, &mux, &format!("echo {i}")).trim(), i.to_string());
    }
    // rsync rides on the same master.
    let src = cl.tmp.path().join("payload");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a file.txt"), "data").unwrap();
    let port = cl.c.port(true);
    let e = format!("ssh -F /dev/null -p {port} -o {cm} -o ControlMaster=no -o BatchMode=yes");
    let rsync = Command::new("rsync")
        .args(["-a", "-e", &e])
        .arg(format!("{}/", src.display()))
        .arg(format!("{}@127.0.0.1:harness-rsync/", cl.c.var("HPCINIT_TEST_USER")))
        .output()
        .unwrap();
    ok(&rsync, "rsync over the master");
    assert_eq!(cl.run(true, &mux, "cat ~/harness-rsync/'a file.txt' && rm -r ~/harness-rsync"), "data");
    let check = cl.ssh(true, &["-o", &cm, "-O", "check"]).arg("127.0.0.1").output().unwrap();
    assert!(check.status.success(), "master alive");
    assert_eq!(cl.c.accepted(true) - before, 1, "8 commands + rsync = 1 authentication in sshd's log");
    assert_eq!(cl.otp_prompts(), 1, "one code typed: {:?}", cl.prompts());
    let _ = cl.ssh(true, &["-o", &cm, "-O", "exit"]).arg("127.0.0.1").output();
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn modules_and_venvs_over_noninteractive_ssh() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cl = Client::new();
    let avail = cl.run(false, PASSWORD_ONLY, "module -t avail 2>&1");
    let alliance = cl.c.var("HPCINIT_MODULE_ALLIANCE");
    let easybuild = cl.c.var("HPCINIT_MODULE_EASYBUILD");
    for m in ["StdEnv/2023", alliance.as_str(), easybuild.as_str()] {
        assert!(avail.lines().any(|l| l == m), "{m} in `module -t avail`:\n{avail}");
    }
    let version = cl.c.var("HPCINIT_PYTHON_VERSION");
    for (n, load) in [(1, format!("StdEnv/2023 {alliance}")), (2, easybuild.clone())] {
        let venv = format!("harness-venv-{n}");
        let script = format!(
            "module purge && module load {load} && python -m venv ~/{venv} && \
             ~/{venv}/bin/python -c 'import sys, platform; print(sys.prefix); print(platform.python_version())' && rm -rf ~/{venv}"
        );
        let out = cl.run(false, PASSWORD_ONLY, &script);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].ends_with(&format!("/{venv}")), "venv is the prefix: {out}");
        assert_eq!(lines[1], version, "python from module {load}");
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn sbatch_job_writes_to_scratch_logs() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cl = Client::new();
    let script = "mkdir -p ~/scratch/logs && cat > ~/harness-job.sh <<'EOF'\n\
#!/bin/bash\n\
#SBATCH --job-name=harness\n\
#SBATCH --time=00:01:00\n\
#SBATCH --mem=50M\n\
#SBATCH --output=scratch/logs/%x-%j.out\n\
echo \"hello from job $SLURM_JOB_ID\"\n\
EOF\n\
id=$(sbatch --parsable --wait ~/harness-job.sh) && cat ~/scratch/logs/harness-$id.out && rm ~/harness-job.sh";
    let out = cl.run(false, PASSWORD_ONLY, script);
    assert!(out.starts_with("hello from job "), "{out}");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn cluster_dir_is_what_up_sh_wrote() {
    let c = Cluster::get();
    assert!(Path::new(&c.var("SLURM_CONF")).is_file());
    assert!(c.dir.join("sshd/plain.conf").is_file() && c.dir.join("sshd/mfa.conf").is_file());
}

/// `hpcinit --site sandbox` / `sandbox-mfa` must describe this cluster as it is.
#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn sandbox_profiles_match_the_cluster() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cl = Client::new();
    let set = hpcinit::profile::ProfileSet::builtin().unwrap();
    let avail = cl.run(false, PASSWORD_ONLY, "module -t avail 2>&1; readlink ~/scratch");
    let user = cl.c.var("HPCINIT_TEST_USER");
    for (name, mfa) in [("sandbox", false), ("sandbox-mfa", true)] {
        let p = set.get(name).unwrap();
        assert!(p.is_test());
        assert_eq!(p.raw.ssh.port.to_string(), cl.c.port(mfa), "{name} port");
        assert_eq!(p.raw.ssh.host.as_str(), "127.0.0.1");
        let mods = p.raw.python.modules.prerequisites.iter().chain(&p.raw.python.modules.known);
        for m in mods {
            assert!(
                avail.lines().any(|l| l == m.as_str()),
                "{name}: module {m} not on the cluster:\n{avail}"
            );
        }
        let scratch = p.raw.storage.scratch.path.value.as_str().replace("{user}", &user);
        assert!(avail.lines().any(|l| l == scratch), "{name}: ~/scratch → {scratch}:\n{avail}");
    }
}
