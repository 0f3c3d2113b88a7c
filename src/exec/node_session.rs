//! `hpcinit code` and `hpcinit shell`'s run, after the sign-in: a job holding a compute node is
//! submitted (or an existing one taken, `--job`) and followed until it runs; the node's name is
//! checked against the site's node patterns; its host key is taken from the cluster's own
//! known-hosts file, or read through the login node, and recorded under the node's name in
//! hpcinit's known_hosts on first use (the run says which; a recorded key is never replaced,
//! so a changed one stops OpenSSH); then VS Code is opened on the node (`code --remote
//! ssh-remote+NODE PATH`, the Windows one from WSL) or a shell runs there (ssh through the login
//! node's shared connection, or `srun --overlap` where nodes refuse outside keys). When the
//! editor's window or the shell ends, and on Ctrl-C, the job is cancelled unless `--persist`.

use super::interactive_job::{self, ask, exchange, no_answer};
use super::{Context, StepError};
use crate::exchange::tags;
use crate::local::servers::{self, Server};
use crate::local::{atomic, known_hosts};
use crate::plan::jupyter::{JobWhere, JupyterFailure, JupyterReport};
use crate::plan::node::{self, NodePlan, NodeReport, Purpose, RouteKind};
use crate::plan::ssh_config::KNOWN_HOSTS_FILE;
use crate::ssh_command::SshCommand;
use crate::ui::Status;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How the session runs (the command's flags).
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Leave the job running when hpcinit ends.
    pub persist: bool,
    /// Give up (and cancel) when the job has not started by then.
    pub wait_timeout: Duration,
    /// Join this running job instead of submitting one.
    pub job: Option<String>,
    pub project: String,
    /// `hpcinit code PATH`: the folder to open instead of the session's working directory.
    pub path: Option<String>,
    /// `hpcinit shell -- COMMAND`: run it instead of an interactive shell.
    pub command: Vec<String>,
    /// Consent to the VS Code settings hpcinit adds: `Some(true)` given on the command line,
    /// `Some(false)` refused, `None` asked (on a terminal) when they are missing.
    pub settings: Option<bool>,
}

/// How long the start's exchange follows the job after submitting it.
const FIRST_FOLLOW_SECONDS: u64 = 5;

/// What the node session found on the cluster.
struct Placed {
    node: String,
    workdir: String,
    scratch: String,
}

/// Runs the session; `Ok(status)` is the shell command's exit status (0 for VS Code).
pub fn run(cx: &mut Context, np: &NodePlan, o: &NodeOptions) -> Result<i32, StepError> {
    if np.route.kind == RouteKind::None {
        return Err(StepError::Cluster {
            what: format!("{} at {}", np.purpose.command(), np.display_name),
            detail: np.route.why.clone(),
            hint: match np.purpose {
                Purpose::Code => format!(
                    "`hpcinit shell --site {}` gives a shell on a compute node; `hpcinit jupyter --site {}` a notebook",
                    np.site, np.site
                ),
                Purpose::Shell => "ask your site's support how to reach a compute node interactively".into(),
            },
        });
    }
    let stop = crate::platform::interrupt_flag();
    let (id, started_here, earlier) = match &o.job {
        Some(id) => (id.clone(), false, Vec::new()),
        None => match start(cx, np, o, stop)? {
            Some((id, earlier)) => (id, true, earlier),
            None => return Ok(130),
        },
    };
    let keep = o.persist || !started_here;
    let total = if started_here { 3 } else { 2 };
    let at = total - 1;
    cx.reporter.begin(at, total, "Node");
    let placed = match follow(cx, np, &id, o.wait_timeout, stop, earlier) {
        Ok(Some(node)) => match place(cx, np, &node, o.path.as_deref()) {
            Ok(p) => p,
            Err(e) => return finish(cx, np, &id, keep, Err(e)),
        },
        Ok(None) => {
            cx.reporter.end(Status::Done, "stopped while the job waited");
            return finish(cx, np, &id, !started_here, Ok(130));
        }
        Err(e) => {
            let ended = matches!(&e, StepError::Cluster { what, .. } if what.ends_with("job ended"));
            if ended {
                servers::forget(cx.env, &np.site, &id);
                return Err(e);
            }
            return finish(cx, np, &id, !started_here, Err(e));
        }
    };
    record(cx, np, o, &id, Some(&placed.node));
    cx.reporter.end(Status::Done, &format!("job {id} holds {} for you", placed.node));
    cx.reporter.begin(total, total, if np.purpose == Purpose::Code { "VS Code" } else { "Shell" });
    let outcome = match np.purpose {
        Purpose::Code => code(cx, np, o, &id, &placed, keep),
        Purpose::Shell => shell(cx, np, o, &id, &placed),
    };
    if stop.load(Ordering::SeqCst) && outcome.is_ok() {
        return finish(cx, np, &id, keep, Ok(130));
    }
    finish(cx, np, &id, keep, outcome)
}

