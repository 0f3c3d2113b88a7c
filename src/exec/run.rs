//! Carrying out a plan: each step's task made from its own struct, then check → apply → check
//! again, in the plan's order, with the slow parts of later steps started early where they can.

use super::context::{Context, Proof};
use super::error::StepError;
use super::task::{Applied, Check, Task};
use super::{
    check_job_task, connect_task, host_key_task, job_templates_task, key_task, lock_task, probe_task,
    python_task, register_key_task, remote_layout_task, ssh_config_task, sync, windows_ssh_task,
};
use crate::plan::{Action, Plan, Step, StepId};
use crate::ui::Status;

/// The step a run stopped at, and why.
#[derive(Debug, thiserror::Error)]
#[error("{title}: {error}")]
pub struct StepFailed {
    pub title: String,
    pub error: Box<StepError>,
}

/// The task that carries out `step`, made from the step's own plan.
fn task_for(step: &Step) -> Box<dyn Task> {
    match &step.action {
        Action::Key(p) => Box::new(key_task::KeyTask::new(p)),
        Action::NoKey(p) => Box::new(key_task::KeyTask::none(p)),
        Action::SshConfig(p) => Box::new(ssh_config_task::SshConfigTask::new(p)),
        Action::HostKey(p) => Box::new(host_key_task::HostKeyTask::new(p)),
        Action::Connect(p) => Box::new(connect_task::ConnectTask::new(p)),
        Action::RegisterKey(p) => Box::new(register_key_task::RegisterKeyTask::new(p)),
        Action::Probe(p) => Box::new(probe_task::ProbeTask::new(p)),
        Action::RemoteLayout(p) => Box::new(remote_layout_task::RemoteLayoutTask::new(p)),
        Action::JobTemplates(p) => Box::new(job_templates_task::JobTemplatesTask::new(p)),
        Action::Python(p) => Box::new(python_task::PythonTask::new(p)),
        Action::Lock(p) => Box::new(lock_task::LockTask::new(p)),
        Action::Sync(p) => Box::new(sync::SyncTask::new(p)),
        Action::CheckJob(p) => Box::new(check_job_task::CheckJobTask::new(p)),
        Action::WindowsSsh(p) => Box::new(windows_ssh_task::WindowsSshTask::new(p)),
    }
}

/// Runs the steps among `ids` that the plan has, in the plan's order, each in its current form (the plan
/// is rebuilt when the probe reports); stops at the first failure. After each step, the later
/// ones may start their slow part early ([`Task::head_start`]): the venv build on a channel of
/// its own while the login shell writes the templates, the code copy while the venv builds.
/// Reports stay in the plan's order; work started early and not collected is stopped at a
/// failure.
pub fn run(cx: &mut Context, ids: &[StepId]) -> Result<(), StepFailed> {
    let ids: Vec<StepId> = cx.plan.steps.iter().map(|s| s.id).filter(|id| ids.contains(id)).collect();
    let total = ids.len();
    let mut started: Vec<(StepId, Box<dyn Task>)> = Vec::new();
    start_later(cx, &ids, &mut started);
    for (i, id) in ids.iter().enumerate() {
        let Some(step) = cx.plan.step(*id).cloned() else { continue };
        let early = started.iter().position(|(s, _)| s == id).map(|at| started.remove(at).1);
        let mut task = early.unwrap_or_else(|| task_for(&step));
        cx.reporter.begin(i + 1, total, &step.title);
        let before = cx.round_trips;
        let began = std::time::Instant::now();
        let result = run_one(task.as_mut(), cx, &step);
        let trips = cx.round_trips - before;
        // With -v, what each step cost (round trips, when it reached the cluster): where a
        // run's time goes, without a profiler. A step done in under a millisecond stays one line.
        let took = began.elapsed().as_millis();
        if trips > 0 {
            cx.reporter.trace(&format!(
                "{trips} round trip{} in this step, {took} ms",
                if trips == 1 { "" } else { "s" }
            ));
        } else if took > 0 || *id == StepId::Connect {
            cx.reporter.trace(&format!("this step took {took} ms"));
        }
        match result {
            Ok((status, line)) => cx.reporter.end(status, &line),
            Err(e) => {
                cx.reporter.end(Status::Failed, &e.to_string());
                return Err(StepFailed { title: step.title.clone(), error: Box::new(e) });
            }
        }
        start_later(cx, &ids[i + 1..], &mut started);
    }
    collect_proofs(cx)
}

/// Waits for the checks steps left running; the first that fails fails the run, in its step's
/// name.
fn collect_proofs(cx: &mut Context) -> Result<(), StepFailed> {
    for Proof { title, query, refused } in std::mem::take(&mut cx.proofs) {
        let error = match query.answer() {
            Ok(true) => {
                cx.reporter
                    .trace(&format!("{title}: the server accepts the key (checked beside the later steps)"));
                continue;
            }
            Ok(false) => refused,
            Err(e) => {
                let hint = cx.connect_hint(&e);
                StepError::Remote { error: e, hint }
            }
        };
        return Err(StepFailed { title, error: Box::new(error) });
    }
    Ok(())
}

/// Lets each of `later` start its slow part, or take its next part if it started already (a
/// listing made while signing in, then the copy once the probe reported).
fn start_later(cx: &mut Context, later: &[StepId], started: &mut Vec<(StepId, Box<dyn Task>)>) {
    for id in later {
        if let Some((_, task)) = started.iter_mut().find(|(s, _)| s == id) {
            task.head_start(cx);
            continue;
        }
        let Some(step) = cx.plan.step(*id) else { continue };
        let mut task = task_for(step);
        if task.head_start(cx) {
            started.push((*id, task));
        }
    }
}

/// The ids of the plan's steps, in order (`ssh_only`: the SSH ones).
pub fn step_ids(plan: &Plan, ssh_only: bool) -> Vec<StepId> {
    plan.steps.iter().map(|s| s.id).filter(|id| !ssh_only || id.is_ssh()).collect()
}

/// Step `id`'s check alone, changing nothing (`doctor`); `None` when the plan has no such step.
pub fn check_only(cx: &mut Context, id: StepId) -> Option<Result<Check, StepError>> {
    let mut task = task_for(cx.plan.step(id)?);
    Some(task.check(cx))
}

/// Step `id` carried out as the run would (check → apply → verify), for steps that only read
/// or sign in (`connect`, `probe`); `None` when the plan has no such step.
pub fn ensure(cx: &mut Context, id: StepId) -> Option<Result<(Status, String), StepError>> {
    let step = cx.plan.step(id)?.clone();
    let mut task = task_for(&step);
    Some(run_one(task.as_mut(), cx, &step))
}

fn run_one(task: &mut dyn Task, cx: &mut Context, step: &Step) -> Result<(Status, String), StepError> {
    if let Check::Done(found) = task.check(cx)? {
        return Ok((Status::Unchanged, found));
    }
    match task.apply(cx)? {
        Applied::Unchanged(found) => Ok((Status::Unchanged, found)),
        Applied::Pending(left) => {
            cx.pending.push(left.clone());
            Ok((Status::Pending, left))
        }
        Applied::Changed(what) => match task.check(cx)? {
            Check::Done(_) => Ok((Status::Done, what)),
            Check::Needed(why) => Err(StepError::NotVerified { step: step.title.clone(), why }),
        },
    }
}
