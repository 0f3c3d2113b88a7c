//! The Windows side of a WSL laptop: writes this site's section of the Windows user's
//! `.ssh/config.d/hpcinit` (other sites kept), the one `Include` line at the top of their
//! `.ssh/config` (backed up once, as on Linux), the site's verified host keys in their
//! `.ssh/known_hosts.d/hpcinit`, and a copy of the key that only the Windows user may read
//! (`icacls.exe`). A key file already there is never replaced: an identical one is used as it
//! is, another one stops the step. Every write is atomic; the copies hpcinit made are recorded
//! so that `hpcinit uninstall` removes exactly those.

use super::{Applied, Check, Context, StepError, Task};
use crate::local::{atomic, include, known_hosts, wsl};
use crate::plan::ssh_config::{self, KNOWN_HOSTS_FILE};
use crate::plan::WindowsSshPlan;
use std::path::{Path, PathBuf};

pub struct WindowsSshTask {
    plan: WindowsSshPlan,
}

/// The files on the Windows side, as WSL sees them.
struct Files {
    managed: PathBuf,
    config: PathBuf,
    known: PathBuf,
}

impl WindowsSshTask {
    pub fn new(p: &WindowsSshPlan) -> WindowsSshTask {
        WindowsSshTask { plan: p.clone() }
    }

    fn files(&self) -> Files {
        let home = &self.plan.home.linux;
        Files {
            managed: home.join(".ssh/config.d/hpcinit"),
            config: home.join(".ssh/config"),
            known: home.join(KNOWN_HOSTS_FILE),
        }
    }

    fn managed_text(&self, f: &Files) -> String {
        let existing = std::fs::read_to_string(&f.managed).unwrap_or_default();
        ssh_config::merge(&existing, &self.plan.site, Some(&self.plan.text))
    }

    /// The Windows side's known_hosts with the aliases' lines as they are on this machine.
    fn known_text(&self, cx: &Context, f: &Files) -> String {
        let ours = std::fs::read_to_string(cx.home(&format!("~/{KNOWN_HOSTS_FILE}"))).unwrap_or_default();
        let theirs = std::fs::read_to_string(&f.known).unwrap_or_default();
        let mine =
            |l: &str| l.split_whitespace().next().is_some_and(|a| self.plan.aliases.iter().any(|x| x == a));
        let mut text: String = theirs.lines().filter(|l| !mine(l)).map(|l| format!("{l}\n")).collect();
        text.extend(ours.lines().filter(|l| mine(l)).map(|l| format!("{l}\n")));
        text
    }

    /// The Include line is missing (or `None` when the config cannot take it).
    fn include_missing(&self, config: &Path) -> Result<Option<Vec<u8>>, StepError> {
        let target =
            atomic::resolve(config).map_err(|source| StepError::Read { path: config.into(), source })?;
        let bytes = std::fs::read(&target).unwrap_or_default();
        let spellings = [ssh_config::MANAGED_FILE, "config.d/hpcinit"];
        include::add(&bytes, &self.plan.include_line, &spellings)
            .map_err(|source| StepError::Include { path: target, source })
    }

    /// What is still to do about the key copy: `Some` to write, `None` when it is there.
    fn key_to_write(&self, cx: &Context) -> Result<Option<KeyFiles>, StepError> {
        let Some(k) = &self.plan.key else { return Ok(None) };
        let from = cx.env.untilde(&k.from);
        let read = |p: &Path| std::fs::read(p).map_err(|source| StepError::Read { path: p.into(), source });
        let (private, public) = (read(&from)?, read(&pub_of(&from))?);
        let to = self.plan.home.linux.join(&k.to);
        match std::fs::read(&to) {
            Ok(there) if there == private => Ok(None),
            Ok(_) => Err(StepError::Local {
                what: "the key's copy on the Windows side".into(),
                detail: format!("{} exists and is another key", wsl::windows_path(&self.plan.home, &k.to)),
                hint: "hpcinit never replaces a key: move that file away, or choose the key with --key"
                    .into(),
            }),
            Err(_) => Ok(Some(KeyFiles { to, private, public })),
        }
    }

    fn acl_problem(&self, cx: &Context) -> Option<String> {
        let k = self.plan.key.as_ref()?;
        let file = wsl::windows_path(&self.plan.home, &k.to);
        match wsl::acl(cx.env, &file) {
            Ok(acl) => wsl::others(&acl, &self.plan.home.user).map(|who| format!("{file} is open to {who}")),
            Err(e) => Some(e.0),
        }
    }
}

/// A key copy to write: where (as WSL sees it) and the two files' bytes.
struct KeyFiles {
    to: PathBuf,
    private: Vec<u8>,
    public: Vec<u8>,
}

