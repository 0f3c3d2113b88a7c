//! `hpcinit jupyter`'s run, after the sign-in: Jupyter Lab into the venv where it
//! is missing, the job submitted and followed (state, reason and start estimate, in place),
//! the server found from its runtime file, a loopback port of this machine forwarded to it
//! over the shared connection, the URL printed and the browser opened, then watched until
//! Ctrl-C: a connection that stops answering is replaced with one new sign-in and the forward
//! restored, the server and its kernels untouched. Ctrl-C while pending or running cancels the
//! job (unless `--persist`) and removes its files; the token is never on a command line here
//! or on the cluster.

use super::interactive_job::{self, ask, exchange, no_answer, tail_text};
use super::{Context, StepError};
use crate::exchange::tags;
use crate::local::servers::{self, Server};
use crate::plan::jupyter::{JobWhere, JupyterFailure, JupyterPlan, JupyterReport, ServerInfo};
use crate::remote::Forward;
use crate::ui::Status;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How the session runs (the command's flags).
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Leave the job running when hpcinit ends.
    pub persist: bool,
    pub no_browser: bool,
    /// Give up (and cancel) when the job has not started by then.
    pub wait_timeout: Duration,
    /// This machine's port for the forward [default: the first free one from 8888].
    pub port: Option<u16>,
    /// Reconnect to this running job instead of submitting one.
    pub job: Option<String>,
    /// The project's name, for the local record.
    pub project: String,
    /// The project's directory, whose `hpcinit.lock` records what Jupyter added; `None`
    /// without a project.
    pub project_dir: Option<std::path::PathBuf>,
}

/// How long the start's exchange follows the job after submitting it: a server that starts at
/// once is found without another exchange; a queued job is shown waiting soon.
const FIRST_FOLLOW_SECONDS: u64 = 5;
/// How often the forwarded server is asked whether it answers.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Runs the session. `Ok` when it ended as the person asked (Ctrl-C, the job's end).
pub fn run(cx: &mut Context, jp: &JupyterPlan, o: &SessionOptions) -> Result<(), StepError> {
    let stop = crate::platform::interrupt_flag();
    let (id, started_here, earlier) = match &o.job {
        Some(id) => (id.clone(), false, Vec::new()),
        None => match start(cx, jp, o, stop)? {
            Some((id, earlier)) => (id, true, earlier),
            // Ctrl-C before anything was submitted: nothing to cancel.
            None => return Ok(()),
        },
    };
    // A job hpcinit started is cancelled on the way out unless the person asked to keep it;
    // one it reconnected to is left as it was.
    let keep = o.persist || !started_here;
    let ended = |cx: &mut Context, why: &str| -> Result<(), StepError> {
        if keep {
            cx.reporter
                .detail(&format!("job {id} keeps running ({why}); `hpcinit jupyter --stop {id}` ends it"));
            Ok(())
        } else {
            cancel(cx, jp, &id)
        }
    };
    let (at, total) = if started_here { (2, 3) } else { (1, 2) };
    cx.reporter.begin(at, total, "Jupyter job");
    let info = match follow(cx, jp, &id, o.wait_timeout, stop, earlier) {
        Ok(Some(info)) => info,
        Ok(None) => {
            // Interrupted while waiting.
            cx.reporter.end(Status::Done, "stopped while the job waited");
            if started_here {
                return cancel(cx, jp, &id);
            }
            return Ok(());
        }
        Err(e) => {
            if matches!(&e, StepError::Cluster { what, .. } if what == "the Jupyter job ended") {
                // Nothing to cancel; its log stays in the private directory for the person.
                servers::forget(cx.env, &jp.site, &id);
            } else if started_here {
                let _ = cancel(cx, jp, &id);
            }
            return Err(e);
        }
    };
    if info.token.is_empty() && !info.password {
        let _ = cancel(cx, jp, &id);
        return Err(StepError::Cluster {
            what: "the Jupyter server".into(),
            detail: "it runs without a token or password (a Jupyter config of yours turns them off), so anyone on the cluster could use it; hpcinit cancelled it".into(),
            hint: "remove `c.IdentityProvider.token = ''` (or `c.ServerApp.token`) from ~/.jupyter/jupyter_server_config.py on the cluster".into(),
        });
    }
    cx.reporter.end(Status::Done, &format!("Jupyter Lab runs on {} (job {id})", info.hostname));
    cx.reporter.begin(at + 1, total, "Forward");
    let forward = match open_forward(cx, &info, o.port) {
        Ok(f) => f,
        Err(e) => {
            let _ = ended(cx, "the forward failed");
            return Err(e);
        }
    };
    let url = format!("http://127.0.0.1:{}{}lab?token={}", forward.local, info.base_url, info.token);
    record(cx, jp, o, &id, Some(&info), Some(forward.local));
    cx.reporter.end(
        Status::Done,
        &format!("127.0.0.1:{} → {}:{} over the shared connection", forward.local, info.hostname, info.port),
    );
    cx.reporter.detail(&format!("Jupyter Lab: {url}"));
    cx.reporter.detail(&format!(
        "The server refuses every request without its token (checked); the token is in no command line. Why this route: {}.",
        jp.reach.why
    ));
    if !o.no_browser {
        let opened = servers::opener(cx.env, &id, &url)
            .map_err(|e| e.to_string())
            .and_then(|page| servers::open_browser(cx.env, &page));
        match opened {
            Ok(program) => cx.reporter.detail(&format!("Opened in your browser ({program}).")),
            Err(why) => cx.reporter.detail(&format!("No browser opened ({why}): open the URL above.")),
        }
    }
    cx.reporter.detail(&if keep {
        format!("Ctrl-C ends the forward; job {id} keeps running until its time limit (`hpcinit jupyter --job {id}` reconnects, `--stop {id}` ends it).")
    } else {
        format!("Ctrl-C ends the session and cancels job {id}.")
    });
    let outcome = watch(cx, jp, &id, &forward, &info, stop);
    let _ = cx.remote().forward(&forward, false);
    let _ = std::fs::remove_file(servers::dir(cx.env).join(format!("open-{id}.html")));
    match outcome {
        Ok(Watched::Stopped) => ended(cx, "Ctrl-C ended the forward"),
        Ok(Watched::JobEnded(how)) => {
            servers::forget(cx.env, &jp.site, &id);
            cx.reporter.detail(&format!("Job {id} ended ({how}); the session is over."));
            Ok(())
        }
        Err(e) => {
            let _ = ended(cx, "the session failed");
            Err(e)
        }
    }
}

