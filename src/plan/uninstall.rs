//! What `hpcinit uninstall --remote` removes on the cluster, from the plan: the project's
//! environment, its code snapshots and the files hpcinit wrote (never one the person wrote),
//! as one call of `uninstall.sh` with each path an argument. Pure: the plan in, the list in words
//! and the script out.

use super::plan::Plan;
use crate::exchange::{Script, Tagged};
use serde::Serialize;

/// The functions that remove hpcinit's things on the cluster.
pub const UNINSTALL_SH: &str = include_str!("uninstall.sh");

/// What would be removed on the cluster, in words, and the script that removes it.
#[derive(Debug, Clone, Serialize)]
pub struct UninstallPlan {
    pub targets: Vec<String>,
    /// `hpcinit_uninstall` with `venv:PATH`, `snapshots:PATH` and `written:PATH` arguments.
    pub script: Script,
}

pub fn plan(plan: &Plan) -> UninstallPlan {
    let mut targets = Vec::new();
    let mut args = Vec::new();
    if let Some(p) = plan.python() {
        targets.push(format!("the environment {}", p.venv));
        args.push(format!("venv:{}", p.venv));
    }
    if let Some(p) = plan.sync() {
        targets.push(format!("every code snapshot in {}", p.snapshots));
        args.push(format!("snapshots:{}", p.snapshots));
    }
    if let Some(t) = plan.job_templates() {
        for f in &t.files {
            targets.push(format!("{} (if hpcinit wrote it)", f.path));
            args.push(format!("written:{}", f.path));
        }
    }
    let body = format!("{UNINSTALL_SH}hpcinit_uninstall \"$@\"");
    UninstallPlan { targets, script: Script::new("remove the project's files", body).with_args(args) }
}

/// A path the script removed.
pub struct Removed(pub String);

impl Tagged for Removed {
    fn from_tag(tag: &str, payload: &str) -> Option<Removed> {
        (tag == "removed").then(|| Removed(payload.to_string()))
    }
}
