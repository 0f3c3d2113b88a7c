//! One short line per step for the plan a person reads first: what it changes, and where.
//! The full text of each step (scripts, config blocks, commands) is `plan --details`, `-v`,
//! or the wizard's "Show every detail".

use crate::plan::ModuleChoice;
use crate::plan::{Action, RemoteLayoutPlan};

/// What the step changes and where, in a few words.
pub fn brief(action: &Action) -> String {
    match action {
        Action::Key(k) if k.exists => format!("use {} (it exists)", k.path),
        Action::Key(k) => format!("create {} and its .pub", k.path),
        Action::NoKey(_) => "none: this site takes no keys for login".into(),
        Action::SshConfig(c) => {
            let hosts: Vec<&str> =
                c.blocks.iter().filter(|b| b.criteria.is_none()).map(|b| b.alias.as_str()).collect();
            format!("Host {} in {}; 1 Include line in {}", hosts.join(", "), c.file, c.user_config)
        }
        Action::HostKey(h) => {
            let hosts: Vec<String> = h.targets.iter().map(|t| t.alias.clone()).collect();
            let how = if h.targets.iter().all(|t| t.pins.is_empty()) {
                "shown, you confirm"
            } else {
                "checked against published fingerprints"
            };
            format!("{} ({how}) → {}", hosts.join(", "), h.known_hosts)
        }
        Action::Connect(c) => match &c.persist {
            Some(p) => format!("one shared connection to {} (kept {p}): {}", c.alias, c.prompts),
            None => format!("connect to {}: {}", c.alias, c.prompts),
        },
        Action::RegisterKey(r) => match (&r.portal_url, &r.gateway) {
            (Some(url), _) => format!("you paste the key at {url}"),
            (None, Some(g)) => format!("append the key to ~/.ssh/authorized_keys on {g}, then the cluster"),
            (None, None) => "append the key to ~/.ssh/authorized_keys on the cluster".into(),
        },
        Action::Probe(_) => "read only: $HOME, scratch, modules, scheduler".into(),
        Action::RemoteLayout(l) => layout(l),
        Action::JobTemplates(t) => t.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", "),
        Action::Python(p) => {
            let module = match &p.module {
                ModuleChoice::Known { name } | ModuleChoice::Found { name } => format!(" ({name})"),
                _ => String::new(),
            };
            let n = p.requirements.len();
            let what = if p.from_lock.is_some() {
                "versions from hpcinit.lock".to_string()
            } else {
                plural(n, "requirement")
            };
            format!("{} with Python {}{module}, {what}", p.venv, p.version)
        }
        Action::Lock(l) => format!("{} ({})", l.path, if l.exists { "updated if it changed" } else { "new" }),
        Action::Sync(s) => format!(
            "{} ({}) → {}/<time>{}",
            plural(s.files, "file"),
            crate::plan::snapshot::human_bytes(s.bytes),
            s.snapshots,
            s.suffix
        ),
        Action::WindowsSsh(w) => format!(
            "Host {} in {}\\.ssh\\config.d\\hpcinit{}",
            w.aliases.join(", "),
            w.home.windows,
            if w.key.is_some() { ", a copy of the key (yours alone)" } else { "" }
        ),
        Action::CheckJob(j) => format!("one short job; its line lands in {}", j.log_dir),
    }
}

fn layout(l: &RemoteLayoutPlan) -> String {
    let dirs: Vec<String> = l
        .dirs
        .iter()
        .map(|d| match &d.link_to {
            Some(t) => format!("{} → {t}", d.path),
            None => d.path.clone(),
        })
        .collect();
    dirs.join(", ")
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