/// The start, in one round trip: Jupyter Lab into the venv where it is missing (the site's
/// index, no package changed), the job submitted, and followed for a few seconds (a server that
/// starts at once is found in the same exchange). The job's id and what the exchange reported;
/// `None` when Ctrl-C came before anything was submitted.
fn start(
    cx: &mut Context,
    jp: &JupyterPlan,
    o: &SessionOptions,
    stop: &AtomicBool,
) -> Result<Option<(String, Vec<JupyterReport>)>, StepError> {
    cx.reporter.begin(1, 3, "Start");
    let mut wait = cx.reporter.wait("looking for Jupyter Lab in the venv");
    let script = jp.scripts.start.clone().arg(FIRST_FOLLOW_SECONDS.to_string());
    let prepared = std::cell::Cell::new(false);
    let submitted = std::cell::Cell::new(false);
    let stopped_at: std::cell::Cell<Option<Instant>> = std::cell::Cell::new(None);
    let mut reports: Vec<JupyterReport> = Vec::new();
    let mut on_line = |line: &str| {
        if line.contains("@@hpcinit:phase") {
            wait.update("installing Jupyter Lab from the site's index");
        }
        for r in tags::<JupyterReport>(line) {
            match &r {
                JupyterReport::Jupyter { .. } => {
                    prepared.set(true);
                    wait.update("submitting the job");
                }
                JupyterReport::Job(id) => {
                    submitted.set(true);
                    wait.update(&format!("job {id}: submitted"));
                }
                JupyterReport::Where(w) => wait.update(&format!("job: {w}")),
                _ => {}
            }
            reports.push(r);
        }
    };
    // Ctrl-C: stop at once, unless the job is being submitted right now (its id is on its way:
    // wait a little for it, so that it can be cancelled; the cluster cancels a job whose id it
    // could not send).
    let stop_now = || {
        if !stop.load(Ordering::SeqCst) {
            return false;
        }
        let since = stopped_at.get().unwrap_or_else(|| {
            let now = Instant::now();
            stopped_at.set(Some(now));
            now
        });
        submitted.get() || !prepared.get() || since.elapsed() > Duration::from_secs(5)
    };
    let limit = Duration::from_secs(3600 + FIRST_FOLLOW_SECONDS);
    let out = exchange(cx, &script, limit, &stop_now, &mut on_line);
    drop(wait);
    let id = reports.iter().find_map(|r| if let JupyterReport::Job(j) = r { Some(j.clone()) } else { None });
    if stop.load(Ordering::SeqCst) {
        cx.reporter.end(Status::Done, "stopped before the server started");
        if let Some(id) = id {
            record(cx, jp, o, &id, None, None);
            cancel(cx, jp, &id)?;
        }
        return Ok(None);
    }
    let out = out?;
    let tail: Vec<String> = reports
        .iter()
        .filter_map(|r| if let JupyterReport::Tail(l) = r { Some(l.clone()) } else { None })
        .collect();
    if let Some(f) =
        reports.iter().find_map(|r| if let JupyterReport::Failed(f) = r { Some(f) } else { None })
    {
        return Err(prepare_failed(jp, f, &tail));
    }
    let added: Vec<String> = reports
        .iter()
        .filter_map(|r| if let JupyterReport::Added(p) = r { Some(p.clone()) } else { None })
        .collect();
    let jupyter = reports.iter().find_map(|r| match r {
        JupyterReport::Jupyter { installed, version } => Some((*installed, version.clone())),
        _ => None,
    });
    let (Some((installed, version)), Some(id)) = (jupyter, id) else {
        return Err(no_answer("starting the Jupyter job", &out));
    };
    record(cx, jp, o, &id, None, None);
    let lab = if installed {
        let recorded = record_extras(cx, jp, o, &added)?;
        format!(
            "installed Jupyter Lab {version} in {} ({} packages added, none of the environment's changed){recorded}",
            jp.venv,
            added.len()
        )
    } else {
        format!("Jupyter Lab {version} in {}", jp.venv)
    };
    cx.reporter.end(
        Status::Done,
        &format!("{lab}; job {id} submitted: {}", super::interactive_job::asked(&jp.resources, jp.scheduler)),
    );
    Ok(Some((id, reports)))
}

