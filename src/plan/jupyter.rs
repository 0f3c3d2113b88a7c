//! `hpcinit jupyter`, planned: the job that runs Jupyter Lab on a compute node (the site's
//! interactive defaults, overridden by flags), where it runs (the latest code snapshot, or the
//! project's working directory on scratch), how it is reached and why, and the exchanges that
//! prepare the venv, submit the job, follow it and cancel it: fixed scripts from
//! `jupyter.sh` and `scheduler.sh`, the run's values as arguments. Pure: built from the
//! bootstrap's plan (after the probe, its paths are the cluster's own) and the profile.

use super::job_script::{AccountLine, JobScript};
use super::plan::{Plan, Unverified};
use super::script_text::heredoc;
use crate::exchange::{Script, Tagged};
use crate::profile::raw::SchedulerKind;
use crate::profile::scalar::{Memory, Walltime};
use crate::profile::Profile;
use crate::quote::sh_path;
use serde::{Deserialize, Serialize};

pub const JUPYTER_SH: &str = include_str!("jupyter.sh");
pub const SCHEDULER_SH: &str = super::scheduler::SCHEDULER_SH;

/// The job's name in the queue (`squeue`, `bjobs`).
pub const JOB_NAME: &str = "hpcinit-jupyter";

/// What the person asked for on the command line; `None`: the site's default.
#[derive(Debug, Clone, Default)]
pub struct JupyterRequest {
    pub time: Option<Walltime>,
    pub memory: Option<Memory>,
    pub cpus: Option<u32>,
    pub gpus: Option<u32>,
    pub partition: Option<String>,
    /// Run in the project's working directory on scratch instead of the latest snapshot.
    pub here: bool,
    /// The resources whose value came from a course file, not a flag (`time`, `memory`,
    /// `cpus`, `gpus`).
    pub from_course: Vec<&'static str>,
}

/// One resource of the job and where its value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chosen<T> {
    pub value: T,
    /// `flag`, `course`, `profile` or `hpcinit` (hpcinit's own default: the profile has none).
    pub from: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub time: Chosen<String>,
    pub memory: Chosen<String>,
    pub cpus: Chosen<u32>,
    pub gpus: Chosen<u32>,
    pub partition: Option<Chosen<String>>,
    pub account: Option<String>,
    /// The profile's extra directives for interactive work (a QOS).
    pub directives: Vec<String>,
}

/// How the browser reaches the server, and why this way.
#[derive(Debug, Clone, Serialize)]
pub struct Reach {
    /// `tcp-token`: the server listens on the node's cluster address and refuses every request
    /// without its token; hpcinit forwards a port of this machine's loopback to it over the
    /// login node's shared connection.
    pub kind: &'static str,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct JupyterPlan {
    pub site: String,
    pub display_name: String,
    pub scheduler: SchedulerKind,
    pub resources: Resources,
    /// Where the server starts (its file browser's root).
    pub workdir: String,
    pub here: bool,
    pub venv: String,
    /// The private directory (0700) on scratch that holds each job's runtime files and log.
    pub private_dir: String,
    pub reach: Reach,
    /// The job script, as submitted.
    pub job: String,
    pub scripts: JupyterScripts,
    /// The site's own web route to notebooks, where it has one.
    pub web_portal: Option<String>,
    pub notes: Vec<String>,
    pub unverified: Vec<Unverified>,
}

/// The exchanges, each a fixed body called with the plan's values; the run appends what only
/// it knows (the job id, the last state seen, how long to wait).
#[derive(Debug, Clone, Serialize)]
pub struct JupyterScripts {
    /// Jupyter Lab into the venv when missing, the working directory checked (or made), then
    /// the job (on standard input) submitted from the private directory: one round trip.
    pub start: Script,
    /// Follows the job: the run appends `ID LAST SECONDS`.
    pub wait: Script,
    /// Cancels the job and removes its files: the run appends `ID`.
    pub cancel: Script,
}

