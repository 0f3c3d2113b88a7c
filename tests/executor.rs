//! `exec::run` without a cluster: a whole bootstrap of every built-in profile against
//! [`FakeCluster`], a scripted `Remote` (named as a fake: it runs nothing; it answers each
//! script from a small model of the cluster), then doctor's and uninstall's exchanges. Each
//! script it receives is compared, byte for byte, with the script the plan built from the facts
//! the fake had reported until then declares (its body and its arguments; only the arguments
//! the run alone knows may follow): what `hpcinit plan` shows is what runs. Scripts the executor
//! starts early (the venv build's head start) run as a local `sh` printing the fake's answer,
//! so the real `Running` collects them. The code copy runs a stand-in `rsync` (`fake-rsync`
//! on the fake's PATH: it records its arguments and what the copy brought along, and answers
//! as the snapshot's finishing script would); each command is compared with the plan's.

use hpcinit::answers::Answers;
use hpcinit::env::Env;
use hpcinit::exchange::Script;
use hpcinit::exec::{run, Context, Options, Replan, Transport};
use hpcinit::local::key::KeyInfo;
use hpcinit::local::requirements::{ProjectPython, Source};
use hpcinit::plan::facts::{FileState, ModuleSystemFound, PathKind, PathState};
use hpcinit::plan::facts::{ModuleSystem, ProbePath};
use hpcinit::plan::script_text::sha256_hex;
use hpcinit::plan::snapshot::CodeFacts;
use hpcinit::plan::{LocalFacts, Plan, RemoteFacts, StepId};
use hpcinit::profile::raw::RegistrationMode;
use hpcinit::profile::{Profile, ProfileSet};
use hpcinit::remote::{KeyQuery, Remote, RemoteError, RemoteOutput, RsyncShell, Running};
use hpcinit::ui::{Prompter, Reporter, ScriptedPrompter, Status, Wait};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// The cluster as a run left it: facts, key installed, the latest snapshot (name, manifest hash).
type Left = (RemoteFacts, bool, Option<(String, String)>);

/// What the fake saw: each script's purpose (`started early: …` for a head start), every
/// difference from the plan, and the cluster as the run left it (for a second run).
#[derive(Default)]
struct Seen {
    purposes: Vec<String>,
    mismatches: Vec<String>,
    /// The cluster as the run left it: facts, key installed, the latest snapshot.
    cluster: Option<Left>,
    /// How many scripts had arrived when the background key query started.
    key_query_after: Option<usize>,
}

/// A fake cluster: facts it reports, what it changes when a step's script arrives.
struct FakeCluster<'a> {
    profile: &'a Profile,
    answers: &'a Answers,
    local: &'a LocalFacts,
    facts: RemoteFacts,
    /// Reported at least once: the plan is built from `facts`, else from nothing.
    probed: bool,
    key_installed: bool,
    /// The test job's token, as sent.
    token: String,
    /// Fail the Python build (`fail install`) instead of building.
    fail_build: bool,
    /// The server does not take the key even once it is in authorized_keys.
    refuse_key: bool,
    open: bool,
    /// The snapshot `latest` names and its manifest's hash, once one was made.
    snapshot: Option<(String, String)>,
    /// The manifest hash the last finalizing script was sent with.
    finalized_sha: String,
    /// How many times the session's job was followed.
    follows: usize,
    /// Where the stand-in rsync keeps its records (and finds itself as `rsync`).
    rsync_log: std::path::PathBuf,
    seen: Rc<RefCell<Seen>>,
}

impl<'a> FakeCluster<'a> {
    fn new(
        profile: &'a Profile,
        answers: &'a Answers,
        local: &'a LocalFacts,
        seen: Rc<RefCell<Seen>>,
    ) -> Self {
        let plan = hpcinit::plan::build(profile, answers, local, None).expect("plan");
        let probe = plan.probe().expect("probe step");
        let python = plan.python().expect("python step");
        let mut facts = RemoteFacts {
            user: answers.user.clone(),
            home: "/home/alice".into(),
            shell: "/bin/bash".into(),
            module_system: ModuleSystemFound { kind: ModuleSystem::Lmod, version: "8.7".into() },
            module_lines: Some(python.loads.clone()),
            commands: probe.request.commands.clone(),
            ..Default::default()
        };
        for v in &probe.request.env {
            facts.env.insert(v.clone(), "/scratch/alice".into());
        }
        for (key, _) in &probe.request.paths {
            facts.paths.insert(*key, PathState::default());
        }
        for key in [ProbePath::SiteScratch, ProbePath::EnvScratch] {
            facts.paths.insert(key, dir("/scratch/alice"));
        }
        facts.paths.insert(ProbePath::VenvParent, dir("/home/alice/venvs"));
        for f in &probe.request.files {
            facts.files.insert(f.clone(), None);
        }
        FakeCluster {
            profile,
            answers,
            local,
            facts,
            probed: false,
            key_installed: false,
            token: String::new(),
            fail_build: false,
            refuse_key: false,
            open: false,
            snapshot: None,
            finalized_sha: String::new(),
            follows: 0,
            rsync_log: std::path::PathBuf::new(),
            seen,
        }
    }

    /// The hash the finalizing script was asked to check the copy against.
    fn copied_manifest_sha(&self) -> String {
        self.finalized_sha.clone()
    }

    /// `latest` as the probe reports it once a snapshot was made.
    fn record_snapshot(&mut self) {
        let Some((name, sha)) = self.snapshot.clone() else { return };
        let Some(sync) = self.plan().sync().cloned() else { return };
        self.facts.paths.insert(ProbePath::SnapshotLatest, link(&name));
        let state = FileState { sha, recorded: None, rest: None };
        self.facts.files.insert(format!("{}/latest/.hpcinit-manifest", sync.snapshots), Some(state));
    }