/// Records what the installation added in the project's `hpcinit.lock` as interactive extras,
/// where the lock describes this site's environment; the locked packages stay as they were.
fn record_extras(
    cx: &mut Context,
    jp: &JupyterPlan,
    o: &SessionOptions,
    added: &[String],
) -> Result<String, StepError> {
    let Some(dir) = &o.project_dir else { return Ok(String::new()) };
    let Ok(Some(lock)) = crate::local::lock::read(dir) else { return Ok(String::new()) };
    if lock.origin.site != jp.site || added.is_empty() {
        return Ok(String::new());
    }
    let file = dir.join(crate::local::lock::FILE);
    let updated = lock.clone().with_interactive(added);
    if updated != lock {
        crate::local::atomic::write(&file, updated.render().as_bytes(), 0o644)
            .map_err(|e| StepError::Write { path: file.clone(), source: e })?;
    }
    Ok(format!("; recorded in {} as interactive extras", cx.env.tilde(&file)))
}

fn prepare_failed(jp: &JupyterPlan, f: &JupyterFailure, tail: &[String]) -> StepError {
    let site = &jp.site;
    let (detail, hint) = match f {
        JupyterFailure::NoVenv(v) => (
            format!("there is no environment at {v}"),
            format!("run `hpcinit --site {site}` first: it builds the environment Jupyter runs from"),
        ),
        JupyterFailure::NoWorkdir(w) => (
            format!("there is no code snapshot at {w}"),
            format!("run `hpcinit sync --site {site}` to copy the code, or `hpcinit jupyter --here` to work in ~/scratch/<project>"),
        ),
        JupyterFailure::Install(why) => (
            format!("{why}{}", tail_text(tail)),
            "add `jupyterlab` to your requirements and run hpcinit again (it then rebuilds the environment with it)".into(),
        ),
        JupyterFailure::Submit(why) => {
            return StepError::Cluster {
                what: "submitting the Jupyter job".into(),
                detail: format!("the scheduler refused it: {why}"),
                hint: format!(
                    "check the account (--account) and the limits named above; `hpcinit jupyter --site {site} --dry-run` shows the job"
                ),
            }
        }
    };
    StepError::Cluster { what: "preparing Jupyter".into(), detail, hint }
}