pub fn sched_word(kind: SchedulerKind) -> &'static str {
    match kind {
        SchedulerKind::Slurm => "slurm",
        SchedulerKind::Lsf => "lsf",
    }
}

/// The job's resources: the flags', else the site's interactive defaults, else hpcinit's own;
/// and its walltime.
pub fn resources(plan: &Plan, profile: &Profile, req: &JupyterRequest) -> (Resources, Walltime) {
    let defaults = profile.interactive();
    let site_from = if defaults.source.is_some() { "profile" } else { "hpcinit" };
    let given = |what: &str| if req.from_course.contains(&what) { "course" } else { "flag" };
    let pick = |flag: Option<String>, default: String, what: &str| match flag {
        Some(v) => Chosen { value: v, from: given(what) },
        None => Chosen { value: default, from: site_from },
    };
    let time = req.time.unwrap_or(defaults.time);
    let resources = Resources {
        time: pick(req.time.map(|t| t.slurm()), defaults.time.slurm(), "time"),
        memory: pick(req.memory.as_ref().map(|m| m.to_string()), defaults.memory.to_string(), "memory"),
        cpus: match req.cpus {
            Some(c) => Chosen { value: c, from: given("cpus") },
            None => Chosen { value: defaults.cpus, from: site_from },
        },
        gpus: match req.gpus {
            Some(g) => Chosen { value: g, from: given("gpus") },
            None => Chosen { value: defaults.gpus, from: site_from },
        },
        partition: match (&req.partition, &defaults.partition) {
            (Some(p), _) => Some(Chosen { value: p.clone(), from: "flag" }),
            (None, Some(p)) => Some(Chosen { value: p.clone(), from: site_from }),
            (None, None) => None,
        },
        account: plan.account.clone(),
        directives: defaults.directives.clone(),
    };
    (resources, time)
}

/// Where an interactive session starts: the latest snapshot, the project's working directory on
/// scratch (`--here`), or scratch itself without a project.
pub fn workdir(plan: &Plan, here: bool) -> String {
    if plan.no_project {
        // No project: the person's own scratch, where their data usually is.
        "~/scratch".to_string()
    } else if here {
        format!("~/scratch/{}", plan.project)
    } else {
        format!("~/scratch/code-snapshots/{}/latest", plan.project)
    }
}