/// The way out: the job cancelled (its record forgotten) unless it is kept; `result` passed on.
fn finish(
    cx: &mut Context,
    np: &NodePlan,
    id: &str,
    keep: bool,
    result: Result<i32, StepError>,
) -> Result<i32, StepError> {
    if keep {
        cx.reporter.detail(&format!(
            "Job {id} keeps running until its time limit: `{} --job {id}` joins it again, `--stop {id}` ends it.",
            np.purpose.command()
        ));
    } else if let Err(e) = cancel(cx, np, id) {
        return Err(result.err().unwrap_or(e));
    }
    result
}

/// The start, in one round trip: the environment and working directory checked, the shell's
/// start-up file written, the job submitted and followed for a few seconds. The job's id;
/// `None` when Ctrl-C came before anything was submitted.
fn start(
    cx: &mut Context,
    np: &NodePlan,
    o: &NodeOptions,
    stop: &AtomicBool,
) -> Result<Option<(String, Vec<JupyterReport>)>, StepError> {
    cx.reporter.begin(1, 3, "Start");
    let mut wait = cx.reporter.wait("checking the environment");
    let script = np.scripts.start.clone().arg(FIRST_FOLLOW_SECONDS.to_string());
    let submitted = std::cell::Cell::new(false);
    let stopped_at: std::cell::Cell<Option<Instant>> = std::cell::Cell::new(None);
    let mut reports: Vec<JupyterReport> = Vec::new();
    let mut on_line = |line: &str| {
        for r in tags::<NodeReport>(line) {
            if let NodeReport::Other(r) = r {
                match &r {
                    JupyterReport::Job(id) => {
                        submitted.set(true);
                        wait.update(&format!("job {id}: submitted"));
                    }
                    JupyterReport::Where(w) => wait.update(&format!("job: {w}")),
                    _ => {}
                }
                reports.push(r);
            }
        }
    };
    // Ctrl-C: stop at once, unless the job's id is on its way (wait a little for it, so that the
    // job can be cancelled; the cluster cancels a job whose id it could not send).
    let stop_now = || {
        if !stop.load(Ordering::SeqCst) {
            return false;
        }
        let since = stopped_at.get().unwrap_or_else(|| {
            let now = Instant::now();
            stopped_at.set(Some(now));
            now
        });
        submitted.get() || since.elapsed() > Duration::from_secs(5)
    };
    let out = exchange(cx, &script, Duration::from_secs(600 + FIRST_FOLLOW_SECONDS), &stop_now, &mut on_line);
    drop(wait);
    let id = reports.iter().find_map(|r| if let JupyterReport::Job(j) = r { Some(j.clone()) } else { None });
    if stop.load(Ordering::SeqCst) {
        cx.reporter.end(Status::Done, "stopped before the job started");
        if let Some(id) = id {
            record(cx, np, o, &id, None);
            cancel(cx, np, &id)?;
        }
        return Ok(None);
    }
    let out = out?;
    if let Some(f) =
        reports.iter().find_map(|r| if let JupyterReport::Failed(f) = r { Some(f) } else { None })
    {
        return Err(start_failed(np, f));
    }
    let Some(id) = id else { return Err(no_answer("starting the session's job", &out)) };
    record(cx, np, o, &id, None);
    cx.reporter.end(
        Status::Done,
        &format!("job {id} submitted: {}", super::interactive_job::asked(&np.resources, np.scheduler)),
    );
    // What the start's exchange saw of the job: the follow starts from it.
    Ok(Some((id, reports)))
}

