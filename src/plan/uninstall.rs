//! What `hpcinit uninstall --remote` removes on the cluster, from the plan: the project's
//! environment, its code snapshots and the files hpcinit wrote (never one the person wrote),
//! as `uninstall.sh` and one call each. Pure: the plan in, the list and the script out.

use super::Plan;
use crate::exchange::Tagged;
use crate::quote::sh_path;

/// The functions that remove hpcinit's things on the cluster.
pub const UNINSTALL_SH: &str = include_str!("uninstall.sh");

/// What would be removed, in words, and the script that removes it.
pub fn script(plan: &Plan) -> (Vec<String>, String) {
    let mut targets = Vec::new();
    let mut s = UNINSTALL_SH.to_string();
    if let Some(p) = plan.python() {
        targets.push(format!("the environment {}", p.venv));
        s.push_str(&format!("hpcinit_remove_venv {}\n", sh_path(&p.venv)));
    }
    if let Some(p) = plan.sync() {
        targets.push(format!("every code snapshot in {}", p.snapshots));
        s.push_str(&format!("hpcinit_remove_snapshots {}\n", sh_path(&p.snapshots)));
    }
    if let Some(t) = plan.job_templates() {
        for f in &t.files {
            targets.push(format!("{} (if hpcinit wrote it)", f.path));
            s.push_str(&format!("hpcinit_remove_written {}\n", sh_path(&f.path)));
        }
    }
    (targets, s)
}

/// A path the script removed.
pub struct Removed(pub String);

impl Tagged for Removed {
    fn from_tag(tag: &str, payload: &str) -> Option<Removed> {
        (tag == "removed").then(|| Removed(payload.to_string()))
    }
}