pub fn plan(plan: &Plan, profile: &Profile, req: &JupyterRequest) -> JupyterPlan {
    let raw = &profile.raw;
    let kind = raw.scheduler.kind;
    let defaults = profile.interactive();
    let (resources, time) = resources(plan, profile, req);
    let venv = plan.python().map(|p| p.venv.clone()).unwrap_or_else(|| "~/venvs/general".into());
    // The job's environment is the one the bootstrap wrote for the project's jobs (modules and
    // venv, as the cluster offered them): the session needs no look at the cluster first.
    let env = super::job_parts::env_snippet(&plan.project);
    // Under ~/scratch (the link hpcinit made to the site's scratch): writable on compute nodes
    // where home is not, and the same path before and after any probe.
    let private_dir = "~/scratch/.hpcinit/jupyter".to_string();
    let workdir = workdir(plan, req.here);
    let body = vec![
        "# hpcinit jupyter: Jupyter Lab on this node. Its token is random, kept in its runtime file".into(),
        "# (readable by you alone) and never on a command line; every request without it is refused.".into(),
        "umask 077".into(),
        format!("runtime=\"$PWD/${}\"", id_var(kind)),
        "mkdir -p \"$runtime\" && chmod 700 \"$runtime\"".into(),
        "export JUPYTER_RUNTIME_DIR=\"$runtime\"".into(),
        format!("cd -P {}", sh_path(&workdir)),
        format!(
            "exec jupyter lab --no-browser --ip=\"{}\" --port=0 --ServerApp.port_retries=0",
            node_var(kind)
        ),
    ];
    let job = job_text(kind, &plan.display_name, JOB_NAME, "hpcinit jupyter", &resources, time, &env, body);
    let word = sched_word(kind);
    let index = if raw.python.venv.pip_no_index { "--no-index" } else { "-" };
    let (open, body) = heredoc(&job);
    let start = Script::new(
        "make the venv ready and submit the Jupyter job",
        format!("{SCHEDULER_SH}{JUPYTER_SH}hpcinit_jupyter_start \"$@\" {open}\n{body}\n"),
    )
    .with_args(vec![
        venv.clone(),
        env.clone(),
        workdir.clone(),
        u8::from(req.here || plan.no_project).to_string(),
        index.into(),
        word.into(),
        private_dir.clone(),
    ]);
    let wait = Script::new(
        "follow the Jupyter job",
        format!("{SCHEDULER_SH}{JUPYTER_SH}hpcinit_jupyter_wait \"$@\"\n"),
    )
    .with_args(vec![word.into(), private_dir.clone()]);
    let cancel = Script::new(
        "cancel the Jupyter job",
        format!("{SCHEDULER_SH}{JUPYTER_SH}hpcinit_jupyter_cancel \"$@\"\n"),
    )
    .with_args(vec![word.into(), private_dir.clone()]);
    let mut notes = Vec::new();
    if defaults.source.is_none() {
        notes.push(format!(
            "The {} profile names no interactive defaults: the job asks for hpcinit's own (one core, 2 GB, one hour).",
            profile.name()
        ));
    }
    if let Some(url) = &defaults.web_portal {
        notes.push(format!("{} also offers notebooks in the browser: {url}", raw.display_name));
    }
    let unverified = profile
        .unverified_fields()
        .filter(|(f, _)| *f == "interactive" || f.starts_with("interactive."))
        .map(|(f, w)| Unverified { field: f.into(), why: w.into() })
        .collect();
    JupyterPlan {
        site: plan.site.clone(),
        display_name: plan.display_name.clone(),
        scheduler: kind,
        resources,
        workdir,
        here: req.here,
        venv,
        private_dir,
        reach: Reach {
            kind: "tcp-token",
            why: "compute nodes are reached only through the login node: the server listens on the node's \
                  cluster address with a random token that it writes to a file only you can read (never on \
                  a command line) and refuses every request without it; hpcinit forwards a port of this \
                  machine's loopback to it over the shared connection. The route other users cannot reach \
                  at all (the server on a Unix socket, forwarded over an ssh hop to the node) needs ssh from \
                  the login node to compute nodes, which hpcinit does not set up yet"
                .into(),
        },
        job,
        scripts: JupyterScripts { start, wait, cancel },
        web_portal: defaults.web_portal.clone(),
        notes,
        unverified,
    }
}

/// The job's id variable on the node.
pub fn id_var(kind: SchedulerKind) -> &'static str {
    match kind {
        SchedulerKind::Slurm => "SLURM_JOB_ID",
        SchedulerKind::Lsf => "LSB_JOBID",
    }
}

/// The node's own name, as the scheduler calls it, in the job's shell.
pub fn node_var(kind: SchedulerKind) -> &'static str {
    match kind {
        SchedulerKind::Slurm => "${SLURMD_NODENAME:-$(hostname)}",
        SchedulerKind::Lsf => "$(hostname)",
    }
}

