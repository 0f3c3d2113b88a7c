//! `hpcinit sync`: a new immutable snapshot of the project's code on the cluster, over the open
//! shared connection (signing in once if it is closed). With `--dry-run`, one look at the latest
//! snapshot's manifest and a list of what would change; nothing is copied. With `--verify`, the
//! snapshot's files are compared with its manifest afterwards (one more round trip).

use super::inputs::Listing;
use super::Session;
use crate::cli::SetupArgs;
use crate::error::Error;
use crate::exec::sync::{self, Verified};
use crate::exec::{self, Context};
use crate::exit::Diagnostic;
use crate::exit::Exit;
use crate::local::project;
use crate::plan::snapshot::human_bytes;
use crate::plan::StepId;
use crate::prompt::Prompter;

pub fn run(s: &mut Session, args: &SetupArgs, dry_run: bool, verify: bool) -> Result<Exit, Error> {
    let (set, cli, env) = (s.set, s.cli, s.env);
    let prompter: &mut dyn Prompter = &mut *s.prompter;
    let inputs = super::inputs::Inputs::resolve(set, cli, env, args, Listing::InTheStep)?;
    if inputs.answers.no_project {
        return Err(Error::Usage {
            message: format!(
                "{} is no project: not a git work tree, no requirements.txt or pyproject.toml",
                env.tilde(&inputs.answers.project_dir)
            ),
            hint: "run it in your project's folder, or name it with --project-dir DIR".into(),
        });
    }
    // The key step only reads an existing key (the ssh2 transport signs in with it).
    let mut ids = vec![];
    if inputs.local.key_exists {
        ids.push(StepId::Key);
    }
    ids.push(StepId::Connect);
    if !dry_run {
        ids.push(StepId::Sync);
    }
    let lines = super::with_context(&inputs, cli, env, s.printer, &mut *prompter, |cx| {
        // The copy itself proves the shared connection answers (bounded), not a round trip first.
        cx.lazy_proof = !dry_run && !verify;
        exec::run(cx, &ids)?;
        if verify {
            return verify_lines(cx).map_err(|e| Error::Step { title: "Verify".into(), error: Box::new(e) });
        }
        if !dry_run {
            return Ok(Vec::new());
        }
        dry_run_lines(cx).map_err(|e| Error::Step { title: "Dry run".into(), error: Box::new(e) })
    })?;
    for l in lines {
        s.printer.line(&l).map_err(Error::Output)?;
    }
    Ok(Exit::Ok)
}

/// `--verify`: the snapshot's files against its manifest and the project; an error when they
/// differ.
fn verify_lines(cx: &mut Context) -> Result<Vec<String>, crate::exec::StepError> {
    let Some(p) = cx.plan.sync().cloned() else { return Ok(vec!["this plan copies no code".into()]) };
    let scan = scan(&p)?;
    Ok(match sync::verify(cx, &p, &scan)? {
        Verified::None => vec![format!("No snapshot in {} yet.", p.snapshots)],
        Verified::Intact { name, current } => vec![format!(
            "Verified: {}/latest ({name}) holds exactly the {} files of its manifest{}.",
            p.snapshots,
            scan.files(),
            if current { ", which is this project as it is now" } else { "; the project has changed since" }
        )],
        Verified::Damaged { name, differences } => {
            let shown = differences.iter().take(20).cloned().collect::<Vec<_>>().join("\n");
            return Err(crate::exec::StepError::Cluster {
                what: "verifying the snapshot".into(),
                detail: format!(
                    "the files of {}/{name} differ from its manifest (changed on the cluster after the sync?); compared with this project:\n{shown}{}",
                    p.snapshots,
                    if differences.len() > 20 { format!("\n… and {} more", differences.len() - 20) } else { String::new() }
                ),
                hint: "the project itself is unchanged, so `hpcinit sync` keeps this snapshot as latest: touch one of its files (`touch requirements.txt`) and run `hpcinit sync` for a fresh snapshot; the damaged one stays as it is".into(),
            });
        }
    })
}

fn scan(p: &crate::plan::snapshot::SyncPlan) -> Result<project::Scan, crate::exec::StepError> {
    project::scan(std::path::Path::new(&p.root), &p.excludes).map_err(|e| crate::exec::StepError::Local {
        what: "listing the project".into(),
        detail: e.to_string(),
        hint: e.hint().unwrap_or_default(),
    })
}

fn dry_run_lines(cx: &mut Context) -> Result<Vec<String>, crate::exec::StepError> {
    let Some(p) = cx.plan.sync().cloned() else { return Ok(vec!["this plan copies no code".into()]) };
    let root = std::path::Path::new(&p.root);
    let scan = scan(&p)?;
    let latest = sync::latest(cx, &p, true)?;
    let mut lines = Vec::new();
    let suffix = project::GitState::suffix(project::git_state(root).as_ref());
    let (new, changed, deleted) = sync::diff(&scan, latest.manifest.as_deref().unwrap_or_default());
    match &latest.name {
        Some(name) if new.is_empty() && changed.is_empty() && deleted.is_empty() => {
            lines.push(format!("Nothing would change: {}/latest ({name}) holds this code.", p.snapshots));
            return Ok(lines);
        }
        Some(name) => lines.push(format!(
            "Would make {}/<UTC time>{suffix}/ ({} files, {}), compared with latest ({name}):",
            p.snapshots,
            scan.files(),
            human_bytes(scan.bytes())
        )),
        None => lines.push(format!(
            "Would make the first snapshot, {}/<UTC time>{suffix}/ ({} files, {}):",
            p.snapshots,
            scan.files(),
            human_bytes(scan.bytes())
        )),
    }
    for (mark, list) in [("+", &new), ("~", &changed), ("-", &deleted)] {
        for path in list {
            lines.push(format!("  {mark} {path}"));
        }
    }
    let same = scan.entries.len().saturating_sub(new.len() + changed.len());
    lines.push(format!(
        "{} new, {} changed, {} deleted; {same} unchanged (hard links, not sent). Nothing was copied.",
        new.len(),
        changed.len(),
        deleted.len()
    ));
    Ok(lines)
}
