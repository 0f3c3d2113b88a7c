//! The code-snapshot step, planned from the project's facts and the person's sync answers: the
//! rsync command and the summary. Pure; the plan's types and scripts are in `snapshot`.

use super::facts::LocalFacts;
use super::snapshot::{
    human_bytes, rsync_path, CopyRoute, SyncAnswers, SyncPlan, SyncScripts, INCOMING, SIDECAR,
};
use super::step::{Action, Step};
use crate::local::project::GitState;
use crate::ssh_command::rsync_rsh;

/// The step for `project` on `site`.
pub fn step(
    site: &str,
    project: &str,
    local: &LocalFacts,
    answers: &SyncAnswers,
    slurm: bool,
    route: CopyRoute,
) -> Step {
    let code = &local.code;
    let snapshots = format!("~/scratch/code-snapshots/{project}");
    let dir = format!("scratch/code-snapshots/{project}");
    let suffix = code.git.as_ref().map(|g| suffix_of(&g.short_sha, g.dirty)).unwrap_or_default();
    let mut rsync: Vec<String> = [
        "rsync",
        "--recursive",
        "--links",
        "--times",
        "--perms",
        "--chmod=Fa-w",
        "--delete",
        "--delete-excluded",
        // Before --exclude-from: rsync reads that file as soon as it parses the option.
        "--from0",
        "--exclude-from=-",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(b) = &answers.bwlimit {
        rsync.push(format!("--bwlimit={}", b.text));
    }
    rsync.push(format!("--rsync-path={}", rsync_path(&dir)));
    rsync.push("--stats".into());
    rsync.push("-e".into());
    rsync.push(rsync_rsh(&[&local.program, "rsh"], local.ssh_config.as_deref()));
    rsync.push(SIDECAR.into());
    rsync.push(format!("{}/", code.root.trim_end_matches('/')));
    rsync.push(format!("{site}:{dir}/{INCOMING}/"));
    let protect = if slurm { "slurm" } else { "none" };
    let what = match &code.git {
        Some(g) => {
            format!("commit {}{}", g.short_sha, if g.dirty { " with uncommitted changes" } else { "" })
        }
        None => "no git commit".into(),
    };
    let summary = format!(
        "Copy the project ({} files, {}; {what}) {}into a new snapshot {snapshots}/<UTC time>{suffix}/ without .git, what git ignores, venvs and caches; unchanged files are hard links to the previous snapshot, and latest moves only once every file arrived{}.",
        code.files,
        human_bytes(code.bytes),
        if route == CopyRoute::Sftp { "over SFTP " } else { "" },
        match answers.keep {
            Some(k) => format!("; the newest {k} of hpcinit's snapshots are kept"),
            None => String::new(),
        }
    );
    Step::new(
        "Code snapshot",
        summary,
        Action::Sync(SyncPlan {
            root: code.root.clone(),
            snapshots,
            scripts: SyncScripts::new(&dir, answers.keep, protect),
            dir,
            suffix,
            files: code.files,
            bytes: code.bytes,
            venvs: code.venvs.clone(),
            excludes: answers.excludes.clone(),
            keep: answers.keep,
            bwlimit: answers.bwlimit.clone(),
            route,
            rsync,
            protect,
            problem: code.problem.clone(),
        }),
    )
}

fn suffix_of(sha: &str, dirty: bool) -> String {
    GitState::suffix(Some(&GitState { short_sha: sha.into(), dirty }))
}
