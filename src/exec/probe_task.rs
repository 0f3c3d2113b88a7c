//! The probe step: one login-shell round trip that looks at the cluster and changes nothing;
//! its facts rebuild the plan, so every later step works from what is really there. Later
//! steps append the probe (without the module listing) to their own script, so their check
//! after applying costs no extra round trip.

use super::{Applied, Check, Context, StepError, Task};
use crate::exchange::Script;
use crate::exchange::{last_tagged, tagged};
use crate::plan::facts::ModuleSystem;
use crate::plan::{ProbePlan, RemoteFacts};
use crate::remote::RemoteOutput;

pub struct ProbeTask {
    plan: ProbePlan,
}

impl ProbeTask {
    pub fn new(plan: &ProbePlan) -> ProbeTask {
        ProbeTask { plan: plan.clone() }
    }
}

impl Task for ProbeTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        Ok(match &cx.facts {
            Some(f) => Check::Done(describe(cx, f)),
            None => Check::Needed("nothing known about the cluster yet".into()),
        })
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let script = self.plan.script();
        let out = cx.run_script(&script, &mut |_| {})?;
        take_facts(cx, &out, "the probe")?;
        let facts = cx.facts.clone().expect("just set");
        for w in warnings(&self.plan, &facts) {
            cx.reporter.detail(&w);
        }
        Ok(Applied::Changed(describe(cx, &facts)))
    }
}

/// `script` followed by the plan's probe, so one round trip both changes and re-reads the
/// cluster ([`crate::plan::Plan::then_probe`]).
pub fn then_probe(cx: &Context, script: &Script) -> Script {
    cx.plan.then_probe(script)
}

/// Reads the probe's line from `out` and rebuilds the plan from it.
pub fn take_facts(cx: &mut Context, out: &RemoteOutput, what: &str) -> Result<(), StepError> {
    let Some(json) = last_tagged(&out.stdout, "probe") else {
        let mut detail = format!("{what} printed no result (exit {})", out.status);
        let tail: Vec<&str> = out.stdout.lines().chain(out.stderr.lines()).rev().take(8).collect();
        if !tail.is_empty() {
            detail.push_str(": ");
            detail.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join(" | "));
        }
        return Err(StepError::Cluster {
            what: what.into(),
            detail,
            hint: "hpcinit runs `bash -l` on the cluster; check that a login shell starts cleanly (`ssh SITE bash -l -c true`)".into(),
        });
    };
    let facts: RemoteFacts = serde_json::from_str(json).map_err(|e| StepError::Cluster {
        what: what.into(),
        detail: format!("its answer is not what hpcinit expects ({e})"),
        hint: "run again with -v and report the output".into(),
    })?;
    cx.set_facts(facts)
}

/// Runs a step's change followed by a probe, in one round trip, and takes the new facts; a
/// non-zero exit is `what` failing, with the cluster's words and `hint`.
pub fn change_and_reprobe(
    cx: &mut Context,
    script: &Script,
    what: &str,
    hint: &str,
) -> Result<RemoteOutput, StepError> {
    let script = then_probe(cx, script);
    let out = cx.run_script(&script, &mut |_| {})?;
    if !out.success() {
        return Err(script_failed(what, &out, hint));
    }
    take_facts(cx, &out, what)?;
    Ok(out)
}

/// A step's script that exited non-zero: what the cluster printed (tagged lines left out).
fn script_failed(what: &str, out: &RemoteOutput, hint: &str) -> StepError {
    let detail: Vec<&str> =
        out.stdout.lines().chain(out.stderr.lines()).filter(|l| tagged(l).is_none()).collect();
    StepError::Cluster { what: what.into(), detail: detail.join(" | "), hint: hint.into() }
}

fn describe(cx: &Context, f: &RemoteFacts) -> String {
    let ms = match f.module_system.kind {
        ModuleSystem::Lmod => format!("Lmod {}", f.module_system.version),
        ModuleSystem::Tcl => format!("environment modules {}", f.module_system.version),
        ModuleSystem::None => "no module system".into(),
    };
    let python = cx.plan.python().map(|p| p.module.display()).unwrap_or_default();
    let shell = f.shell.rsplit('/').next().unwrap_or("?");
    format!("{} in {} ({shell}); {}; Python from {python}", f.user, f.home, ms.trim_end())
}

fn warnings(p: &ProbePlan, f: &RemoteFacts) -> Vec<String> {
    let mut w = Vec::new();
    if !f.has("rsync") {
        w.push("rsync is not on the cluster's PATH: code snapshots need it".into());
    }
    let missing: Vec<&str> = p.scheduler_commands.iter().map(String::as_str).filter(|c| !f.has(c)).collect();
    if !missing.is_empty() {
        w.push(format!(
            "not found on the login node: {} (jobs cannot be submitted from here)",
            missing.join(", ")
        ));
    }
    if let Some(q) = &p.quota_command {
        if !f.has(q) {
            w.push(format!("the quota command `{q}` is not on PATH here"));
        }
    }
    w
}
