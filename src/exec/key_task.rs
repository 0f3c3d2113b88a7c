//! The key step: use the key the person chose, reuse hpcinit's key, or create one (ed25519,
//! OpenSSH format, 0600, in a 0700 `~/.ssh`), asking for an optional passphrase twice. The
//! passphrase is kept in memory for this run only and never written or logged.

use super::{Applied, Check, Context, StepError, Task};
use crate::local::{atomic, key};
use crate::plan::{KeyPlan, NoKeyPlan};
use zeroize::Zeroizing;

pub struct KeyTask {
    /// `None`: this site's logins use no key, for `reason`.
    plan: Option<KeyPlan>,
    reason: String,
}

impl KeyTask {
    pub fn new(plan: &KeyPlan) -> KeyTask {
        KeyTask { plan: Some(plan.clone()), reason: String::new() }
    }

    pub fn none(p: &NoKeyPlan) -> KeyTask {
        KeyTask { plan: None, reason: p.reason.clone() }
    }
}

impl Task for KeyTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        let Some(KeyPlan { path, chosen, .. }) = &self.plan else {
            return Ok(Check::Done(format!("no key: {}", self.reason)));
        };
        let file = cx.home(path);
        if !file.exists() {
            return Ok(Check::Needed("no key yet".into()));
        }
        let info = key::load(&file)?;
        let why = if *chosen { "the key you chose with --key" } else { "hpcinit's key on this device" };
        let line = format!("{path}: {why} ({} {})", info.algorithm, info.fingerprint);
        cx.key = Some(info);
        Ok(Check::Done(line))
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let Some(KeyPlan { path, passphrase_required, .. }) = self.plan.clone() else {
            return Ok(Applied::Unchanged(format!("no key: {}", self.reason)));
        };
        let file = cx.home(&path);
        let ssh_dir = cx.home("~/.ssh");
        atomic::ensure_dir(&ssh_dir, 0o700)
            .map_err(|source| StepError::Write { path: ssh_dir.clone(), source })?;
        let site = cx.plan.display_name.clone();
        let passphrase: Zeroizing<String> = if let Some(f) = &cx.options.passphrase_file {
            let text =
                std::fs::read_to_string(f).map_err(|source| StepError::Read { path: f.clone(), source })?;
            Zeroizing::new(text.lines().next().unwrap_or("").to_string())
        } else if cx.options.no_passphrase {
            Zeroizing::new(String::new())
        } else {
            let prompt = if passphrase_required {
                format!("Passphrase for the new key ({site} requires one; not your {site} password)")
            } else {
                "Passphrase for the new key (empty for none)".to_string()
            };
            cx.prompter.new_secret(
                &prompt,
                !passphrase_required,
                "--no-passphrase or --key-passphrase-file FILE",
            )?
        };
        if passphrase_required && passphrase.is_empty() {
            return Err(StepError::PassphraseRequired { site });
        }
        let info = key::create(&file, Some(&passphrase), &comment(cx))?;
        let with = if info.encrypted { "with a passphrase" } else { "without a passphrase" };
        let line = format!("created {path} ({} {}), {with}", info.algorithm, info.fingerprint);
        if !passphrase.is_empty() {
            cx.passphrase = Some(passphrase);
        }
        Ok(Applied::Changed(line))
    }
}

/// `user@host`, so the person can tell their keys apart in a portal or authorized_keys.
fn comment(cx: &Context) -> String {
    let user = cx.env.var("USER").or(cx.env.var("LOGNAME")).unwrap_or("me");
    let host = crate::local::host::hostname().unwrap_or_else(|| "this-device".into());
    let clean =
        |s: &str| s.chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).collect::<String>();
    format!("{}@{} hpcinit", clean(user), clean(&host))
}