fn record(
    cx: &mut Context,
    jp: &JupyterPlan,
    o: &SessionOptions,
    id: &str,
    info: Option<&ServerInfo>,
    port: Option<u16>,
) {
    if o.job.is_some() {
        return;
    }
    let s = Server {
        kind: "jupyter".into(),
        site: jp.site.clone(),
        job: id.to_string(),
        project: o.project.clone(),
        submitted: 0,
        minutes: 0,
        persist: o.persist,
        node: info.map(|i| i.hostname.clone()),
        local_port: port,
    };
    interactive_job::record(cx, s, &jp.resources.time.value);
}

/// Follows the job until its server has written its runtime file: `Ok(None)` when Ctrl-C came
/// first.
fn follow(
    cx: &mut Context,
    jp: &JupyterPlan,
    id: &str,
    timeout: Duration,
    stop: &AtomicBool,
    earlier: Vec<JupyterReport>,
) -> Result<Option<ServerInfo>, StepError> {
    let f = interactive_job::Follow {
        id,
        what: "the Jupyter job",
        before: "before its server started",
        ended_hint: format!(
            "the lines above are the job's log; `hpcinit doctor --site {}` checks the environment",
            jp.site
        ),
        script: Box::new(|last: &str, seconds: u64| {
            jp.scripts.wait.clone().and_args([id.to_string(), last.to_string(), seconds.to_string()])
        }),
        found: Box::new(|r: &JupyterReport| match r {
            JupyterReport::Server(json) => Some(ServerInfo::parse(json).ok_or_else(|| StepError::Cluster {
                what: "the Jupyter job".into(),
                detail: "its runtime file could not be read".into(),
                hint: "run again with -v; the job's log is in the private directory the plan names".into(),
            })),
            _ => None,
        }),
    };
    interactive_job::follow(cx, f, timeout, stop, earlier)
}

/// Cancels the job and removes its files on the cluster, and its local record.
fn cancel(cx: &mut Context, jp: &JupyterPlan, id: &str) -> Result<(), StepError> {
    interactive_job::cancel(cx, &jp.scripts.cancel, &jp.site, id, "the Jupyter job")
}

/// A free loopback port: `wanted`, or the first free one from 8888.
fn free_port(wanted: Option<u16>) -> Option<u16> {
    let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
    match wanted {
        Some(p) => free(p).then_some(p),
        None => (8888..8988).find(|p| free(*p)),
    }
}

fn open_forward(cx: &mut Context, info: &ServerInfo, port: Option<u16>) -> Result<Forward, StepError> {
    let local = free_port(port).ok_or_else(|| StepError::Local {
        what: "the forward".into(),
        detail: match port {
            Some(p) => format!("port {p} of this machine is in use"),
            None => "no free port between 8888 and 8987 on this machine".into(),
        },
        hint: "pick another with --port PORT".into(),
    })?;
    let f = Forward { local, host: info.hostname.clone(), port: info.port };
    add_forward(cx, &f)?;
    // The server has written its runtime file; give it a moment to answer through the forward.
    // Its first answer is to a request without the token, which it must refuse: one request
    // proves both that it is reached and that it is not open to everyone.
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match http_status(&f, &format!("{}api/kernels", info.base_url), None) {
            Some(401 | 403) => return Ok(f),
            Some(code) => {
                let _ = cx.remote().forward(&f, false);
                return Err(StepError::Cluster {
                    what: "the Jupyter server".into(),
                    detail: format!(
                        "it answered a request without its token with {code}; hpcinit does not leave such a server reachable"
                    ),
                    hint: "check ~/.jupyter/jupyter_server_config.py on the cluster for settings that turn authentication off"
                        .into(),
                });
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Err(StepError::Cluster {
        what: "the forward".into(),
        detail: format!(
            "the server on {}:{} does not answer through 127.0.0.1:{}",
            info.hostname, info.port, local
        ),
        hint: "the login node may not allow forwarding to compute nodes (AllowTcpForwarding); run with -v and tell your site's support"
            .into(),
    })
}

fn add_forward(cx: &mut Context, f: &Forward) -> Result<(), StepError> {
    match cx.remote().forward(f, true) {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => {
            let hint = cx.connect_hint(&e);
            Err(StepError::Remote { error: e, hint })
        }
        None => Err(StepError::Local {
            what: "the forward".into(),
            detail: "this transport has no shared connection to carry a port forward".into(),
            hint: "run with --transport ssh (OpenSSH with ControlMaster); on Windows, run hpcinit in WSL"
                .into(),
        }),
    }
}

/// One HTTP request through the forward: the status code, or `None` when nothing answered.
fn http_status(f: &Forward, path: &str, token: Option<&str>) -> Option<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, f.local));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(4))).ok()?;
    let auth = token.map(|t| format!("Authorization: token {t}\r\n")).unwrap_or_default();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{auth}Connection: close\r\n\r\n", f.local);
    s.write_all(req.as_bytes()).ok()?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    text.strip_prefix("HTTP/1.1 ").or_else(|| text.strip_prefix("HTTP/1.0 "))?.get(..3)?.parse().ok()
}