    /// The plan as the executor has it now: built from what this fake reported.
    fn plan(&self) -> Plan {
        let facts = self.probed.then_some(&self.facts);
        hpcinit::plan::build(self.profile, self.answers, self.local, facts)
            .expect("plan from the fake's facts")
    }

    fn probe_line(&mut self) -> String {
        self.probed = true;
        format!("@@hpcinit:probe {}\n", serde_json::to_string(&self.facts).expect("facts serialize"))
    }

    /// The script of the plan that one with this purpose must be (the run may append its own
    /// arguments), from the current plan.
    fn expected(&self, purpose: &str) -> Option<Script> {
        let plan = self.plan();
        let reg = plan.register_key();
        let sync = plan.sync();
        Some(match purpose {
            "probe" => plan.probe()?.script(),
            "look for the key in ~/.ssh/authorized_keys" => reg?.check_script.clone()?,
            "add the key to ~/.ssh/authorized_keys" => reg?.remote_script.clone()?,
            "create the directories" => plan.then_probe(&plan.remote_layout()?.script),
            "write the job templates" => plan.then_probe(&plan.job_templates()?.script),
            "build the Python environment" => plan.then_probe(&plan.python()?.script),
            "read the environment" => plan.lock()?.read_script.clone(),
            "submit the test job and wait for it" => plan.check_job()?.script.clone(),
            "look at the code snapshots" => sync?.scripts.check.clone(),
            "prepare the snapshot from hard links" => sync?.scripts.prepare.clone(),
            "check the copy and move latest" => sync?.scripts.finalize.clone(),
            "compare latest with its manifest" => sync?.scripts.verify.clone(),
            "scheduler, quota and imports" => hpcinit::plan::doctor::script(self.profile, &plan),
            "remove the project's files" => hpcinit::plan::uninstall::plan(&plan).script,
            "make the venv ready and submit the Jupyter job" => self.jupyter(&plan).scripts.start,
            "follow the Jupyter job" => self.jupyter(&plan).scripts.wait,
            "cancel the Jupyter job" => self.jupyter(&plan).scripts.cancel,
            "check the environment and submit the session's job" => self.node(&plan).scripts.start,
            "follow the session's job" => self.node(&plan).scripts.wait,
            "look at the session's node from the login node" => self.node(&plan).scripts.look,
            "cancel the session's job" => self.node(&plan).scripts.cancel,
            _ => return None,
        })
    }

    fn node(&self, plan: &Plan) -> hpcinit::plan::node::NodePlan {
        use hpcinit::plan::node;
        node::plan(plan, self.profile, &Default::default(), node::Purpose::Code, node::block_of(plan))
    }

    /// A node name the profile's patterns match.
    fn node_name(&self) -> String {
        let plan = self.plan();
        let p = self.node(&plan).patterns.first().cloned().unwrap_or_else(|| "node1".into());
        p.replace(['*', '?'], "1")
    }

    fn jupyter(&self, plan: &Plan) -> hpcinit::plan::jupyter::JupyterPlan {
        hpcinit::plan::jupyter::plan(plan, self.profile, &Default::default())
    }

    /// Whether the arguments the run appended to the plan's are the ones it may append.
    fn run_arguments_fit(&mut self, purpose: &str, extra: &[String]) -> bool {
        let hex = |s: &str, n: usize| s.len() >= n && s.chars().all(|c| c.is_ascii_hexdigit());
        match purpose {
            "look for the key in ~/.ssh/authorized_keys" | "add the key to ~/.ssh/authorized_keys" => {
                extra == [public_key()]
            }
            "submit the test job and wait for it" => {
                self.token = extra.first().cloned().unwrap_or_default();
                extra.len() == 2 && hex(&self.token, 16) && extra[1] == "10"
            }
            "build the Python environment" => extra.is_empty() || extra == ["replace"],
            "look at the code snapshots" => extra.is_empty() || extra == ["with_manifest"],
            // The manifest's hash, the name's suffix, the patch (three words and four a file),
            // then the marker's lines.
            "check the copy and move latest" => {
                self.finalized_sha = extra.first().cloned().unwrap_or_default();
                extra.len() >= 5
                    && hex(&extra[0], 64)
                    && extra[4].parse::<usize>().is_ok_and(|n| extra.len() >= 5 + 4 * n)
            }
            "scheduler, quota and imports" => extra.is_empty() || extra == ["imports"],
            // How long the start follows the job; the job's id, the last place seen, how long.
            "make the venv ready and submit the Jupyter job" => extra == ["5"],
            "follow the Jupyter job" => {
                extra.len() == 3 && extra[0] == "42" && extra[1].starts_with("PENDING|") && extra[2] == "20"
            }
            "cancel the Jupyter job" => extra == ["42"],
            "check the environment and submit the session's job" => extra == ["5"],
            // Until the node runs the job, then (VS Code not installed here) until its end.
            "follow the session's job" => {
                self.follows += 1;
                extra.len() == 4
                    && extra[0] == "42"
                    && extra[2] == "20"
                    && if self.follows == 1 {
                        extra[3] == "node"
                    } else {
                        extra[3] == "end" && extra[1] == "-"
                    }
            }
            "look at the session's node from the login node" => {
                extra == [self.node_name(), "1".into(), "-".into()]
            }
            "cancel the session's job" => extra == ["42"],
            _ => extra.is_empty(),
        }
    }

    /// Checks `script` against the plan, notes it, and answers it.
    fn receive(&mut self, script: &Script, early: bool) -> RemoteOutput {
        let purpose = script.purpose.clone();
        let want = self.expected(&purpose);
        let fits = match &want {
            Some(w) => {
                let planned = w.args();
                let same = w.body() == script.body()
                    && w.login == script.login
                    && script.args().starts_with(planned);
                same && self.run_arguments_fit(&purpose, &script.args()[planned.len()..])
            }
            None => false,
        };
        let mut seen = self.seen.borrow_mut();
        match want {
            Some(_) if fits => {}
            Some(want) => seen.mismatches.push(format!(
                "{purpose}: sent\n{}\n{:?}\nbut the plan says\n{}\n{:?}",
                script.body(),
                script.args(),
                want.body(),
                want.args()
            )),
            None => seen.mismatches.push(format!("{purpose}: no step of the plan sends it")),
        }
        seen.purposes.push(if early { format!("started early: {purpose}") } else { purpose.clone() });
        drop(seen);
        let out = self.answer(&purpose);
        self.seen.borrow_mut().cluster =
            Some((self.facts.clone(), self.key_installed, self.snapshot.clone()));
        out
    }

