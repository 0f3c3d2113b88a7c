//! `hpcinit sync`: a new immutable snapshot of the project's code on the cluster, over the open
//! shared connection (signing in once if it is closed). With `--dry-run`, one look at the latest
//! snapshot's manifest and a list of what would change; nothing is copied.

use super::Session;
use crate::cli::SetupArgs;
use crate::error::Error;
use crate::exec::{self, sync_task, Context};
use crate::exit::Diagnostic;
use crate::exit::Exit;
use crate::local::project;
use crate::plan::snapshot::human_bytes;
use crate::plan::StepId;
use crate::prompt::Prompter;

pub fn run(s: &mut Session, args: &SetupArgs, dry_run: bool) -> Result<Exit, Error> {
    let (set, cli, env) = (s.set, s.cli, s.env);
    let prompter: &mut dyn Prompter = &mut *s.prompter;
    let inputs = super::plan::inputs_with(set, args, env, false)?;
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
        exec::run(cx, &ids)?;
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

fn dry_run_lines(cx: &mut Context) -> Result<Vec<String>, crate::exec::StepError> {
    let Some(p) = cx.plan.sync().cloned() else { return Ok(vec!["this plan copies no code".into()]) };
    let root = std::path::Path::new(&p.root);
    let scan = project::scan(root, &p.excludes).map_err(|e| crate::exec::StepError::Local {
        what: "listing the project".into(),
        detail: e.to_string(),
        hint: e.hint().unwrap_or_default(),
    })?;
    let latest = sync_task::latest(cx, &p, true)?;
    let mut lines = Vec::new();
    let suffix = project::GitState::suffix(project::git_state(root).as_ref());
    let (new, changed, deleted) = sync_task::diff(&scan, latest.manifest.as_deref().unwrap_or_default());
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