/// An interactive job script: the resources, then the project's job environment (the snippet
/// the bootstrap wrote: modules and venv), then `body`, its log in the private directory it is
/// submitted from (relative to it), readable by the person alone. `set -e` stops it before the
/// body if the environment fails.
#[allow(clippy::too_many_arguments)]
pub fn job_text(
    kind: SchedulerKind,
    site: &str,
    job_name: &'static str,
    submit_hint: &'static str,
    r: &Resources,
    time: Walltime,
    env: &str,
    body: Vec<String>,
) -> String {
    let mut directives = Vec::new();
    let mb = Memory::try_from(r.memory.value.clone()).map(|m| m.megabytes()).unwrap_or(2048);
    match kind {
        SchedulerKind::Slurm => {
            directives.push("--nodes=1".to_string());
            directives.push("--ntasks=1".to_string());
            directives.push(format!("--cpus-per-task={}", r.cpus.value));
            directives.push(format!("--mem={}", r.memory.value));
            if r.gpus.value > 0 {
                directives.push(format!("--gpus={}", r.gpus.value));
            }
            if let Some(p) = &r.partition {
                directives.push(format!("--partition={}", p.value));
            }
        }
        SchedulerKind::Lsf => {
            if let Some(p) = &r.partition {
                directives.push(format!("-q {}", p.value));
            }
            directives.push(format!("-n {}", r.cpus.value));
            directives.push("-R \"span[hosts=1]\"".into());
            directives.push(format!("-R \"rusage[mem={mb}MB]\""));
            if r.gpus.value > 0 {
                directives.push(format!("-gpu \"num={}\"", r.gpus.value));
            }
        }
    }
    directives.extend(r.directives.iter().cloned());
    JobScript {
        kind,
        site,
        job_name,
        account: match &r.account {
            Some(a) => AccountLine::Set {
                flag: match kind {
                    SchedulerKind::Slurm => "--account",
                    SchedulerKind::Lsf => "-P",
                },
                value: a,
            },
            None => AccountLine::None,
        },
        time: match kind {
            SchedulerKind::Slurm => time.slurm(),
            SchedulerKind::Lsf => time.lsf(),
        },
        directives: &directives,
        // Relative: the private directory the job is submitted from.
        log_dir: ".",
        reset: "",
        modules: &[],
        activate: format!("source {}", sh_path(env)),
        body,
        submit_hint,
        template: false,
    }
    .render()
}

/// What a Jupyter exchange reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JupyterReport {
    /// Jupyter Lab was in the venv already (`false`) or was installed now (`true`), at VERSION.
    Jupyter {
        installed: bool,
        version: String,
    },
    /// A package the installation added (`name==version`).
    Added(String),
    Job(String),
    Where(JobWhere),
    Server(String),
    Ended(String),
    Tail(String),
    Cancelled(String),
    Failed(JupyterFailure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JupyterFailure {
    NoVenv(String),
    NoWorkdir(String),
    Install(String),
    Submit(String),
}

impl Tagged for JupyterReport {
    fn from_tag(tag: &str, payload: &str) -> Option<JupyterReport> {
        let p = payload.trim().to_string();
        let (word, rest) = payload.split_once(' ').unwrap_or((payload, ""));
        Some(match tag {
            "jupyter" => {
                JupyterReport::Jupyter { installed: word == "installed", version: rest.trim().into() }
            }
            "added" => JupyterReport::Added(p),
            "job" => JupyterReport::Job(p),
            "where" => JupyterReport::Where(JobWhere::parse(payload)?),
            "server" => JupyterReport::Server(p),
            "ended" => JupyterReport::Ended(p),
            "tail" => JupyterReport::Tail(payload.to_string()),
            "cancelled" => JupyterReport::Cancelled(p),
            "fail" => JupyterReport::Failed(match word {
                "no-venv" => JupyterFailure::NoVenv(rest.trim().into()),
                "no-workdir" => JupyterFailure::NoWorkdir(rest.trim().into()),
                "install" => JupyterFailure::Install(rest.trim().into()),
                _ => JupyterFailure::Submit(rest.trim().into()),
            }),
            _ => return None,
        })
    }
}

/// Where a job is, as the scheduler says: state, reason, start estimate and node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobWhere {
    pub state: String,
    pub reason: Option<String>,
    /// Seconds from now to the scheduler's expected start, where it has an estimate.
    pub start_in: Option<i64>,
    pub node: Option<String>,
    /// The line as it came (to compare with the next).
    pub raw: String,
}