    fn answer(&mut self, purpose: &str) -> RemoteOutput {
        let ok = |stdout: String| RemoteOutput { status: 0, stdout, stderr: String::new() };
        match purpose {
            "look for the key in ~/.ssh/authorized_keys" => ok(format!(
                "@@hpcinit:key {}\n@@hpcinit:home drwx------ 5 alice alice 4096 Jan 1 00:00 /home/alice\n",
                if self.key_installed { "present" } else { "absent" }
            )),
            "add the key to ~/.ssh/authorized_keys" => {
                self.key_installed = true;
                ok("@@hpcinit:home drwx------ 5 alice alice 4096 Jan 1 00:00 /home/alice\n".into())
            }
            "look at the code snapshots" => ok(format!(
                "@@hpcinit:scratch yes\n@@hpcinit:latest {}\n@@hpcinit:count 1\n",
                self.snapshot.clone().map(|(n, sha)| format!("{n} {sha}")).unwrap_or("-".into())
            )),
            "check the copy and move latest" => {
                let name = "20260101T000000Z".to_string();
                self.snapshot = Some((name.clone(), self.copied_manifest_sha()));
                self.record_snapshot();
                ok(format!("@@hpcinit:snapshot {name}\n"))
            }
            "compare latest with its manifest" => {
                let (name, sha) = self.snapshot.clone().unwrap_or_default();
                ok(format!("@@hpcinit:verify {name} {sha} {sha}\n"))
            }
            "scheduler, quota and imports" => ok(
                "@@hpcinit:scheduler-ok 0\n@@hpcinit:quota-line fine\n@@hpcinit:quota-exit 0\n@@hpcinit:import numpy 2.0.0\n@@hpcinit:venv-exit 0\n".into(),
            ),
            "remove the project's files" => ok("@@hpcinit:removed /home/alice/venvs/demo\n".into()),
            "probe" => ok(self.probe_line()),
            "create the directories" => {
                let mut scratch = link("/scratch/alice");
                scratch.real = Some("/scratch/alice".into());
                self.facts.paths.insert(ProbePath::HomeScratch, scratch);
                self.facts.paths.insert(ProbePath::Sbatch, dir("/home/alice/sbatch"));
                self.facts.paths.insert(ProbePath::Logs, dir("/scratch/alice/logs"));
                self.facts.paths.insert(ProbePath::Snapshots, dir("/scratch/alice/code-snapshots"));
                ok(self.probe_line())
            }
            "write the job templates" => {
                for f in &self.plan().job_templates().expect("templates").files {
                    let state = FileState { sha: sha256_hex(&f.text), recorded: None, rest: None };
                    self.facts.files.insert(f.path.clone(), Some(state));
                }
                ok(self.probe_line())
            }
            "build the Python environment" if self.fail_build => RemoteOutput {
                status: 1,
                stdout: "@@hpcinit:phase install\nERROR: No matching distribution found for numpy\n@@hpcinit:fail install\n"
                    .into(),
                stderr: String::new(),
            },
            "build the Python environment" => {
                let sha = self.plan().python().expect("python").inputs_sha.clone();
                let mut venv = link(".demo.hpcinit-1");
                venv.real = Some("/home/alice/venvs/.demo.hpcinit-1".into());
                self.facts.paths.insert(ProbePath::Venv, venv);
                self.facts.venv_marker = Some(sha);
                let tags = "@@hpcinit:phase verify\n@@hpcinit:python 3.11.9\n@@hpcinit:module Python/3.11\n@@hpcinit:freeze numpy==2.0.0\n@@hpcinit:import numpy 2.0.0\n@@hpcinit:done 20260101T000000Z\n";
                ok(format!("{tags}{}", self.probe_line()))
            }
            "make the venv ready and submit the Jupyter job" => ok(
                "@@hpcinit:jupyter present 4.6.6\n@@hpcinit:job 42\n@@hpcinit:where PENDING|Priority|60|-\n".into(),
            ),
            // A server without a token: the session must cancel it.
            "follow the Jupyter job" => ok(
                "@@hpcinit:where RUNNING|None|-|node1\n@@hpcinit:server {\"hostname\": \"node1\", \"port\": 8888, \"token\": \"\", \"base_url\": \"/\"}\n".into(),
            ),
            "cancel the Jupyter job" => ok("@@hpcinit:cancelled 42\n".into()),
            "check the environment and submit the session's job" => {
                ok("@@hpcinit:job 42\n@@hpcinit:where PENDING|Priority|60|-\n".into())
            }
            "follow the session's job" if self.follows == 1 => {
                ok(format!("@@hpcinit:where RUNNING|None|-|{}\n", self.node_name()))
            }
            "follow the session's job" => ok("@@hpcinit:ended JobState=TIMEOUT\n".into()),
            "look at the session's node from the login node" => ok(
                "@@hpcinit:place /home/alice/scratch/code-snapshots/demo/latest|/scratch/alice\n@@hpcinit:hostkey scan ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO\n".into(),
            ),
            "cancel the session's job" => ok("@@hpcinit:cancelled 42\n".into()),
            "submit the test job and wait for it" => ok(format!(
                "@@hpcinit:job 42\n@@hpcinit:state RUNNING None\n@@hpcinit:final JobState=COMPLETED ExitCode=0:0\n@@hpcinit:log /scratch/alice/logs/hpcinit-check-42.out\n@@hpcinit:ok hpcinit-check ok {} on node1\n",
                self.token
            )),
            _ => ok(String::new()),
        }
    }
}