fn pub_of(key: &Path) -> PathBuf {
    PathBuf::from(format!("{}.pub", key.display()))
}

fn local(detail: String) -> StepError {
    StepError::Local {
        what: "Windows' ssh".into(),
        detail,
        hint: "check that WSL can run Windows programs (`cmd.exe /c ver`), or run without --windows-ssh"
            .into(),
    }
}

impl Task for WindowsSshTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        let f = self.files();
        let w = &self.plan.home.windows;
        if std::fs::read_to_string(&f.managed).ok().as_deref() != Some(self.managed_text(&f).as_str()) {
            return Ok(Check::Needed(format!("{w}\\.ssh\\config.d\\hpcinit lacks this site's entries")));
        }
        if self.include_missing(&f.config)?.is_some() {
            return Ok(Check::Needed(format!("{w}\\.ssh\\config lacks the Include line")));
        }
        if std::fs::read_to_string(&f.known).unwrap_or_default() != self.known_text(cx, &f) {
            return Ok(Check::Needed("the Windows side lacks the verified host keys".into()));
        }
        if self.key_to_write(cx)?.is_some() {
            return Ok(Check::Needed("the Windows side has no copy of the key".into()));
        }
        if let Some(why) = self.acl_problem(cx) {
            return Ok(Check::Needed(why));
        }
        Ok(Check::Done(format!(
            "{w}\\.ssh has Host {} for Windows' ssh and VS Code",
            self.plan.aliases.join(", ")
        )))
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let f = self.files();
        let w = self.plan.home.windows.clone();
        let mut done = Vec::new();
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StepError::Write { path, source }
        };
        for d in [f.managed.parent(), f.known.parent()].into_iter().flatten() {
            std::fs::create_dir_all(d).map_err(err(d))?;
        }
        let text = self.managed_text(&f);
        if std::fs::read_to_string(&f.managed).ok().as_deref() != Some(text.as_str()) {
            atomic::write(&f.managed, text.as_bytes(), 0o600).map_err(err(&f.managed))?;
            done.push(format!("wrote {w}\\.ssh\\config.d\\hpcinit"));
        }
        if let Some(new) = self.include_missing(&f.config)? {
            let target = atomic::resolve(&f.config).map_err(err(&f.config))?;
            let backup = atomic::backup_once(&target).map_err(err(&target))?;
            atomic::write(&target, &new, 0o600).map_err(err(&target))?;
            done.push(format!(
                "added `{}` to {w}\\.ssh\\config{}",
                self.plan.include_line,
                if backup.is_some() { " (its copy: config.hpcinit-backup)" } else { "" }
            ));
        }
        let known = self.known_text(cx, &f);
        if std::fs::read_to_string(&f.known).unwrap_or_default() != known {
            atomic::write(&f.known, known.as_bytes(), 0o600).map_err(err(&f.known))?;
            let n: usize = self.plan.aliases.iter().map(|a| known_hosts::keys_for(&known, a).len()).sum();
            done.push(format!(
                "{n} host key{} in {w}\\.ssh\\known_hosts.d\\hpcinit",
                if n == 1 { "" } else { "s" }
            ));
        }
        if let Some(KeyFiles { to, private, public }) = self.key_to_write(cx)? {
            let rel = self.plan.key.as_ref().map(|k| k.to.clone()).unwrap_or_default();
            let pub_to = pub_of(&to);
            let new_pub = !pub_to.exists();
            // Recorded first (a copy interrupted half-way is still one hpcinit made), each file
            // hpcinit creates: a `.pub` already there stays the person's.
            let mut copied = wsl::copied_keys(cx.env);
            let pub_rel = format!("{rel}.pub");
            for f in [Some(&rel), new_pub.then_some(&pub_rel)].into_iter().flatten() {
                if !copied.contains(f) {
                    copied.push(f.clone());
                }
            }
            wsl::record_copied_keys(cx.env, &copied).map_err(err(&wsl::copied_keys_file(cx.env)))?;
            atomic::create(&to, &private, 0o600).map_err(err(&to))?;
            if new_pub {
                atomic::create(&pub_to, &public, 0o644).map_err(err(&pub_to))?;
            }
            done.push(format!("copied the key to {}", wsl::windows_path(&self.plan.home, &rel)));
        }
        if let Some(k) = &self.plan.key {
            if self.acl_problem(cx).is_some() {
                wsl::restrict(cx.env, &self.plan.home, &k.to).map_err(|e| local(e.0))?;
                done.push(format!("made it readable by {} alone (icacls.exe)", self.plan.home.user));
            }
        }
        Ok(Applied::Changed(done.join("; ")))
    }
}
