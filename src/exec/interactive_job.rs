//! What every interactive session (`hpcinit jupyter`, `code`, `shell`) does with its job on the
//! cluster, over the login node's shared connection: one exchange at a time with its lines as
//! they come, the job's place, its cancellation, and the local record of a job hpcinit started
//! (`local::servers`).

use super::{Context, StepError};
use crate::exchange::{tags, Script};
use crate::local::servers::{self, Server};
use crate::plan::jupyter::{JobWhere, JupyterReport};
use crate::remote::RemoteOutput;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One exchange on a channel of its own, its lines passed to `on_line` as they come, bounded
/// by `limit` and ended early when `stop_now` says so.
pub fn exchange(
    cx: &mut Context,
    script: &Script,
    limit: Duration,
    stop_now: &dyn Fn() -> bool,
    on_line: &mut dyn FnMut(&str),
) -> Result<RemoteOutput, StepError> {
    match cx.start_script(script) {
        Some(running) => {
            cx.round_trips += 1;
            running.wait_until(limit, stop_now, on_line).map_err(|e| {
                let hint = cx.connect_hint(&e);
                StepError::Remote { error: e, hint }
            })
        }
        None => cx.run_script(script, on_line),
    }
}

/// One exchange, bounded by `limit`, its output collected.
pub fn ask(cx: &mut Context, script: &Script, limit: Duration) -> Result<RemoteOutput, StepError> {
    exchange(cx, script, limit, &|| false, &mut |_| {})
}

pub fn no_answer(what: &str, out: &RemoteOutput) -> StepError {
    StepError::Cluster {
        what: what.into(),
        detail: format!(
            "the cluster's answer was not understood (exit {}): {}",
            out.status,
            out.stdout.trim()
        ),
        hint: "run again with -v to see the exchange".into(),
    }
}

pub fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n  {}", tail.join("\n  "))
    }
}