fn dir(path: &str) -> PathState {
    PathState { path: path.into(), kind: PathKind::Dir, real: Some(path.into()), ..Default::default() }
}

fn link(target: &str) -> PathState {
    let real = format!("/scratch/alice/{target}");
    PathState {
        path: "/home/alice/x".into(),
        kind: PathKind::Link,
        target: Some(target.into()),
        real: Some(real),
        ..Default::default()
    }
}

fn public_key() -> String {
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake alice@laptop hpcinit"
        .into()
}

impl Remote for FakeCluster<'_> {
    fn connect(&mut self, _prompter: &mut dyn Prompter) -> Result<bool, RemoteError> {
        self.open = true;
        Ok(false)
    }

    fn is_open(&mut self) -> bool {
        self.open
    }

    fn exec(
        &mut self,
        command: &str,
        _input: &[u8],
        _on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, RemoteError> {
        self.seen.borrow_mut().mismatches.push(format!("a command outside any step's script: {command}"));
        Ok(RemoteOutput { status: 0, stdout: String::new(), stderr: String::new() })
    }

    fn script(
        &mut self,
        script: &Script,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, RemoteError> {
        let out = self.receive(script, false);
        for l in out.stdout.lines() {
            on_line(l);
        }
        Ok(out)
    }

    fn start(&mut self, script: &Script) -> Option<Result<Running, RemoteError>> {
        let out = self.receive(script, true);
        let mut sh = std::process::Command::new("sh");
        sh.args(["-c", &format!("cat; exit {}", out.status)]);
        let classify = Box::new(|e: &str| RemoteError::Protocol { host: "fake".into(), message: e.into() });
        Some(Ok(Running::spawn(sh, out.stdout.as_bytes(), classify).expect("sh runs")))
    }

    fn key_accepted(
        &mut self,
        _key: &std::path::Path,
        _prompter: &mut dyn Prompter,
    ) -> Result<bool, RemoteError> {
        Ok(self.key_installed && !self.refuse_key)
    }

    fn start_key_query(&mut self, _key: &std::path::Path) -> Option<KeyQuery> {
        let accepted = self.key_installed && !self.refuse_key;
        let mut seen = self.seen.borrow_mut();
        seen.key_query_after = Some(seen.purposes.len());
        Some(KeyQuery::spawn(move || Ok(accepted)))
    }

    fn name(&self) -> &'static str {
        "fake"
    }

    /// The copy goes by rsync: the stand-in, first on PATH.
    fn rsync_shell(&self) -> Option<RsyncShell> {
        let bin = self.rsync_log.join("bin");
        std::fs::create_dir_all(&bin).ok()?;
        let fake = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-rsync");
        if !bin.join("rsync").exists() {
            std::os::unix::fs::symlink(fake, bin.join("rsync")).ok()?;
        }
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let vars = BTreeMap::from([
            ("PATH".to_string(), path),
            ("FAKE_RSYNC_LOG".to_string(), self.rsync_log.display().to_string()),
        ]);
        Some(RsyncShell { vars })
    }
}

/// Takes every report and keeps the lines.
#[derive(Default)]
struct Lines(Vec<String>);

struct NoWait;
impl Wait for NoWait {
    fn update(&mut self, _message: &str) {}
}

impl Reporter for Lines {
    fn begin(&mut self, _index: usize, _total: usize, title: &str) {
        self.0.push(format!("begin {title}"));
    }
    fn detail(&mut self, line: &str) {
        self.0.push(format!("detail {line}"));
    }
    fn end(&mut self, status: Status, line: &str) {
        self.0.push(format!("end {status:?} {line}"));
    }
    fn wait(&mut self, _message: &str) -> Box<dyn Wait> {
        Box::new(NoWait)
    }
    fn progress(&mut self, _message: &str, _total: u64) -> Box<dyn Wait> {
        Box::new(NoWait)
    }
    fn trace(&mut self, line: &str) {
        self.0.push(format!("trace {line}"));
    }
}

struct Laptop {
    home: tempfile::TempDir,
    env: Env,
}

impl Laptop {
    fn new() -> Laptop {
        let home = tempfile::tempdir().expect("temp home");
        let mut vars = BTreeMap::new();
        vars.insert("HOME".to_string(), home.path().display().to_string());
        vars.insert("PATH".to_string(), std::env::var("PATH").unwrap_or_default());
        let env = Env {
            home: home.path().to_path_buf(),
            cwd: home.path().to_path_buf(),
            vars,
            stdin_tty: false,
            stdout_tty: false,
            account_home: None,
        };
        Laptop { home, env }
    }

    fn answers(&self, profile: &Profile) -> Answers {
        Answers {
            user: "alice".into(),
            account: profile.raw.scheduler.account.as_ref().map(|a| a.example.value.clone()),
            project_dir: self.home.path().join("demo"),
            project_name: "demo".into(),
            python: None,
            check_job: true,
            sync: Default::default(),
            lock: Default::default(),
            allow_upgrades: false,
            no_project: false,
            windows_ssh: false,
            job_directives: Vec::new(),
            course_data: None,
        }
    }

    fn local(&self) -> LocalFacts {
        LocalFacts {
            home: self.home.path().display().to_string(),
            key_path: "~/.ssh/id_ed25519_hpcinit".into(),
            key_exists: true,
            key_chosen: false,
            python: ProjectPython {
                source: Source::RequirementsTxt,
                lines: vec!["numpy".into()],
                skipped: vec![],
                requires_python: None,
            },
            code: CodeFacts {
                root: self.home.path().join("demo").display().to_string(),
                ..Default::default()
            },
            lock: None,
            program: "hpcinit".into(),
            ..Default::default()
        }
    }