fn answers(f: &Forward, info: &ServerInfo) -> bool {
    http_status(f, &format!("{}api/status", info.base_url), Some(&info.token)) == Some(200)
}

enum Watched {
    Stopped,
    JobEnded(String),
}

/// Until Ctrl-C or the job's end: asks the server through the forward every two seconds; when
/// it twice gets no answer, asks the cluster how the job is over the connection (bounded), and
/// replaces a connection that does not answer with a new sign-in, then the forward.
fn watch(
    cx: &mut Context,
    jp: &JupyterPlan,
    id: &str,
    f: &Forward,
    info: &ServerInfo,
    stop: &AtomicBool,
) -> Result<Watched, StepError> {
    let mut misses = 0;
    loop {
        let next = Instant::now() + WATCH_EVERY;
        while Instant::now() < next {
            if stop.load(Ordering::SeqCst) {
                return Ok(Watched::Stopped);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if answers(f, info) {
            misses = 0;
            continue;
        }
        misses += 1;
        if misses < 2 {
            continue;
        }
        cx.reporter.trace("the server does not answer through the forward; asking the cluster");
        // A connection that is gone, or one whose socket answers while its TCP does not (a
        // laptop that slept): replaced with one new sign-in, then the forward again.
        let alive = cx.remote().is_open();
        let script = jp.scripts.wait.clone().and_args([id.to_string(), "-".into(), "0".into()]);
        let asked = if alive { Some(ask(cx, &script, Duration::from_secs(8))) } else { None };
        match asked {
            Some(Ok(out)) => {
                let reports = tags::<JupyterReport>(&out.stdout);
                if let Some(how) = reports.iter().find_map(|r| {
                    if let JupyterReport::Ended(h) = r {
                        Some(h.clone())
                    } else {
                        None
                    }
                }) {
                    return Ok(Watched::JobEnded(how.trim().to_string()));
                }
                // The connection answers and the job runs: the forward itself went; add it again.
                let _ = cx.remote().forward(f, true);
            }
            _ if stop.load(Ordering::SeqCst) => return Ok(Watched::Stopped),
            _ => {
                cx.reporter.detail(&format!(
                    "The connection to {} was lost; signing in again (the server and its kernels keep running).",
                    jp.display_name
                ));
                cx.remote().drop_connection();
                super::busy_retry::connect(cx)?;
                add_forward(cx, f)?;
                if answers(f, info) {
                    cx.reporter.detail("Connection restored: the same server, its kernels as they were.");
                }
            }
        }
        misses = 0;
    }
}

/// The job's place, for `--list`.
pub fn place(cx: &mut Context, jp: &JupyterPlan, id: &str) -> Result<Option<JobWhere>, StepError> {
    interactive_job::place(cx, &jp.scripts.wait.clone().and_args([id.to_string(), "-".into(), "0".into()]))
}

/// Cancels a job on the person's request (`--stop`).
pub fn stop(cx: &mut Context, jp: &JupyterPlan, id: &str) -> Result<(), StepError> {
    cancel(cx, jp, id)
}
