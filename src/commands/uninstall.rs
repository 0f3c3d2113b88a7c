//! `hpcinit uninstall --site S`: takes back what hpcinit added for a site on this machine — the
//! site's section of `~/.ssh/config.d/hpcinit`, the `Include` line in `~/.ssh/config` once no
//! site is left (the file is then byte for byte what it was before hpcinit), the host keys it
//! recorded in `~/.ssh/known_hosts.d/hpcinit`, and its remembered answers. The key is kept (other
//! sites and devices may use it). With `--remote`, after a confirmation, it also deletes the
//! project's environment, code snapshots and job templates on the cluster. Every rewrite is
//! atomic; it prints each thing it removed.

use super::inputs::Listing;
use super::Session;
use crate::cli::{Cli, SetupArgs};
use crate::env::Env;
use crate::error::Error;
use crate::exchange::tags;
use crate::exec::{self, StepError};
use crate::exit::Exit;
use crate::local::{atomic, include, known_hosts, state, wsl};
use crate::plan::ssh_config::{self, KNOWN_HOSTS_FILE, MANAGED_FILE};
use crate::plan::uninstall::Removed;
use crate::plan::StepId;
use crate::profile::ProfileSet;
use crate::prompt::Prompter;
use crate::ui::Printer;
use std::path::{Path, PathBuf};

pub fn run(s: &mut Session, args: &SetupArgs, remote: bool) -> Result<Exit, Error> {
    let (set, cli, env) = (s.set, s.cli, s.env);
    let prompter: &mut dyn Prompter = &mut *s.prompter;
    let site = args.site.as_deref().ok_or_else(|| Error::Usage {
        message: "which site? no --site given".into(),
        hint: "pass the site to remove, e.g. `hpcinit uninstall --site saga`".into(),
    })?;
    let site = set.get(site)?.name().to_string();
    let mut removed: Vec<String> = Vec::new();
    if remote {
        match remove_remote(set, args, cli, env, s.printer, prompter)? {
            Some(r) => removed.extend(r),
            None => return Ok(Exit::Ok),
        }
    }
    removed.extend(remove_local(env, &site, true)?);
    removed.extend(remove_windows(env, &site)?);
    removed.extend(remove_vscode_settings(env, &site)?);
    if state::forget(env, &site) {
        removed.push(format!("the answers remembered for {site}"));
    }
    let p = &mut *s.printer;
    if removed.is_empty() {
        p.line(&format!("Nothing of hpcinit's for {site} on this machine; nothing was changed."))
            .map_err(Error::Output)?;
        return Ok(Exit::Ok);
    }
    p.line(&p.style().ok(&format!("Removed for {site}:"))).map_err(Error::Output)?;
    for r in &removed {
        p.line(&format!("  - {r}")).map_err(Error::Output)?;
    }
    if env.home.join(super::inputs::DEFAULT_KEY).exists() {
        p.note(&format!(
            "Kept your key ~/{} (other sites or devices may use it); delete it yourself if nothing does.",
            super::inputs::DEFAULT_KEY
        ))
        .map_err(Error::Output)?;
    }
    if !remote {
        p.note("Nothing on the cluster was touched (add --remote to delete this project's environment and snapshots there).")
            .map_err(Error::Output)?;
    }
    Ok(Exit::Ok)
}