    /// The stand-in rsync's records.
    fn rsync_log(&self) -> std::path::PathBuf {
        self.home.path().join("fake-rsync")
    }
}

fn options() -> Options {
    Options {
        transport: Transport::Ssh,
        accept_new_host_key: false,
        no_passphrase: true,
        passphrase_file: None,
        wait_for_key: Duration::from_secs(0),
        poll: Duration::from_secs(1),
        on_existing: None,
        job_timeout: Duration::from_secs(10),
    }
}

/// The steps that run against the fake: all but the host-key read (a real key exchange, which
/// the cluster tests cover).
const STEPS: &[StepId] = &[
    StepId::Connect,
    StepId::RegisterKey,
    StepId::Probe,
    StepId::RemoteLayout,
    StepId::JobTemplates,
    StepId::Python,
    StepId::Lock,
    StepId::Sync,
    StepId::CheckJob,
];

struct Outcome<E = hpcinit::exec::StepFailed> {
    result: Result<(), E>,
    seen: Seen,
    lines: Vec<String>,
    round_trips: usize,
}

fn bootstrap(profile: &Profile, laptop: &Laptop, fail_build: bool) -> Outcome {
    bootstrap_from(profile, laptop, fail_build, None, false)
}

/// A bootstrap on a cluster left as `cluster` says (facts, key installed) by an earlier run.
fn bootstrap_from(
    profile: &Profile,
    laptop: &Laptop,
    fail_build: bool,
    cluster: Option<Left>,
    refuse_key: bool,
) -> Outcome {
    against_fake(
        profile,
        laptop,
        |fake| {
            fake.fail_build = fail_build;
            fake.refuse_key = refuse_key;
            if let Some((facts, key_installed, snapshot)) = cluster {
                (fake.facts, fake.key_installed, fake.snapshot) = (facts, key_installed, snapshot);
            }
        },
        |cx| run(cx, STEPS),
    )
}

/// `body` run with a context over a [`FakeCluster`] made for `profile` (a project with one file,
/// the key in use, on a portal site pasted there already) and changed by `setup`.
fn against_fake<T>(
    profile: &Profile,
    laptop: &Laptop,
    setup: impl FnOnce(&mut FakeCluster),
    body: impl FnOnce(&mut Context) -> Result<(), T>,
) -> Outcome<T> {
    let answers = laptop.answers(profile);
    let local = laptop.local();
    std::fs::create_dir_all(&answers.project_dir).expect("project dir");
    std::fs::write(answers.project_dir.join("main.py"), "print('hi')\n").expect("a file of the project");
    std::fs::create_dir_all(laptop.rsync_log()).expect("fake rsync's records");
    let seen = Rc::new(RefCell::new(Seen::default()));
    let mut fake = FakeCluster::new(profile, &answers, &local, seen.clone());
    fake.key_installed = profile.raw.key_registration.mode.value == RegistrationMode::Portal;
    fake.rsync_log = laptop.rsync_log();
    setup(&mut fake);
    let options = options();
    let mut prompter = ScriptedPrompter::default();
    let mut lines = Lines::default();
    let plan = hpcinit::plan::build(profile, &answers, &local, None).expect("plan");
    let replan: Replan = Box::new(|facts| hpcinit::plan::build(profile, &answers, &local, facts));
    let (result, round_trips) = {
        let mut cx = Context::new(&laptop.env, plan, replan, &options, &mut prompter, &mut lines)
            .with_remote(Box::new(fake));
        cx.key = Some(key_info(laptop));
        let result = body(&mut cx);
        (result, cx.round_trips)
    };
    let seen = Rc::try_unwrap(seen).map(RefCell::into_inner).unwrap_or_default();
    Outcome { result, seen, lines: lines.0, round_trips }
}

#[test]
fn every_script_sent_is_the_plans_text_for_every_builtin_profile() {
    let set = ProfileSet::builtin().expect("built-in profiles");
    let mut profiles = 0;
    for profile in set.iter() {
        let laptop = Laptop::new();
        let out = bootstrap(profile, &laptop, false);
        let name = profile.name();
        assert!(out.result.is_ok(), "{name}: {:?}\n{}", out.result.err(), out.lines.join("\n"));
        assert!(out.seen.mismatches.is_empty(), "{name}: {}", out.seen.mismatches.join("\n\n"));
        let p = &out.seen.purposes;
        // The probe comes first, and a key registered after the sign-in follows the venv
        // build's start: the longest step does not wait for it.
        let reg = &profile.raw.key_registration;
        let authorized = reg.mode.value == RegistrationMode::AuthorizedKeys;
        let before_login = authorized && reg.required_before_login;
        assert_eq!(
            p.first().map(String::as_str),
            Some(if before_login { "look for the key in ~/.ssh/authorized_keys" } else { "probe" }),
            "{name}: {p:?}"
        );
        if authorized && !before_login {
            let key = p.iter().position(|x| x == "look for the key in ~/.ssh/authorized_keys");
            let build = p.iter().position(|x| x == "started early: build the Python environment");
            assert!(key.is_some() && build < key, "{name}: the build starts before the key step: {p:?}");
        }
        for must in [
            "probe",
            "create the directories",
            "write the job templates",
            "started early: build the Python environment",
            "submit the test job and wait for it",
        ] {
            assert!(p.iter().any(|x| x == must), "{name}: {must} was not sent: {p:?}");
        }
        // The head start: the build starts right after the probe, before the directories, and
        // its result is still reported in the plan's order, as built in this run.
        let at = |purpose: &str| p.iter().position(|x| x == purpose);
        assert!(
            at("started early: build the Python environment") < at("create the directories"),
            "{name}: {p:?}"
        );
        let python = out.lines.iter().position(|l| l == "begin Python environment").expect("python step");
        let layout = out.lines.iter().position(|l| l.starts_with("begin ") && l.contains("irector"));
        assert!(layout.is_some_and(|l| l < python), "{name}: {:?}", out.lines);
        assert!(
            out.lines[python..]
                .iter()
                .find(|l| l.starts_with("end "))
                .is_some_and(|l| l.starts_with("end Done")),
            "{name}: the build started early is reported as built: {:?}",
            out.lines
        );
        // The code copy: the plan's rsync command, run by the stand-in, then the plan's
        // finalizing script (the copy started early, while the environment built).
        let plan = plan_for(profile, &laptop);
        let copies = rsync_runs(&laptop, &plan);
        assert!(!copies.is_empty(), "{name}: rsync never ran: {p:?}");
        assert!(p.iter().any(|x| x == "check the copy and move latest"), "{name}: {p:?}");
        assert_eq!(out.round_trips, p.len() + copies.len(), "{name}: every round trip is one script or copy");
        // The lock describes what the fake built.
        let lock =
            std::fs::read_to_string(laptop.home.path().join("demo/hpcinit.lock")).expect("lock written");
        assert!(lock.contains("numpy==2.0.0") && lock.contains("3.11.9"), "{name}: {lock}");
        profiles += 1;
    }
    assert_eq!(profiles, set.iter().count());
    assert!(profiles >= 13, "every built-in profile: {profiles}");
}