fn start_failed(np: &NodePlan, f: &JupyterFailure) -> StepError {
    let site = &np.site;
    let cmd = np.purpose.command();
    let (detail, hint) = match f {
        JupyterFailure::NoVenv(v) => (
            format!("there is no environment at {v}"),
            format!("run `hpcinit --site {site}` first: it builds the environment the session uses"),
        ),
        JupyterFailure::NoWorkdir(w) => (
            format!("there is no code snapshot at {w}"),
            format!("run `hpcinit sync --site {site}` to copy the code, or `{cmd} --here` to work in ~/scratch/<project>"),
        ),
        JupyterFailure::Install(why) | JupyterFailure::Submit(why) => {
            return StepError::Cluster {
                what: "submitting the session's job".into(),
                detail: format!("the scheduler refused it: {why}"),
                hint: format!("check the account (--account) and the limits named above; `{cmd} --site {site} --dry-run` shows the job"),
            }
        }
    };
    StepError::Cluster { what: format!("starting {cmd}"), detail, hint }
}

/// Follows the job until it runs on a node (what the start's exchange saw comes first: a job
/// that started at once needs no other exchange): the node's name; `None` on Ctrl-C.
fn follow(
    cx: &mut Context,
    np: &NodePlan,
    id: &str,
    timeout: Duration,
    stop: &AtomicBool,
    earlier: Vec<JupyterReport>,
) -> Result<Option<String>, StepError> {
    let f = interactive_job::Follow {
        id,
        what: "the session's job",
        before: "before the session began",
        ended_hint: format!("`hpcinit doctor --site {}` checks the environment", np.site),
        script: Box::new(|last: &str, seconds: u64| {
            np.scripts.wait.clone().and_args([
                id.to_string(),
                last.to_string(),
                seconds.to_string(),
                "node".into(),
            ])
        }),
        found: Box::new(|r: &JupyterReport| match r {
            JupyterReport::Where(w) if w.running() => w.node.clone().map(Ok),
            _ => None,
        }),
    };
    interactive_job::follow(cx, f, timeout, stop, earlier)
}

/// The node checked against the site's patterns, its host key recorded (first use), and where
/// the session opens (the person's `folder` where given), absolute.
fn place(cx: &mut Context, np: &NodePlan, node: &str, folder: Option<&str>) -> Result<Placed, StepError> {
    if crate::quote::unsafe_reason(node).is_some() || node.contains(char::is_whitespace) {
        return Err(StepError::Cluster {
            what: "the session's node".into(),
            detail: format!("the scheduler named the node {node:?}, which is not a host name"),
            hint: "run again with -v and tell hpcinit's maintainers".into(),
        });
    }
    let ssh = np.route.kind == RouteKind::SshNode;
    if ssh && !np.patterns.iter().any(|p| pattern_matches(p, node)) {
        return Err(StepError::Cluster {
            what: "the session's node".into(),
            detail: format!(
                "the job runs on {node}, which the {} profile's node patterns ({}) do not match, so ssh has no way there",
                np.site,
                np.patterns.join(" ")
            ),
            hint: format!(
                "add a pattern for {node} to `nodes.patterns` in a profile of your own (docs/adding-a-site.md) and tell hpcinit's maintainers; `hpcinit shell --site {}` may still work",
                np.site
            ),
        });
    }
    // The node's key is read only where hpcinit has none recorded for it.
    let known = std::fs::read_to_string(cx.env.home.join(KNOWN_HOSTS_FILE)).unwrap_or_default();
    let need = ssh && known_hosts::keys_for(&known, node).is_empty();
    let folder = folder.unwrap_or("-").to_string();
    let script = np.scripts.look.clone().and_args([node.to_string(), u8::from(need).to_string(), folder]);
    let out = ask(cx, &script, Duration::from_secs(30))?;
    let reports = tags::<NodeReport>(&out.stdout);
    let Some((workdir, scratch)) = reports.iter().find_map(|r| match r {
        NodeReport::Place { workdir, scratch } => Some((workdir.clone(), scratch.clone())),
        _ => None,
    }) else {
        return Err(no_answer("looking at the node", &out));
    };
    if ssh {
        record_host_key(cx, np, node, &reports)?;
    }
    Ok(Placed { node: node.to_string(), workdir, scratch })
}