/// Takes this site's Host blocks out of hpcinit's ssh config (the Include line too when no
/// site is left) and its host keys out of hpcinit's known_hosts; what it removed, in words.
fn remove_local(env: &Env, site: &str, close: bool) -> Result<Vec<String>, Error> {
    let site = site.to_string();
    let mut removed: Vec<String> = Vec::new();
    let managed = env.home.join(MANAGED_FILE.trim_start_matches("~/"));
    let text = std::fs::read_to_string(&managed).unwrap_or_default();
    let section = ssh_config::section(&text, &site);
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Step {
            title: "Uninstall".into(),
            error: Box::new(StepError::Write { path, source }),
        }
    };
    let mut aliases = vec![site.clone()];
    if let Some(section) = &section {
        aliases.extend(ssh_config::aliases(section).into_iter().filter(|a| *a != site));
        // The login host's shared connection first: it may ride on the gateway's.
        // A block of node-name patterns has no shared connection of its own.
        for alias in aliases.iter().filter(|a| close && !a.contains(['*', '?'])) {
            close_connection(env, alias);
        }
        let rest = ssh_config::merge(&text, &site, None);
        if ssh_config::sites(&rest).is_empty() {
            std::fs::remove_file(&managed).map_err(write_err(&managed))?;
            removed.push(format!("{MANAGED_FILE} (no site left in it)"));
        } else {
            atomic::write(&managed, rest.as_bytes(), 0o600).map_err(write_err(&managed))?;
            removed.push(format!(
                "the Host block{} {} from {MANAGED_FILE}",
                plural(aliases.len()),
                aliases.join(", ")
            ));
        }
    }
    if !managed.exists() {
        if let Some(line) = remove_include(env).map_err(write_err(&env.home.join(".ssh/config")))? {
            removed.push(line);
        }
    }
    let known = env.home.join(KNOWN_HOSTS_FILE);
    if let Ok(text) = std::fs::read_to_string(&known) {
        let nodes = text.lines().count() - known_hosts::without_nodes(&text, &site).lines().count();
        if nodes > 0 {
            removed.push(format!(
                "{nodes} compute-node host key{} of {site} from ~/{KNOWN_HOSTS_FILE}",
                plural(nodes)
            ));
        }
        let text = known_hosts::without_nodes(&text, &site);
        let kept: String = text
            .lines()
            .filter(|l| l.split_whitespace().next().is_none_or(|a| !aliases.iter().any(|x| x == a)))
            .map(|l| format!("{l}\n"))
            .collect();
        if kept != text {
            let gone: usize = aliases.iter().map(|a| known_hosts::keys_for(&text, a).len()).sum();
            if kept.trim().is_empty() {
                std::fs::remove_file(&known).map_err(write_err(&known))?;
            } else {
                atomic::write(&known, kept.as_bytes(), 0o600).map_err(write_err(&known))?;
            }
            removed.push(format!("{gone} host key{} of {site} from ~/{KNOWN_HOSTS_FILE}", plural(gone)));
        }
    }
    // The directories hpcinit made for its files go when they are empty (remove_dir refuses otherwise).
    for d in [managed.parent(), known.parent()].into_iter().flatten() {
        let _ = std::fs::remove_dir(d);
    }
    Ok(removed)
}

/// The VS Code settings hpcinit added for this site's nodes (`hpcinit code`): taken back out,
/// every other byte as it is; the backup made before the first change goes once the file is
/// again the same as it.
fn remove_vscode_settings(env: &Env, site: &str) -> Result<Vec<String>, Error> {
    let Some(mut added) = crate::local::vscode::added(env) else { return Ok(Vec::new()) };
    if !added.hosts.iter().any(|(s, _, _)| s == site) {
        return Ok(Vec::new());
    }
    let file = added.file.clone();
    let err = |source| Error::Step {
        title: "Uninstall".into(),
        error: Box::new(StepError::Write { path: file.clone(), source }),
    };
    let hosts: Vec<String> =
        added.hosts.iter().filter(|(s, _, _)| s == site).map(|(_, h, _)| h.clone()).collect();
    let Ok(text) = std::fs::read_to_string(&file) else {
        crate::local::vscode::forget_added(env);
        return Ok(Vec::new());
    };
    let rest = match crate::local::vscode::without(&text, site, &mut added) {
        Ok(r) => r,
        Err(why) => {
            return Ok(vec![format!(
                "nothing from {} (it no longer reads as JSON with comments: {why}); remove {} yourself",
                env.tilde(&file),
                hosts.join(", ")
            )])
        }
    };
    if rest != text {
        atomic::write(&file, rest.as_bytes(), 0o644).map_err(err)?;
    }
    let mut line = format!(
        "VS Code's {} for {} from {}",
        crate::local::vscode::INSTALL_PATH,
        hosts.join(", "),
        env.tilde(&file)
    );
    if added.hosts.is_empty() {
        crate::local::vscode::forget_added(env);
        let backup = PathBuf::from(format!("{}{}", file.display(), atomic::BACKUP_SUFFIX));
        if std::fs::read(&backup).ok().as_deref() == Some(rest.as_bytes()) {
            std::fs::remove_file(&backup).map_err(err)?;
            line.push_str(&format!(
                " (with {}: the file is again as it was before hpcinit, and the copy kept then, {}, was removed)",
                crate::local::vscode::CONNECT_TIMEOUT,
                env.tilde(&backup)
            ));
        }
    } else {
        crate::local::vscode::save_added(env, &added).map_err(err)?;
    }
    Ok(vec![line])
}