fn key_info(laptop: &Laptop) -> KeyInfo {
    KeyInfo {
        path: laptop.home.path().join(".ssh/id_ed25519_hpcinit"),
        public: public_key(),
        fingerprint: "SHA256:fake".into(),
        algorithm: "ssh-ed25519".into(),
        encrypted: false,
    }
}

/// The plan of a finished bootstrap (the rsync command and the snapshot's scripts depend on
/// nothing the probe finds).
fn plan_for(profile: &Profile, laptop: &Laptop) -> Plan {
    hpcinit::plan::build(profile, &laptop.answers(profile), &laptop.local(), None).expect("plan")
}

/// Each command the stand-in rsync ran, checked against the plan's: the same words, but the
/// sidecar directory in place of `{sidecar}/` (or none, for a copy started early) and the
/// progress flag after `--stats`. Returns each run's records: (arguments, finishing script).
fn rsync_runs(laptop: &Laptop, plan: &Plan) -> Vec<(Vec<String>, Option<String>)> {
    let planned = &plan.sync().expect("a sync step").rsync;
    let log = laptop.rsync_log();
    let mut runs = Vec::new();
    for n in 0.. {
        let Ok(argv) = std::fs::read_to_string(log.join(format!("argv.{n}"))) else { break };
        let argv: Vec<String> = argv.lines().map(String::from).collect();
        let finish = std::fs::read_to_string(log.join(format!("finish.{n}"))).ok();
        let stdin = std::fs::read(log.join(format!("stdin.{n}"))).expect("standard input");
        if argv.iter().any(|a| a == "--files-from=-") {
            // A copy of what changed since the last snapshot: the plan's command without
            // recursion, deletion and exclude rules, from `/`, the list on standard input.
            let dropped = ["--recursive", "--delete", "--delete-excluded", "--exclude-from=-"];
            for d in dropped.iter().chain(&[hpcinit::plan::snapshot::SIDECAR]) {
                assert!(!argv.iter().any(|a| a == d), "run {n}: {d} in a copy of the changes: {argv:?}");
            }
            assert_eq!(argv[0], "--ignore-times", "run {n}: every listed file's content compared");
            assert_eq!(argv[1], "--force", "run {n}: a file may replace a directory");
            assert_eq!(argv[argv.len() - 2], "/", "run {n}: {argv:?}");
            assert_eq!(argv.last(), planned.last(), "run {n}: the destination is the plan's");
            let list: Vec<&[u8]> = stdin.split(|b| *b == 0).filter(|e| !e.is_empty()).collect();
            assert!(list.iter().all(|e| e.windows(3).any(|w| w == b"/./")), "run {n}: DIR/./NAME entries");
            assert!(finish.is_some(), "run {n}: the finishing script came in the list");
            runs.push((argv, finish));
            continue;
        }
        let mut want: Vec<String> = Vec::new();
        for a in &planned[1..] {
            if a == hpcinit::plan::snapshot::SIDECAR {
                if finish.is_some() {
                    let sidecar = argv.iter().find(|x| x.ends_with('/') && x.contains("hpcinit"));
                    want.push(sidecar.cloned().unwrap_or_else(|| "<no sidecar given>".into()));
                }
                continue;
            }
            want.push(a.clone());
            if a == "--stats" {
                want.push("--info=progress2".into());
            }
        }
        assert_eq!(argv, want, "run {n}: the rsync command run is the plan's");
        let rules = stdin;
        let root = std::path::Path::new(&plan.sync().expect("sync").root);
        let scan = hpcinit::local::project::scan(root, &[]).expect("the project lists");
        assert_eq!(
            rules,
            scan.rsync_excludes().unwrap(),
            "run {n}: the exclude rules came on standard input"
        );
        runs.push((argv, finish));
    }
    runs
}

#[test]
fn a_sync_alone_sends_the_plans_finishing_script_with_the_copy() {
    // `hpcinit sync`: no probe, so no head start; the copy brings the finishing script along.
    let set = ProfileSet::builtin().expect("built-in profiles");
    for profile in set.iter() {
        let name = profile.name();
        let laptop = Laptop::new();
        let out = against_fake(profile, &laptop, |fake| fake.open = true, |cx| run(cx, &[StepId::Sync]));
        assert!(out.result.is_ok(), "{name}: {:?}\n{}", out.result.err(), out.lines.join("\n"));
        assert!(out.seen.mismatches.is_empty(), "{name}: {}", out.seen.mismatches.join("\n\n"));
        let plan = plan_for(profile, &laptop);
        let runs = rsync_runs(&laptop, &plan);
        assert_eq!(runs.len(), 1, "{name}: one copy");
        let finish = runs[0].1.as_deref().expect("the finishing script came along");
        // The plan's finishing script: its text, the plan's arguments, then the copy's own
        // (the manifest's hash, the suffix, the marker).
        let planned = &plan.sync().expect("sync").scripts.finish;
        let call = finish.lines().rev().find(|l| l.starts_with("hpcinit_main ")).expect("the call line");
        assert!(finish.starts_with(&planned.definition()), "{name}: the finishing script is the plan's");
        assert!(call.starts_with(&format!("{} ", planned.call())), "{name}: {call}");
        let manifest = std::fs::read(laptop.rsync_log().join("manifest.0")).expect("manifest came along");
        let sha = hpcinit::local::manifest::hex_sha256(&manifest);
        assert!(call.contains(&sha), "{name}: checked against the manifest sent: {call}");
        let done = out.lines.iter().any(|l| l.starts_with("end Done") && l.contains("20260101T000000Z"));
        assert!(done, "{name}: {:?}", out.lines);
    }
}