impl JobWhere {
    pub fn parse(payload: &str) -> Option<JobWhere> {
        let raw = payload.trim().to_string();
        let mut f = raw.split('|');
        let state = f.next()?.trim().to_string();
        fn some(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty() && *v != "-" && *v != "None")
        }
        let reason = some(f.next()).map(String::from);
        let start_in = some(f.next()).and_then(|s| s.parse().ok());
        let node = some(f.next()).map(String::from);
        (!state.is_empty()).then_some(JobWhere { state, reason, start_in, node, raw })
    }

    pub fn running(&self) -> bool {
        matches!(self.state.as_str(), "RUNNING" | "RUN")
    }

    pub fn pending(&self) -> bool {
        matches!(self.state.as_str(), "PENDING" | "PEND" | "CONFIGURING" | "PSUSP")
    }
}

impl std::fmt::Display for JobWhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.state.to_lowercase())?;
        if let Some(r) = &self.reason {
            write!(f, " ({r})")?;
        }
        if self.pending() {
            match self.start_in {
                Some(s) if s > 0 => write!(f, ", expected to start in {}", human_seconds(s))?,
                Some(_) => write!(f, ", expected to start any moment")?,
                None => write!(f, ", no start estimate yet")?,
            }
        }
        if let (true, Some(n)) = (self.running(), &self.node) {
            write!(f, " on {n}")?;
        }
        Ok(())
    }
}

fn human_seconds(s: i64) -> String {
    match s {
        s if s < 90 => format!("{s} s"),
        s if s < 5400 => format!("{} min", (s + 30) / 60),
        s if s < 172_800 => format!("{:.1} h", s as f64 / 3600.0),
        s => format!("{} days", s / 86_400),
    }
}

/// What the server writes to its runtime file (`jpserver-PID.json`).
#[derive(Clone, Deserialize)]
pub struct ServerInfo {
    pub hostname: String,
    pub port: u16,
    #[serde(default)]
    pub token: String,
    #[serde(default = "root")]
    pub base_url: String,
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub password: bool,
}

fn root() -> String {
    "/".into()
}

impl std::fmt::Debug for ServerInfo {
    /// Everything but the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerInfo")
            .field("hostname", &self.hostname)
            .field("port", &self.port)
            .field("token", &"<hidden>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl ServerInfo {
    pub fn parse(json: &str) -> Option<ServerInfo> {
        serde_json::from_str(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::tags;

    #[test]
    fn the_jobs_place_is_typed_and_told_with_its_estimate() {
        let out = "banner\n@@hpcinit:where PENDING|Priority|720|-\n@@hpcinit:where RUNNING|None|-|c1-5\n@@hpcinit:where PEND|New job is waiting for scheduling|-|-\n@@hpcinit:job 42\n@@hpcinit:fail no-venv /home/a/venvs/p\n";
        let r = tags::<JupyterReport>(out);
        let JupyterReport::Where(p) = &r[0] else { panic!("{r:?}") };
        assert_eq!(p.to_string(), "pending (Priority), expected to start in 12 min");
        let JupyterReport::Where(run) = &r[1] else { panic!("{r:?}") };
        assert!(run.running());
        assert_eq!(run.to_string(), "running on c1-5");
        let JupyterReport::Where(lsf) = &r[2] else { panic!("{r:?}") };
        assert_eq!(lsf.to_string(), "pend (New job is waiting for scheduling), no start estimate yet");
        assert_eq!(r[3], JupyterReport::Job("42".into()));
        assert_eq!(r[4], JupyterReport::Failed(JupyterFailure::NoVenv("/home/a/venvs/p".into())));
    }

    #[test]
    fn the_servers_runtime_file_is_read_and_its_token_never_shown() {
        let json = r#"{"base_url": "/", "hostname": "c1-5", "password": false, "pid": 7, "port": 33017, "root_dir": "/s", "secure": false, "sock": "", "token": "5947164d81", "url": "http://c1-5:33017/", "version": "2.21.1"}"#;
        let s = ServerInfo::parse(json).expect("parses");
        assert_eq!((s.hostname.as_str(), s.port, s.token.as_str()), ("c1-5", 33017, "5947164d81"));
        assert!(!format!("{s:?}").contains("5947164d81"));
    }
}