/// Inside WSL: the same for the Windows side (`--windows-ssh`), where the files are the same
/// with the Windows home for `~`, and then the key copies hpcinit made there that no site left
/// on that side uses. What it removed, named as Windows names it.
fn remove_windows(env: &Env, site: &str) -> Result<Vec<String>, Error> {
    let Some(Ok(home)) = wsl::windows_home(env) else { return Ok(Vec::new()) };
    let win = Env { home: home.linux.clone(), account_home: Some(home.linux.clone()), ..env.clone() };
    // Files named as Windows names them; the Include line's own text stays as it was.
    let include = format!("`{}`", ssh_config::include_line());
    let shown = |line: String| {
        line.replace(&include, "\0")
            .replace("~/.ssh/config.d/hpcinit", &wsl::windows_path(&home, ".ssh/config.d/hpcinit"))
            .replace(&format!("~/{KNOWN_HOSTS_FILE}"), &wsl::windows_path(&home, KNOWN_HOSTS_FILE))
            .replace("~/.ssh/config", &wsl::windows_path(&home, ".ssh/config"))
            .replace('\0', &include)
    };
    let mut removed: Vec<String> = remove_local(&win, site, false)?.into_iter().map(shown).collect();
    let left =
        std::fs::read_to_string(win.home.join(MANAGED_FILE.trim_start_matches("~/"))).unwrap_or_default();
    let mut copied = wsl::copied_keys(env);
    let before = copied.len();
    // Each file hpcinit created (a key, and its .pub where none was there) goes with its key.
    copied.retain(|rel| {
        let key = rel.strip_suffix(".pub").unwrap_or(rel);
        if left.lines().any(|l| l.trim() == format!("IdentityFile ~/{key}")) {
            return true;
        }
        if std::fs::remove_file(home.linux.join(rel)).is_ok() {
            removed.push(format!("the copy {} hpcinit made", wsl::windows_path(&home, rel)));
        }
        false
    });
    if copied.len() != before {
        wsl::record_copied_keys(env, &copied).map_err(|source| Error::Step {
            title: "Uninstall".into(),
            error: Box::new(StepError::Write { path: wsl::copied_keys_file(env), source }),
        })?;
    }
    Ok(removed)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Ends the shared connection, if one is open, before its Host block goes.
fn close_connection(env: &Env, alias: &str) {
    let _ = crate::ssh_command::SshCommand::new(env.ssh_config_override().as_deref(), &env.vars)
        .args(["-O", "exit", alias])
        .command()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// Takes the Include line out of `~/.ssh/config` (at its symlink's target). When that leaves the
/// file as it was before hpcinit, the copy kept then goes too; a file hpcinit created holding
/// only the line is removed.
fn remove_include(env: &Env) -> std::io::Result<Option<String>> {
    let config = env.home.join(".ssh/config");
    let target = match atomic::resolve(&config) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let Ok(bytes) = std::fs::read(&target) else { return Ok(None) };
    let Some(rest) = include::remove(&bytes, &ssh_config::include_line()) else { return Ok(None) };
    let backup = PathBuf::from(format!("{}{}", target.display(), atomic::BACKUP_SUFFIX));
    let shown = if target == config { "~/.ssh/config".to_string() } else { target.display().to_string() };
    if rest.is_empty() && !backup.exists() {
        std::fs::remove_file(&target)?;
        return Ok(Some(format!("{shown} (hpcinit made it; it held only the Include line)")));
    }
    atomic::write(&target, &rest, 0o600)?;
    let mut line = format!("the line `{}` from {shown}", ssh_config::include_line());
    if std::fs::read(&backup).ok().as_deref() == Some(rest.as_slice()) {
        std::fs::remove_file(&backup)?;
        line.push_str(&format!(
            " (it is again the same as the copy kept before, {}, which was removed)",
            env.tilde(&backup)
        ));
    }
    Ok(Some(line))
}

/// `hpcinit uninstall --dry-run`: what would go on this machine and, with `--remote`, on the
/// cluster (with `--details`, the script sent); nothing is removed or signed in to.
pub fn show_plan(s: &mut Session, args: &SetupArgs, remote: bool, details: bool) -> Result<Exit, Error> {
    let inputs = super::inputs::Inputs::resolve(s.set, s.cli, s.env, args, Listing::InTheStep)?;
    let site = inputs.profile.name().to_string();
    let p = &mut *s.printer;
    p.line(&format!("hpcinit uninstall --site {site} would remove, on this machine:"))
        .map_err(Error::Output)?;
    for t in [
        format!("the Host blocks of {site} in ~/.ssh/config.d/hpcinit, and their shared connections"),
        format!("the host keys recorded for {site} (its login hosts and compute nodes) in ~/.ssh/known_hosts.d/hpcinit"),
        format!("what `hpcinit code` added to VS Code's settings for {site}'s nodes"),
        "the line `Include ~/.ssh/config.d/hpcinit` from ~/.ssh/config, once no site is left (with its backup when the file is then as it was)".into(),
        format!("the answers remembered for {site}"),
    ] {
        p.line(&format!("  - {t}")).map_err(Error::Output)?;
    }
    if !remote {
        p.note("Nothing on the cluster (add --remote for this project's environment and snapshots there).")
            .map_err(Error::Output)?;
        return Ok(Exit::Ok);
    }
    let plan = inputs.plan(None)?;
    let u = crate::plan::uninstall::plan(&plan);
    p.line(&format!("and on {}:", inputs.profile.raw.display_name)).map_err(Error::Output)?;
    for t in &u.targets {
        p.line(&format!("  - {t}")).map_err(Error::Output)?;
    }
    let text = if details || p.verbose() {
        crate::ui::script_text(&u.script)
    } else {
        format!("{}\n", crate::ui::call_line(&u.script))
    };
    p.line(&format!("sent to the cluster, one round trip: {}", text.trim_end())).map_err(Error::Output)?;
    Ok(Exit::Ok)
}

/// The project's environment, snapshots and job templates on the cluster, after asking.
fn remove_remote(
    set: &ProfileSet,
    args: &SetupArgs,
    cli: &Cli,
    env: &Env,
    printer: &mut Printer,
    prompter: &mut dyn Prompter,
) -> Result<Option<Vec<String>>, Error> {
    let inputs = super::inputs::Inputs::resolve(set, cli, env, args, Listing::InTheStep)?;
    let plan = inputs.plan(None)?;
    let crate::plan::uninstall::UninstallPlan { targets, script } = crate::plan::uninstall::plan(&plan);
    if !cli.run.yes {
        printer
            .line(&format!("On {}, this deletes:", inputs.profile.raw.display_name))
            .map_err(Error::Output)?;
        for t in &targets {
            printer.line(&format!("  - {t}")).map_err(Error::Output)?;
        }
        let ok = prompter
            .confirm("Delete them?", false, "--yes")
            .map_err(|e| Error::Step { title: "Confirm".into(), error: Box::new(e.into()) })?;
        if !ok {
            printer.line("Cancelled; nothing was changed.").map_err(Error::Output)?;
            return Ok(None);
        }
    }
    let mut removed = Vec::new();
    let mut progress = Vec::new();
    super::with_context(&inputs, cli, env, &mut printer.capture(&mut progress), &mut *prompter, |cx| {
        if let Some(Err(e)) = exec::ensure(cx, StepId::Connect) {
            return Err(Error::Step { title: "Sign in".into(), error: Box::new(e) });
        }
        removed = on_cluster(cx, &script)
            .map_err(|e| Error::Step { title: "Uninstall".into(), error: Box::new(e) })?;
        Ok(())
    })?;
    Ok(Some(removed))
}

/// Runs the plan's removal script (one round trip): what it removed, in words.
pub fn on_cluster(
    cx: &mut exec::Context,
    script: &crate::exchange::Script,
) -> Result<Vec<String>, exec::StepError> {
    let o = cx.run_script(script, &mut |_| {})?;
    Ok(tags::<Removed>(&o.stdout).into_iter().map(|Removed(path)| format!("{path} on the cluster")).collect())
}