#[test]
fn doctor_and_uninstall_send_the_scripts_their_plans_show() {
    let set = ProfileSet::builtin().expect("built-in profiles");
    for profile in set.iter() {
        let name = profile.name();
        let laptop = Laptop::new();
        let first = bootstrap(profile, &laptop, false);
        assert!(first.result.is_ok(), "{name}: {:?}", first.result.err());
        let (facts, key, snapshot) =
            first.seen.cluster.clone().expect("the cluster as the bootstrap left it");
        assert!(snapshot.is_some(), "{name}: the bootstrap made a snapshot");
        let mut rows = Vec::new();
        let mut removed = Vec::new();
        let out = against_fake(
            profile,
            &laptop,
            |fake| {
                (fake.facts, fake.key_installed, fake.snapshot) = (facts, key, snapshot);
                fake.record_snapshot();
            },
            |cx| {
                rows = hpcinit::commands::doctor::cluster_rows(cx, profile);
                let script = hpcinit::plan::uninstall::plan(&cx.plan).script;
                removed = hpcinit::commands::uninstall::on_cluster(cx, &script).map_err(|e| e.to_string())?;
                Ok::<(), String>(())
            },
        );
        assert!(out.result.is_ok(), "{name}: {:?}", out.result.err());
        assert!(out.seen.mismatches.is_empty(), "{name}: {}", out.seen.mismatches.join("\n\n"));
        let p = &out.seen.purposes;
        for must in [
            "probe",
            "compare latest with its manifest",
            "scheduler, quota and imports",
            "remove the project's files",
        ] {
            assert!(p.iter().any(|x| x == must), "{name}: {must} was not sent: {p:?}");
        }
        let failed: Vec<String> = rows
            .iter()
            .filter(|r| r.status != hpcinit::commands::doctor::Verdict::Ok)
            .map(|r| format!("{}: {}", r.check, r.detail))
            .collect();
        assert!(
            failed.is_empty(),
            "{name}: on the cluster the bootstrap left, every check passes: {failed:?}"
        );
        assert_eq!(removed, ["/home/alice/venvs/demo on the cluster"]);
    }
}

/// `hpcinit jupyter`'s exchanges are the plan's (`jupyter --dry-run` shows them), with only
/// the run's own values appended; a server that runs without a token is cancelled.
#[test]
fn the_jupyter_session_sends_the_scripts_its_plan_shows() {
    let set = ProfileSet::builtin().expect("built-in profiles");
    for profile in set.iter() {
        let name = profile.name();
        let laptop = Laptop::new();
        let options = hpcinit::exec::jupyter_session::SessionOptions {
            persist: false,
            no_browser: true,
            wait_timeout: std::time::Duration::from_secs(600),
            port: None,
            job: None,
            project: "demo".into(),
            project_dir: None,
        };
        let out = against_fake(
            profile,
            &laptop,
            |_| {},
            |cx| {
                let jp = hpcinit::plan::jupyter::plan(&cx.plan, profile, &Default::default());
                hpcinit::exec::jupyter_session::run(cx, &jp, &options).map_err(|e| e.to_string())
            },
        );
        assert!(out.seen.mismatches.is_empty(), "{name}: {}", out.seen.mismatches.join("\n\n"));
        let err = out.result.expect_err("a server without a token is refused");
        assert!(err.contains("runs without a token"), "{name}: {err}");
        let p: Vec<&str> =
            out.seen.purposes.iter().map(|x| x.trim_start_matches("started early: ")).collect();
        assert_eq!(
            p,
            [
                "make the venv ready and submit the Jupyter job",
                "follow the Jupyter job",
                "cancel the Jupyter job"
            ],
            "{name}"
        );
    }
}

/// `hpcinit code` for every built-in profile: where the plan reaches nodes, the start, follow,
/// look and cancel exchanges are the plan's byte for byte with only the run's values appended,
/// the node's host key is recorded under its name, and (VS Code not being installed here) the
/// job is held until its end, then cancelled; elsewhere nothing is sent and the reason is given.
#[test]
fn the_node_session_sends_the_scripts_its_plan_shows() {
    use hpcinit::plan::node::{self, Purpose, RouteKind};
    let set = ProfileSet::builtin().expect("built-in profiles");
    for profile in set.iter() {
        let name = profile.name();
        let laptop = Laptop::new();
        let options = hpcinit::exec::node_session::NodeOptions {
            persist: false,
            wait_timeout: std::time::Duration::from_secs(600),
            job: None,
            project: "demo".into(),
            path: None,
            command: Vec::new(),
            settings: Some(false),
        };
        let mut route = None;
        let out = against_fake(
            profile,
            &laptop,
            |_| {},
            |cx| {
                let np = node::plan(
                    &cx.plan,
                    profile,
                    &Default::default(),
                    Purpose::Code,
                    node::block_of(&cx.plan),
                );
                route = Some(np.route.kind);
                match hpcinit::exec::node_session::run(cx, &np, &options) {
                    Ok(0) => Ok(()),
                    Ok(n) => Err(format!("status {n}")),
                    Err(e) => Err(e.to_string()),
                }
            },
        );
        assert!(out.seen.mismatches.is_empty(), "{name}: {}", out.seen.mismatches.join("\n\n"));
        if route != Some(RouteKind::SshNode) {
            let err = out.result.expect_err("no way to a node");
            assert!(err.contains("not possible at"), "{name}: {err}");
            assert!(out.seen.purposes.is_empty(), "{name}: {:?}", out.seen.purposes);
            continue;
        }
        assert_eq!(out.result, Ok(()), "{name}: {}", out.lines.join("\n"));
        let p: Vec<&str> =
            out.seen.purposes.iter().map(|x| x.trim_start_matches("started early: ")).collect();
        assert_eq!(
            p,
            [
                "check the environment and submit the session's job",
                "follow the session's job",
                "look at the session's node from the login node",
                "follow the session's job",
                "cancel the session's job"
            ],
            "{name}"
        );
        let known = std::fs::read_to_string(laptop.home.path().join(".ssh/known_hosts.d/hpcinit")).unwrap();
        assert!(
            known.contains(&format!(" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO hpcinit-node:{name}\n")),
            "{name}: {known}"
        );
    }
}

