//! The Windows side of a WSL laptop, planned (`--windows-ssh`, or yes to the wizard's question):
//! this site's Host blocks in the Windows form (no Control* lines, which Windows' OpenSSH
//! rejects; `~/` paths) in the Windows user's `.ssh/config.d/hpcinit` with the same one
//! `Include` line in their `.ssh/config`, the host keys verified here, and a copy of the key
//! restricted to the Windows user, so that Windows' OpenSSH and VS Code Remote-SSH reach the
//! cluster too. Pure.

use super::facts::LocalFacts;
use super::ssh_config::{self, HostBlock};
use super::ssh_steps;
use super::step::{Action, KeyCopy, Step, StepId, WindowsSshPlan};
use crate::local::wsl::WindowsHome;
use crate::profile::Profile;

pub fn step(profile: &Profile, user: &str, local: &LocalFacts, home: &WindowsHome) -> Step {
    let uses_key = ssh_steps::uses_key(profile);
    let name = local.key_path.rsplit(['/', '\\']).next().unwrap_or("id_ed25519_hpcinit").to_string();
    let key = uses_key.then(|| KeyCopy { from: local.key_path.clone(), to: format!(".ssh/{name}") });
    let windows = LocalFacts {
        windows: true,
        key_path: format!("~/.ssh/{name}"),
        home: home.windows.clone(),
        ..local.clone()
    };
    let blocks = windows_blocks(ssh_steps::host_blocks(profile, user, &windows, uses_key));
    let site = profile.name().to_string();
    let aliases: Vec<String> = blocks.iter().map(|b| b.alias.clone()).collect();
    let text = ssh_config::render(&site, &blocks);
    let summary = format!(
        "Write this site's Host {} into {}\\.ssh\\config.d\\hpcinit (no Control* lines, which Windows' OpenSSH rejects) with one Include line in {}\\.ssh\\config, its verified host keys{}, so Windows' ssh and VS Code reach {site} too; a later `ssh {site}` there signs in on its own.",
        aliases.join(", "),
        home.windows,
        home.windows,
        match &key {
            Some(k) => format!(" and a copy of {} that only {} can read", k.from, home.user),
            None => String::new(),
        },
    );
    Step::new(
        "Windows' ssh",
        summary,
        Action::WindowsSsh(WindowsSshPlan {
            site,
            home: home.clone(),
            text,
            include_line: ssh_config::include_line(),
            aliases,
            key,
        }),
    )
}

/// Puts the step after the host keys are verified (it copies them), before anything on the
/// cluster.
pub fn insert(steps: &mut Vec<Step>, step: Step) {
    let at = steps.iter().position(|s| s.id == StepId::HostKey).map_or(steps.len(), |i| i + 1);
    steps.insert(at, step);
}

/// The blocks as Windows' OpenSSH can use them: a `Match … exec` block (a gateway only from
/// outside, decided by running hpcinit inside WSL) cannot run there, so its `ProxyJump` applies
/// always — slower on the site's own network, but it works from anywhere.
fn windows_blocks(blocks: Vec<HostBlock>) -> Vec<HostBlock> {
    let jump =
        blocks.iter().find(|b| b.criteria.is_some()).and_then(|b| b.get("ProxyJump")).map(str::to_string);
    blocks
        .into_iter()
        .filter(|b| b.criteria.is_none())
        .map(|mut b| {
            if let Some(j) = &jump {
                if b.alias != *j && b.get("ProxyJump").is_none() {
                    b.set("ProxyJump", j.clone());
                }
            }
            b
        })
        .collect()
}