fn pattern_matches(pattern: &str, name: &str) -> bool {
    crate::profile::scalar::NodePattern::try_from(pattern.to_string()).is_ok_and(|p| p.matches(name))
}

/// Records the node's host keys under its name in hpcinit's known_hosts, the first time it is
/// used; a key recorded earlier stays as it is (a changed key is OpenSSH's to refuse).
fn record_host_key(
    cx: &mut Context,
    np: &NodePlan,
    node: &str,
    reports: &[NodeReport],
) -> Result<(), StepError> {
    let file = cx.env.home.join(KNOWN_HOSTS_FILE);
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    if !known_hosts::keys_for(&text, node).is_empty() {
        cx.reporter.trace(&format!("{node}'s host key is recorded already"));
        return Ok(());
    }
    let mut from_cluster = false;
    let keys: Vec<String> = reports
        .iter()
        .filter_map(|r| match r {
            NodeReport::HostKey { from_cluster: c, key } => {
                from_cluster |= *c;
                Some(key.clone())
            }
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        return Err(StepError::Cluster {
            what: format!("{node}'s host key"),
            detail: format!(
                "neither the cluster's {} nor the node itself (ssh-keyscan from the login node) gave one",
                node::CLUSTER_KNOWN_HOSTS
            ),
            hint: "hpcinit does not connect to a host whose key it cannot check; ask your site's support how compute nodes' host keys are published".into(),
        });
    }
    let updated = known_hosts::with_node_keys(&text, node, &keys, &np.site);
    if let Some(dir) = file.parent() {
        atomic::ensure_dir(dir, 0o700)
            .map_err(|e| StepError::Write { path: dir.to_path_buf(), source: e })?;
    }
    atomic::write(&file, updated.as_bytes(), 0o600)
        .map_err(|e| StepError::Write { path: file.clone(), source: e })?;
    let types: Vec<&str> = keys.iter().filter_map(|k| k.split_whitespace().next()).collect();
    cx.reporter.detail(&format!(
        "Recorded {node}'s host key ({}) in ~/{KNOWN_HOSTS_FILE} under its name, {}; from now on ssh checks it and refuses a changed one.",
        types.join(", "),
        if from_cluster {
            format!("as the cluster's own {} lists it", node::CLUSTER_KNOWN_HOSTS)
        } else {
            format!("read from the node through {} (first use: the cluster publishes no list)", np.site)
        }
    ));
    windows_known_hosts(cx, np, node, &keys);
    Ok(())
}

/// From WSL, where the Windows side has hpcinit's known_hosts (`--windows-ssh`): the node's
/// keys there too, so that the Windows VS Code reaches it.
fn windows_known_hosts(cx: &mut Context, np: &NodePlan, node: &str, keys: &[String]) {
    let Some(Ok(home)) = crate::local::wsl::windows_home(cx.env) else { return };
    let file = home.linux.join(KNOWN_HOSTS_FILE);
    let Ok(text) = std::fs::read_to_string(&file) else { return };
    let updated = known_hosts::with_node_keys(&text, node, keys, &np.site);
    if updated != text && atomic::write(&file, updated.as_bytes(), 0o600).is_ok() {
        cx.reporter.detail(&format!("Recorded it on the Windows side too ({}).", file.display()));
    }
}

/// VS Code on the node: the settings the site needs (with consent), then `code --remote`; where
/// `code` is not installed, what to pick in VS Code and the ssh command, then held until Ctrl-C.
fn code(
    cx: &mut Context,
    np: &NodePlan,
    o: &NodeOptions,
    id: &str,
    p: &Placed,
    keep: bool,
) -> Result<i32, StepError> {
    let folder = p.workdir.clone();
    super::vscode_settings::offer(cx, np, &p.node, &p.scratch, o.settings)?;
    let mut args: Vec<String> = vec!["--new-window".into()];
    if !keep {
        args.push("--wait".into());
    }
    args.push("--remote".into());
    args.push(format!("ssh-remote+{}", p.node));
    args.push(folder.clone());
    let ssh_line = format!("ssh {}", p.node);
    match launch_code(cx, &args) {
        Some(Ok((program, mut child))) => {
            cx.reporter.end(Status::Done, &format!("VS Code opens {folder} on {} ({program})", p.node));
            if !keep {
                cx.reporter.detail(&format!(
                    "Closing the VS Code window (or Ctrl-C here) ends the session and cancels job {id}."
                ));
            }
            let status = child.wait().map_err(|e| StepError::Local {
                what: "VS Code".into(),
                detail: e.to_string(),
                hint: "run `code --version` to check the installation".into(),
            })?;
            if !status.success() && !crate::platform::interrupt_flag().load(Ordering::SeqCst) {
                return Err(StepError::Local {
                    what: "VS Code".into(),
                    detail: format!("{program} ended with {status}"),
                    hint: format!("open it yourself: Remote-SSH: Connect to Host… → {}", p.node),
                });
            }
            Ok(0)
        }
        other => {
            let why = match other {
                Some(Err(why)) => why,
                _ => "VS Code's `code` command is not on PATH".into(),
            };
            cx.reporter.end(Status::Done, &format!("{} is yours; VS Code was not started ({why})", p.node));
            cx.reporter.detail(&format!(
                "In VS Code: Remote-SSH: Connect to Host… → {} (the entry hpcinit wrote), then open {folder}.",
                p.node
            ));
            cx.reporter.detail(&format!("From a terminal: {ssh_line}"));
            if keep {
                return Ok(0);
            }
            cx.reporter.detail(&format!("Ctrl-C here ends the session and cancels job {id}."));
            hold(cx, np, id)
        }
    }
}

/// Starts VS Code with `args`: the Windows one through `cmd.exe` from WSL, else `code` on PATH.
/// `None` when there is none.
fn launch_code(
    cx: &mut Context,
    args: &[String],
) -> Option<Result<(&'static str, std::process::Child), String>> {
    let wsl = crate::local::wsl::inside(cx.env);
    let (program, mut cmd) = if wsl {
        // From WSL, `code` starts the Windows VS Code, which reads the Windows side's ssh config
        // (`--windows-ssh` writes the node entry there).
        let mut c = crate::local::wsl::command(cx.env, "cmd.exe");
        c.args(["/c", "code"]);
        ("the Windows VS Code, through cmd.exe", c)
    } else {
        let found = cx.env.var("PATH").and_then(|path| {
            std::env::split_paths(path)
                .flat_map(|d| crate::platform::VSCODE.iter().map(move |n| d.join(n)))
                .find(|p| p.is_file())
        })?;
        let mut c = Command::new(found);
        c.env_clear().envs(&cx.env.vars);
        ("code", c)
    };
    cmd.args(args).stdin(Stdio::null());
    cx.reporter.trace(&format!("{program}: {}", args.join(" ")));
    Some(cmd.spawn().map(|c| (program, c)).map_err(|e| format!("{program}: {e}")))
}

/// Keeps the job until Ctrl-C or its end, asking the cluster every 20 s.
fn hold(cx: &mut Context, np: &NodePlan, id: &str) -> Result<i32, StepError> {
    let stop = crate::platform::interrupt_flag();
    loop {
        let script = np.scripts.wait.clone().and_args([
            id.to_string(),
            "-".into(),
            interactive_job::FOLLOW_SECONDS.to_string(),
            "end".into(),
        ]);
        let mut ended = None;
        let asked = exchange(
            cx,
            &script,
            Duration::from_secs(interactive_job::FOLLOW_SECONDS + 30),
            &|| stop.load(Ordering::SeqCst),
            &mut |line| {
                for r in tags::<JupyterReport>(line) {
                    if let JupyterReport::Ended(h) = r {
                        ended = Some(h);
                    }
                }
            },
        );
        if stop.load(Ordering::SeqCst) {
            return Ok(130);
        }
        asked?;
        if let Some(how) = ended {
            cx.reporter.detail(&format!("Job {id} ended ({}); the session is over.", how.trim()));
            return Ok(0);
        }
    }
}

/// A shell on the node (or the person's command there): ssh through the login node's shared
/// connection, or `srun --overlap` into the job from the login node.
fn shell(cx: &mut Context, np: &NodePlan, o: &NodeOptions, id: &str, p: &Placed) -> Result<i32, StepError> {
    let tty = cx.env.stdin_tty && o.command.is_empty();
    let mut ssh = SshCommand::new(cx.env.ssh_config_override().as_deref(), &cx.env.vars);
    if tty {
        ssh = ssh.arg("-t");
    }
    let line = node::remote_shell(np, id, tty, &o.command);
    let target = match np.route.kind {
        RouteKind::SrunOverlap => np.site.clone(),
        _ => p.node.clone(),
    };
    cx.reporter.end(
        Status::Done,
        &match np.route.kind {
            RouteKind::SrunOverlap => format!("into job {id} on {} with srun, from {}", p.node, np.site),
            _ => format!("ssh {} (through {}'s shared connection)", p.node, np.site),
        },
    );
    if o.command.is_empty() {
        cx.reporter.detail(&format!(
            "A shell on {} in {}, the project's modules and venv loaded; `exit` ends it{}.",
            p.node,
            p.workdir,
            if o.persist { "" } else { " and the job" }
        ));
    }
    let mut cmd = ssh.arg("--").arg(&target).arg(&line).command();
    // The person's own locale in their shell.
    for k in ["LANG", "LC_ALL"] {
        match cx.env.var(k) {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let status = cmd.status().map_err(|e| StepError::Local {
        what: "ssh".into(),
        detail: e.to_string(),
        hint: "hpcinit runs the system's OpenSSH client (`ssh`); install it".into(),
    })?;
    Ok(status.code().unwrap_or(130))
}

/// Cancels the job and removes its files on the cluster, and its local record.
fn cancel(cx: &mut Context, np: &NodePlan, id: &str) -> Result<(), StepError> {
    interactive_job::cancel(cx, &np.scripts.cancel, &np.site, id, "the session's job")
}

fn record(cx: &mut Context, np: &NodePlan, o: &NodeOptions, id: &str, node: Option<&str>) {
    if o.job.is_some() {
        return;
    }
    let s = Server {
        kind: match np.purpose {
            Purpose::Code => "code",
            Purpose::Shell => "shell",
        }
        .into(),
        site: np.site.clone(),
        job: id.to_string(),
        project: o.project.clone(),
        submitted: 0,
        minutes: 0,
        persist: o.persist,
        node: node.map(String::from),
        local_port: None,
    };
    interactive_job::record(cx, s, &np.resources.time.value);
}

/// The job's place, for `--list`.
pub fn place_of(cx: &mut Context, np: &NodePlan, id: &str) -> Result<Option<JobWhere>, StepError> {
    let args = [id.to_string(), "-".into(), "0".into(), "end".into()];
    interactive_job::place(cx, &np.scripts.wait.clone().and_args(args))
}

/// Cancels a job on the person's request (`--stop`).
pub fn stop(cx: &mut Context, np: &NodePlan, id: &str) -> Result<(), StepError> {
    cancel(cx, np, id)
}