#[test]
fn a_second_run_leaves_the_lock_file_as_it_is() {
    let set = ProfileSet::builtin().expect("built-in profiles");
    let profile = set.get("sandbox").expect("sandbox");
    let laptop = Laptop::new();
    assert!(bootstrap(profile, &laptop, false).result.is_ok());
    // A fresh fake builds the same environment again: the lock step finds its file already
    // describing it (what a re-run sees on a real cluster is in the cluster tests).
    let lock = laptop.home.path().join("demo/hpcinit.lock");
    let before = std::fs::read(&lock).expect("lock");
    let out = bootstrap(profile, &laptop, false);
    assert!(out.result.is_ok(), "{:?}\n{}", out.result, out.lines.join("\n"));
    assert_eq!(
        std::fs::read(&lock).expect("lock"),
        before,
        "the lock is rewritten only when the environment changes"
    );
    assert!(
        out.lines.iter().any(|l| l.starts_with("end Unchanged") && l.contains("hpcinit.lock")),
        "{:?}",
        out.lines
    );
}

#[test]
fn a_failing_step_stops_the_run_and_later_steps_do_not_start() {
    let set = ProfileSet::builtin().expect("built-in profiles");
    let profile = set.get("sandbox").expect("sandbox");
    let laptop = Laptop::new();
    let out = bootstrap(profile, &laptop, true);
    let err = out.result.expect_err("the build fails");
    assert!(err.to_string().contains("Python environment"), "{err}");
    assert!(out.lines.iter().any(|l| l.starts_with("end Failed")), "{:?}", out.lines);
    assert!(!out.lines.iter().any(|l| l == "begin Lock file"), "no step after the failure: {:?}", out.lines);
    assert!(!laptop.home.path().join("demo/hpcinit.lock").exists(), "nothing half-done is written");
}

#[test]
fn a_run_after_a_failure_resumes_where_it_stopped() {
    let set = ProfileSet::builtin().expect("built-in profiles");
    let profile = set.get("sandbox").expect("sandbox");
    let laptop = Laptop::new();
    let first = bootstrap(profile, &laptop, true);
    assert!(first.result.is_err());
    let cluster = first.seen.cluster.clone();
    assert!(cluster.as_ref().is_some_and(|(_, key, _)| *key), "the first run registered the key");
    // The same command again, on the cluster as the first run left it, with the cause fixed.
    let out = bootstrap_from(profile, &laptop, false, cluster, false);
    assert!(out.result.is_ok(), "{:?}\n{}", out.result.err(), out.lines.join("\n"));
    let p = &out.seen.purposes;
    for done_before in
        ["add the key to ~/.ssh/authorized_keys", "create the directories", "write the job templates"]
    {
        assert!(!p.iter().any(|x| x == done_before), "{done_before} was done by the first run: {p:?}");
    }
    assert!(p.iter().any(|x| x.ends_with("build the Python environment")), "{p:?}");
    let unchanged = out.lines.iter().filter(|l| l.starts_with("end Unchanged")).count();
    assert!(unchanged >= 3, "key, directories and templates are unchanged: {:?}", out.lines);
    let lock = std::fs::read_to_string(laptop.home.path().join("demo/hpcinit.lock")).expect("lock written");
    assert!(lock.contains("numpy==2.0.0"), "{lock}");
}

#[test]
fn key_login_is_proven_beside_the_later_steps_and_a_refusal_fails_the_run() {
    let set = ProfileSet::builtin().expect("built-in profiles");
    let profile = set.get("sandbox").expect("sandbox");
    // Taken: the later steps did not wait for the proof, and the run succeeds.
    let laptop = Laptop::new();
    let out = bootstrap(profile, &laptop, false);
    assert!(out.result.is_ok(), "{:?}\n{}", out.result.err(), out.lines.join("\n"));
    let p = &out.seen.purposes;
    let next = p.iter().position(|x| x == "create the directories").expect("the directories");
    assert!(
        out.seen.key_query_after.is_some_and(|n| n <= next),
        "asked before the step after the key's: {p:?}"
    );
    assert!(
        out.lines.iter().any(|l| l.contains("key login is checked beside the next steps")),
        "{:?}",
        out.lines
    );
    // Refused: the run fails in the key step's name, with its hint, after the other steps.
    let laptop = Laptop::new();
    let out = bootstrap_from(profile, &laptop, false, None, true);
    let err = out.result.expect_err("a key the server does not take fails the run");
    assert!(err.title.contains("key") || err.title.contains("Key"), "{}", err.title);
    assert!(err.to_string().contains("key login still fails"), "{err}");
    assert!(out.lines.iter().any(|l| l == "begin Lock file"), "{:?}", out.lines);
}
