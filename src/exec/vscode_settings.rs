//! The VS Code settings `hpcinit code` needs on this machine, offered before VS Code opens:
//! the node's VS Code server on scratch (`remote.SSH.serverInstallPath`) and a connect timeout
//! long enough for the hop through the login node. Asked once on a terminal (`--vscode-settings`
//! / `--no-vscode-settings` answer it in scripts); the file is backed up before the first
//! change and every other byte of it stays; `hpcinit uninstall` takes the additions back out.

use super::{Context, StepError};
use crate::local::{atomic, vscode};
use crate::plan::node::NodePlan;

pub fn offer(
    cx: &mut Context,
    np: &NodePlan,
    node: &str,
    scratch: &str,
    consent: Option<bool>,
) -> Result<(), StepError> {
    let Some(file) = vscode::settings_file(cx.env) else { return Ok(()) };
    let dir_exists = file.parent().is_some_and(|d| d.is_dir());
    if !dir_exists && consent != Some(true) {
        cx.reporter.trace(&format!("no VS Code settings at {}", file.display()));
        return Ok(());
    }
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let mut added = vscode::added(cx.env)
        .filter(|a| a.file == file)
        .unwrap_or_else(|| vscode::Added { file: file.clone(), ..Default::default() });
    let edit = match vscode::with_host(&text, &np.site, node, scratch, &mut added) {
        Ok(Some(e)) => e,
        Ok(None) => return Ok(()),
        Err(why) => {
            cx.reporter.detail(&format!(
                "VS Code's settings ({}) could not be read as JSON with comments ({why}); hpcinit leaves them alone. Set `{}` for {node} to {scratch} yourself.",
                cx.env.tilde(&file),
                vscode::INSTALL_PATH
            ));
            return Ok(());
        }
    };
    let shown = cx.env.tilde(&file);
    let question = format!(
        "Let VS Code put its server for {node} on your scratch ({scratch}) rather than {}'s small home, and wait {} s to connect? This changes {} in {shown} (backed up first; `hpcinit uninstall` takes it back)",
        np.display_name,
        vscode::TIMEOUT,
        edit.changes.iter().map(|c| c.split(':').next().unwrap_or(c)).collect::<Vec<_>>().join(" and "),
    );
    let yes = match consent {
        Some(c) => c,
        None if cx.prompter.interactive() => cx.prompter.confirm(&question, true, "--vscode-settings")?,
        None => {
            cx.reporter.detail(&format!(
                "VS Code's settings not changed (no terminal to ask): `--vscode-settings` lets hpcinit set {} in {shown}.",
                edit.changes.join("; ")
            ));
            return Ok(());
        }
    };
    if !yes {
        cx.reporter.detail(&format!(
            "VS Code's settings left as they are; hpcinit would have set {}.",
            edit.changes.join("; ")
        ));
        return Ok(());
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StepError::Write { path: dir.to_path_buf(), source: e })?;
    }
    let backup =
        atomic::backup_once(&file).map_err(|e| StepError::Write { path: file.clone(), source: e })?;
    atomic::write(&file, edit.text.as_bytes(), 0o644)
        .map_err(|e| StepError::Write { path: file.clone(), source: e })?;
    vscode::save_added(cx.env, &added).map_err(|e| StepError::Write { path: file.clone(), source: e })?;
    cx.reporter.detail(&format!(
        "VS Code settings ({shown}): {}{}; nothing else in the file changed.",
        edit.changes.join("; "),
        backup.map(|b| format!(" (backed up first to {})", cx.env.tilde(&b))).unwrap_or_default()
    ));
    Ok(())
}