/// What a submitted job asked for, as the start step reports it: `1 CPU, 512M, 00:30:00, queue hpc`
/// (a Slurm partition, an LSF queue).
pub fn asked(r: &crate::plan::jupyter::Resources, kind: crate::profile::raw::SchedulerKind) -> String {
    let place = match kind {
        crate::profile::raw::SchedulerKind::Slurm => "partition",
        crate::profile::raw::SchedulerKind::Lsf => "queue",
    };
    format!(
        "{} CPU, {}, {}{}{}",
        r.cpus.value,
        r.memory.value,
        r.time.value,
        if r.gpus.value > 0 { format!(", {} GPU", r.gpus.value) } else { String::new() },
        r.partition.as_ref().map(|p| format!(", {place} {}", p.value)).unwrap_or_default(),
    )
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Cancels job `id` with `script` (the plan's cancel exchange), which also removes its files on
/// the cluster, and forgets its local record; `what` names the job in an error.
pub fn cancel(cx: &mut Context, script: &Script, site: &str, id: &str, what: &str) -> Result<(), StepError> {
    let out = ask(cx, &script.clone().arg(id), Duration::from_secs(60))?;
    servers::forget(cx.env, site, id);
    if tags::<JupyterReport>(&out.stdout).iter().any(|r| matches!(r, JupyterReport::Cancelled(_))) {
        cx.reporter.detail(&format!("Job {id} cancelled; its files on the cluster are removed."));
        Ok(())
    } else {
        Err(no_answer(&format!("cancelling {what}"), &out))
    }
}

/// The job's place as the scheduler says it, asked with `script` (the plan's follow exchange with
/// the run's values), for `--list`.
pub fn place(cx: &mut Context, script: &Script) -> Result<Option<JobWhere>, StepError> {
    let out = ask(cx, script, Duration::from_secs(30))?;
    Ok(tags::<JupyterReport>(&out.stdout).into_iter().find_map(|r| {
        if let JupyterReport::Where(w) = r {
            Some(w)
        } else {
            None
        }
    }))
}

/// Records (or updates) a job hpcinit started, keeping when it was first submitted; a record
/// that cannot be written is said, not fatal. `time` is the job's walltime as submitted.
pub fn record(cx: &mut Context, mut s: Server, time: &str) {
    s.minutes = crate::profile::scalar::Walltime::try_from(time.to_string()).map(|w| w.minutes).unwrap_or(60);
    let old = servers::of_kind(cx.env, &s.kind).into_iter().find(|o| o.site == s.site && o.job == s.job);
    s.submitted = old.as_ref().map(|o| o.submitted).unwrap_or_else(now);
    if let Err(e) = servers::record(cx.env, &s) {
        cx.reporter.detail(&format!("(could not record the job locally: {e})"));
    }
}

/// The follow exchange with the run's values (the last place seen, how long to follow).
pub type FollowScript<'a> = Box<dyn Fn(&str, u64) -> Script + 'a>;
/// What ends a follow: the value found, or an error.
pub type Finder<'a, T> = Box<dyn Fn(&JupyterReport) -> Option<Result<T, StepError>> + 'a>;

/// What a follow of a job looks for, and how it names the job.
pub struct Follow<'a, T> {
    pub id: &'a str,
    /// "the Jupyter job": errors say `{what} ended`, `{what} did not start`.
    pub what: &'a str,
    /// What had not happened when a job ended early: "before its server started".
    pub before: &'a str,
    /// The hint for a job that ended early.
    pub ended_hint: String,
    /// The follow exchange with the run's values: the last place seen and how long to follow.
    pub script: FollowScript<'a>,
    /// What ends the follow: the value found, or an error (the report says something is wrong).
    pub found: Finder<'a, T>,
}

/// How long one follow-up exchange follows the job on the cluster before it answers.
pub const FOLLOW_SECONDS: u64 = 20;

/// Follows the job until `f.found` finds what it looks for, one exchange per [`FOLLOW_SECONDS`]
/// whose lines arrive as the job's place changes (shown in place, and traced); what an earlier
/// exchange saw (`earlier`) comes first, so a job that started at once costs no other
/// exchange. `Ok(None)` when Ctrl-C came first; an error when the job ended or did not start
/// within `timeout`.
pub fn follow<T>(
    cx: &mut Context,
    f: Follow<'_, T>,
    timeout: Duration,
    stop: &std::sync::atomic::AtomicBool,
    earlier: Vec<JupyterReport>,
) -> Result<Option<T>, StepError> {
    use std::sync::atomic::Ordering;
    let id = f.id;
    let began = std::time::Instant::now();
    let mut last = String::from("-");
    let mut last_state = String::new();
    let mut wait = cx.reporter.wait(&format!("job {id}: submitted"));
    let mut seen = earlier;
    loop {
        for r in &seen {
            if let JupyterReport::Where(w) = r {
                if w.state != last_state {
                    cx.reporter.trace(&format!("job {id}: {w}"));
                    last_state = w.state.clone();
                }
                last = w.raw.clone();
            }
        }
        let tail: Vec<String> = seen
            .iter()
            .filter_map(|r| if let JupyterReport::Tail(l) = r { Some(l.clone()) } else { None })
            .collect();
        for r in &seen {
            if let Some(found) = (f.found)(r) {
                return found.map(Some);
            }
            if let JupyterReport::Ended(how) = r {
                drop(wait);
                return Err(StepError::Cluster {
                    what: format!("{} ended", f.what),
                    detail: format!("job {id} ended {} ({how}){}", f.before, tail_text(&tail)),
                    hint: f.ended_hint,
                });
            }
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let left = timeout.saturating_sub(began.elapsed());
        if left.is_zero() {
            drop(wait);
            return Err(StepError::Cluster {
                what: f.what.into(),
                detail: format!(
                    "job {id} did not start within {} s (last: {}); it was cancelled",
                    timeout.as_secs(),
                    if last_state.is_empty() { "unknown" } else { &last_state }
                ),
                hint: "the queue is busy: try a shorter --time or fewer --cpus, another --partition, or wait longer with --wait-timeout SECONDS".into(),
            });
        }
        let seconds = left.as_secs().clamp(1, FOLLOW_SECONDS);
        let script = (f.script)(&last, seconds);
        let mut next: Vec<JupyterReport> = Vec::new();
        let mut on_line = |line: &str| {
            for r in tags::<JupyterReport>(line) {
                if let JupyterReport::Where(w) = &r {
                    wait.update(&format!("job {id}: {w}"));
                }
                next.push(r);
            }
        };
        let asked = exchange(
            cx,
            &script,
            Duration::from_secs(seconds + 30),
            &|| stop.load(Ordering::SeqCst),
            &mut on_line,
        );
        if let Err(e) = asked {
            if stop.load(Ordering::SeqCst) {
                return Ok(None);
            }
            return Err(e);
        }
        seen = next;
    }
}
