//! The plan's steps on this machine and for signing in: the key, the ssh config, the host keys
//! of every host hpcinit writes a block for, key registration and the one shared connection.
//! Pure: the profile, the answers and the local facts in; steps with every text they use out.

use super::ssh_config::{self, HostBlock, KNOWN_HOSTS_FILE, MANAGED_FILE};
use super::step::{
    Action, ConnectPlan, Connection, Hop, HostKeyPlan, HostKeyTarget, KeyPlan, NoKeyPlan, Pin,
    RegisterKeyPlan, SshConfigPlan, Step,
};
use super::LocalFacts;
use crate::exchange::Script;
use crate::profile::raw::{JumpKeys, JumpWhen, RegistrationMode};
use crate::profile::Profile;
use crate::settings::Transport;

/// The steps on this machine and for signing in, in order: key, ssh config, host key, then
/// key registration before the sign-in where the site needs the key first, else after it.
pub fn steps(profile: &Profile, user: &str, local: &LocalFacts) -> Vec<Step> {
    let uses_key = uses_key(profile);
    let public_key = format!("{}.pub", local.key_path);
    let blocks = host_blocks(profile, user, local, uses_key);
    let host_key = host_key_step(profile, &blocks, local);
    let mut steps =
        vec![key_step(profile, local, uses_key, &public_key), ssh_config_step(profile, blocks), host_key];
    let gateway = connection(profile, user, local).gateway;
    let register = uses_key.then(|| register_step(profile, &public_key, gateway.as_ref()));
    let first = profile.raw.key_registration.required_before_login;
    if first {
        steps.extend(register.clone());
    }
    steps.push(connect_step(profile, local.transport));
    if !first {
        steps.extend(register);
    }
    steps
}

/// Whether this site's logins use a key at all.
pub fn uses_key(profile: &Profile) -> bool {
    profile.raw.key_registration.mode.value != RegistrationMode::NotForLogin
}

pub fn key_step(profile: &Profile, local: &LocalFacts, uses_key: bool, public_key: &str) -> Step {
    let reg = &profile.raw.key_registration;
    if !uses_key {
        return Step::new(
            "SSH key",
            format!("Not used for {}: hpcinit creates no key.", profile.raw.display_name),
            Action::NoKey(NoKeyPlan { reason: reg.explanation.trim().to_string() }),
        );
    }
    let summary = if local.key_chosen {
        format!("Use {}, the key you chose with --key; hpcinit does not change it.", local.key_path)
    } else if local.key_exists {
        format!("Reuse {}, the key hpcinit made on this device before (one key per device).", local.key_path)
    } else if reg.passphrase_required {
        format!(
            "Create {} (ed25519, OpenSSH format, 0600) with a passphrase, which {} requires.",
            local.key_path, profile.raw.display_name
        )
    } else {
        format!("Create {} (ed25519, OpenSSH format, 0600), with an optional passphrase.", local.key_path)
    };
    Step::new(
        "SSH key",
        summary,
        Action::Key(KeyPlan {
            path: local.key_path.clone(),
            public_key: public_key.to_string(),
            exists: local.key_exists,
            chosen: local.key_chosen,
            passphrase_required: reg.passphrase_required,
        }),
    )
}

/// The alias of a site's gateway (`Host <site>-jump`).
pub fn jump_alias(site: &str) -> String {
    format!("{site}-jump")
}

/// The `Host` blocks for one site: its login alias and, where the site has one, its transfer host.
pub fn host_blocks(profile: &Profile, user: &str, local: &LocalFacts, uses_key: bool) -> Vec<HostBlock> {
    let raw = &profile.raw;
    let ssh = &raw.ssh;
    let site = profile.name().as_str();
    let mut blocks = Vec::new();
    let jump_alias = jump_alias(site);
    if let Some(jump) = &ssh.jump_host {
        let mut b =
            HostBlock::new(&jump_alias, format!("{} jump host (hpcinit profile {site})", raw.display_name));
        b.set("HostName", jump.host.as_str())
            .set("Port", jump.port.to_string())
            .set("User", jump.user.as_deref().unwrap_or(user));
        common_options(&mut b, profile, Some(&jump_alias), local, uses_key);
        blocks.push(b);
    }
    let mut hosts =
        vec![(site.to_string(), ssh.host.as_str(), format!("{} (hpcinit profile {site})", raw.display_name))];
    if let Some(t) = &ssh.transfer_host {
        hosts.push((
            format!("{site}-transfer"),
            t.as_str(),
            format!("{} transfer host, for large data", raw.display_name),
        ));
    }
    let outside_only = ssh.jump_host.as_ref().is_some_and(|j| j.when == JumpWhen::Outside);
    if outside_only {
        blocks.push(outside_match(profile, &hosts, &jump_alias, local));
    }
    for (alias, host, comment) in hosts {
        let mut b = HostBlock::new(&alias, comment);
        b.set("HostName", host).set("User", user).set("Port", ssh.port.to_string());
        if ssh.jump_host.is_some() && !outside_only {
            b.set("ProxyJump", jump_alias.clone());
        }
        common_options(&mut b, profile, Some(&alias), local, uses_key);
        blocks.push(b);
    }
    if let Some(b) = node_block(profile, user, local, uses_key) {
        blocks.push(b);
    }
    blocks
}

/// The site's compute nodes, by their names' patterns, through the login alias: the node hop
/// rides the login node's shared connection, so it costs no new sign-in while that lives. Each
/// node's own host key is checked against hpcinit's known_hosts (recorded under the node's name
/// by `hpcinit code`/`shell`), never switched off. Only where nodes take the person's key.
pub fn node_block(profile: &Profile, user: &str, local: &LocalFacts, uses_key: bool) -> Option<HostBlock> {
    let nodes = profile.nodes()?;
    if !nodes.accept_keys || !uses_key {
        return None;
    }
    let site = profile.name().as_str();
    let mut b = HostBlock::new(
        &nodes.patterns.join(" "),
        format!("{} compute nodes, through {site} (hpcinit code, hpcinit shell)", profile.raw.display_name),
    );
    b.set("User", user).set("Port", "22").set("ProxyJump", site);
    common_options(&mut b, profile, None, local, uses_key);
    // Each connection to a node signs in there on its own (with the key, no prompt): a shared
    // connection to a node would outlive the job that admitted it and let a later one in
    // without the node's check. The login hop still rides the login node's shared connection.
    b.options.retain(|(k, _)| !k.starts_with("Control"));
    if !local.windows {
        b.set("ControlMaster", "no").set("ControlPath", "none");
    }
    Some(b)
}

/// For a gateway needed only off the site's network: `ProxyJump` for the site's aliases only
/// where the login host does not answer directly, asked of this program at each ssh start
/// (`hpcinit reach HOST PORT`, one TCP connection, 1.5 s at most). Where the program cannot be
/// run, the test fails and ssh goes through the gateway, which works from anywhere.
fn outside_match(
    profile: &Profile,
    hosts: &[(String, &str, String)],
    jump_alias: &str,
    local: &LocalFacts,
) -> HostBlock {
    let ssh = &profile.raw.ssh;
    let aliases: Vec<&str> = hosts.iter().map(|(a, _, _)| a.as_str()).collect();
    // Inside `exec "…"`, ssh expands `%` tokens and the shell reads the rest.
    let plain = |p: &str| !p.is_empty() && !p.contains(['\'', '"', '%', '\\']);
    let program = if plain(&local.program) { local.program.as_str() } else { "hpcinit" };
    // Windows' OpenSSH runs `exec` through cmd.exe, which takes no single quotes: there the
    // program is found on PATH by name (a path with backslashes and spaces does not survive).
    let program = if local.windows { "hpcinit".to_string() } else { format!("'{program}'") };
    let criteria =
        format!("originalhost {} !exec \"{program} reach {} {}\"", aliases.join(","), ssh.host, ssh.port);
    let mut b = HostBlock::matching(
        &format!("{} (outside)", profile.name()),
        criteria,
        format!(
            "{}: through {jump_alias} only where {}:{} does not answer directly",
            profile.raw.display_name, ssh.host, ssh.port
        ),
    );
    b.set("ProxyJump", jump_alias);
    b
}

/// `alias`: the name the block's host key is recorded under (`HostKeyAlias`); `None` for the
/// compute nodes, each recorded under its own name.
fn common_options(
    b: &mut HostBlock,
    profile: &Profile,
    alias: Option<&str>,
    local: &LocalFacts,
    uses_key: bool,
) {
    let ssh = &profile.raw.ssh;
    // Windows' OpenSSH expands `~` to the user's profile and takes forward slashes; elsewhere
    // files are named by absolute path (see LocalFacts::home).
    let home = |rel: &str| {
        if local.windows {
            format!("~/{rel}")
        } else {
            format!("{}/{rel}", local.home.trim_end_matches('/'))
        }
    };
    if uses_key {
        let key_path = local.key_path.replace('\\', "/");
        let key = match key_path.strip_prefix("~/") {
            Some(rel) => home(rel),
            None => key_path.clone(),
        };
        b.set("IdentityFile", key).set("IdentitiesOnly", "yes");
    } else {
        // Keys cannot log in here; offering them only costs round trips and, with many keys in
        // an agent, "Too many authentication failures".
        b.set("PubkeyAuthentication", "no").set("PreferredAuthentications", "keyboard-interactive,password");
    }
    // The host key hpcinit verified is stored under the alias, in hpcinit's own file.
    if let Some(alias) = alias {
        b.set("HostKeyAlias", alias);
    }
    b.set("UserKnownHostsFile", home(KNOWN_HOSTS_FILE)).set("StrictHostKeyChecking", "yes");
    b.set("ServerAliveInterval", ssh.keepalive.server_alive_interval.to_string())
        .set("ServerAliveCountMax", ssh.keepalive.server_alive_count_max.to_string());
    // Windows' OpenSSH cannot multiplex (it rejects the Control* options): there hpcinit's own
    // client carries the run, and a later `ssh SITE` signs in again.
    if ssh.multiplex.enabled && !local.windows {
        b.set("ControlMaster", "auto")
            .set("ControlPath", ssh_config::control_path(&local.home).0)
            .set("ControlPersist", ssh.multiplex.control_persist.value.clone());
    }
}

pub fn ssh_config_step(profile: &Profile, blocks: Vec<HostBlock>) -> Step {
    let text = ssh_config::render(profile.name().as_str(), &blocks);
    let aliases: Vec<&str> =
        blocks.iter().filter(|b| b.criteria.is_none()).map(|b| b.alias.as_str()).collect();
    Step::new(
        "SSH config",
        format!(
            "Write {MANAGED_FILE} (0600) with Host {}, and add one Include line at the top of ~/.ssh/config; nothing else in it changes.",
            aliases.join(", ")
        ),
        Action::SshConfig(SshConfigPlan {
            site: profile.name().to_string(),
            file: MANAGED_FILE.into(),
            text,
            user_config: "~/.ssh/config".into(),
            include_line: ssh_config::include_line(),
            blocks,
        }),
    )
}

/// How the run reaches the login host, and the site's words for a failed sign-in.
pub fn connection(profile: &Profile, user: &str, local: &LocalFacts) -> Connection {
    let raw = &profile.raw;
    Connection {
        alias: profile.name().to_string(),
        host: raw.ssh.host.to_string(),
        port: raw.ssh.port,
        multiplex: raw.ssh.multiplex.enabled,
        control_dir: (raw.ssh.multiplex.enabled && !local.windows)
            .then(|| ssh_config::control_path(&local.home).1)
            .flatten(),
        control_path: (raw.ssh.multiplex.enabled && !local.windows)
            .then(|| ssh_config::control_path(&local.home).0),
        network: raw.ssh.network.as_deref().map(|n| n.trim().to_string()),
        auth: raw.auth.description.trim().to_string(),
        key_registration: raw.key_registration.mode.value,
        portal_url: raw.key_registration.portal_url.as_ref().map(|u| u.to_string()),
        gateway: raw
            .ssh
            .jump_host
            .as_ref()
            .filter(|j| j.when == JumpWhen::Always || local.direct != Some(true))
            .map(|j| Hop {
                alias: jump_alias(profile.name().as_str()),
                host: j.host.to_string(),
                port: j.port,
                user: j.user.clone().unwrap_or_else(|| user.to_string()),
                auth: j.auth.as_ref().map(|a| a.description.trim().to_string()).unwrap_or_default(),
            }),
    }
}

/// The functions that look for and install the key in `authorized_keys` on the cluster.
pub const REGISTER_KEY_SH: &str = include_str!("register_key.sh");

/// Reads each host with a block of its own before any credential is sent: the login host
/// against the profile's pins, any other against nothing (asked, or `--accept-new-host-key`).
pub fn host_key_step(profile: &Profile, blocks: &[HostBlock], local: &LocalFacts) -> Step {
    let ssh = &profile.raw.ssh;
    let site = profile.name().as_str();
    let outside_only = ssh.jump_host.as_ref().is_some_and(|j| j.when == JumpWhen::Outside);
    let pins_of = |keys: &[crate::profile::raw::HostKey]| -> Vec<Pin> {
        keys.iter()
            .map(|k| Pin { algorithm: k.algorithm.as_str().into(), fingerprint: k.fingerprint.to_string() })
            .collect()
    };
    let pins = pins_of(&ssh.host_keys);
    let jump_alias = jump_alias(site);
    // The gateway's block comes first: its key is checked and recorded before anything
    // travels through it.
    let targets = blocks
        .iter()
        .filter_map(|b| {
            let (pins, source) = if b.alias == site {
                (pins.clone(), ssh.host_keys_source.as_ref())
            } else if b.alias == jump_alias {
                let j = ssh.jump_host.as_ref()?;
                (pins_of(&j.host_keys), j.host_keys_source.as_ref())
            } else {
                (Vec::new(), None)
            };
            // Behind a gateway used only from outside: through it unless the host answered
            // directly when hpcinit looked; inside, the gateway's key is read if it answers.
            let via = match (b.get("ProxyJump"), outside_only && b.alias != jump_alias) {
                (Some(j), _) => Some(j.to_string()),
                (None, true) if local.direct != Some(true) => Some(jump_alias.clone()),
                _ => None,
            };
            Some(HostKeyTarget {
                alias: b.alias.clone(),
                host: b.get("HostName")?.to_string(),
                port: b.get("Port").and_then(|p| p.parse().ok()).unwrap_or(22),
                pins,
                via,
                source: source.map(|u| u.to_string()),
                optional: outside_only && b.alias == jump_alias && local.direct == Some(true),
            })
        })
        .collect();
    let summary = if pins.is_empty() {
        format!(
            "{} publishes no host-key fingerprints: hpcinit shows the key's fingerprint and asks you before trusting it (in scripts: --accept-new-host-key).",
            profile.raw.display_name
        )
    } else {
        format!(
            "Read {}'s host key before sending any credential and compare it with the {} published fingerprint{}; a mismatch stops everything.",
            ssh.host,
            pins.len(),
            if pins.len() == 1 { "" } else { "s" }
        )
    };
    let summary = match &ssh.jump_host {
        Some(j) => format!(
            "{summary} Behind the gateway {}: its key is checked first, before it is sent anything; then hpcinit signs in there and reads the login node's key through it, before any credential reaches the login node.",
            j.host
        ),
        None => summary,
    };
    Step::new(
        "Host key",
        summary,
        Action::HostKey(HostKeyPlan {
            host: ssh.host.to_string(),
            port: ssh.port,
            pins,
            source: ssh.host_keys_source.as_ref().map(|u| u.to_string()),
            known_hosts: format!("~/{KNOWN_HOSTS_FILE}"),
            targets,
        }),
    )
}

pub fn connect_step(profile: &Profile, transport: Transport) -> Step {
    let raw = &profile.raw;
    let site = profile.name().as_str();
    let prompts = profile.auth_summary();
    let (summary, command, persist) = match transport {
        // hpcinit's own client: one session for the whole run, closed at its end.
        Transport::Ssh2 => (
            format!(
                "Open one connection of hpcinit's own SSH client to {site}: you answer {prompts} once, in hpcinit's prompt; every later step rides on it until the run ends."
            ),
            None,
            None,
        ),
        Transport::Ssh => {
            let persist =
                raw.ssh.multiplex.enabled.then(|| raw.ssh.multiplex.control_persist.value.clone());
            let summary = match &persist {
                Some(p) => format!(
                    "Open one shared connection to {site}: you answer {prompts} once, in ssh's own prompt; every later step rides on it (kept {p} after the last use)."
                ),
                None => format!("Connect to {site}: you answer {prompts} in ssh's own prompt."),
            };
            (summary, Some(format!("ssh {site} true")), persist)
        }
    };
    Step::new(
        "Sign in once",
        summary,
        Action::Connect(ConnectPlan { alias: site.into(), command, prompts, persist }),
    )
}

pub fn register_step(profile: &Profile, public_key: &str, gateway: Option<&Hop>) -> Step {
    let reg = &profile.raw.key_registration;
    let site = profile.name().as_str();
    let gateway = gateway
        .filter(|_| {
            profile.raw.ssh.jump_host.as_ref().is_some_and(|j| j.key_registration == JumpKeys::AuthorizedKeys)
        })
        .map(|g| g.alias.clone());
    let script =
        |purpose: &str, call: &str| Script::new(purpose, format!("{REGISTER_KEY_SH}{call} \"$@\"\n"));
    let (summary, check_script, remote_script, fix_home_script) = match reg.mode.value {
        RegistrationMode::Portal => (
            format!(
                "Paste {public_key} at {} (you do this in the browser; hpcinit shows the key){}.",
                reg.portal_url.as_ref().map(|u| u.as_str()).unwrap_or_default(),
                reg.propagation.as_ref().map(|p| format!("; it takes effect in {p}")).unwrap_or_default()
            ),
            None,
            None,
            None,
        ),
        _ => (
            format!(
                "Append {public_key} to ~/.ssh/authorized_keys on {site} (once; over the shared connection)."
            ),
            Some(script("look for the key in ~/.ssh/authorized_keys", "hpcinit_key_state")),
            Some(script("add the key to ~/.ssh/authorized_keys", "hpcinit_key_install")),
            Some(script("remove group/other write from your home", "hpcinit_key_fix_home")),
        ),
    };
    let summary = match &gateway {
        Some(g) => format!("{summary} The gateway {g} gets it first, the same way, over its own connection."),
        None => summary,
    };
    Step::new(
        "Register the key",
        summary,
        Action::RegisterKey(RegisterKeyPlan {
            mode: reg.mode.value,
            public_key: public_key.into(),
            portal_url: reg.portal_url.as_ref().map(|u| u.to_string()),
            prerequisite: reg.prerequisite.clone(),
            propagation: reg.propagation.clone(),
            required_before_login: reg.required_before_login,
            check_script,
            remote_script,
            fix_home_script,
            gateway,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ProfileSet, ProfileSource};

    fn outside_profile() -> Profile {
        let set = ProfileSet::builtin().unwrap();
        let text = set.get("sandbox-jump").unwrap().text.replacen(
            "    port: 2224\n",
            "    port: 2224\n    when: outside\n",
            1,
        );
        Profile::parse(&text, ProfileSource::Explicit("campus.yaml".into())).unwrap()
    }

    fn local(program: &str, direct: Option<bool>) -> LocalFacts {
        LocalFacts {
            home: "/home/a".into(),
            key_path: "~/.ssh/k".into(),
            program: program.into(),
            direct,
            ..Default::default()
        }
    }

    #[test]
    fn on_windows_the_config_has_no_control_lines_and_home_paths_with_forward_slashes() {
        let set = ProfileSet::builtin().unwrap();
        let p = set.get("saga").unwrap();
        let l = LocalFacts {
            home: r"C:\Users\alice".into(),
            key_path: r"~\.ssh\id_ed25519_hpcinit".into(),
            windows: true,
            ..Default::default()
        };
        let text = ssh_config::render("saga", &host_blocks(p, "alice", &l, true));
        assert!(!text.contains("Control"), "Windows' OpenSSH rejects Control*: {text}");
        assert!(!text.contains('\\') && !text.contains("C:"), "{text}");
        assert!(text.contains("IdentityFile ~/.ssh/id_ed25519_hpcinit\n"), "{text}");
        assert!(text.contains("UserKnownHostsFile ~/.ssh/"), "{text}");
        // Elsewhere, the same profile multiplexes, with absolute paths.
        let text = ssh_config::render("saga", &host_blocks(p, "alice", &local("hpcinit", None), true));
        assert!(text.contains("ControlPath /home/a/.ssh/cm-%C"), "{text}");
    }

    #[test]
    fn a_gateway_for_outside_only_is_a_match_block_asking_this_program() {
        let p = outside_profile();
        let blocks = host_blocks(&p, "alice", &local("/opt/hpcinit/bin/hpcinit", Some(true)), true);
        let text = ssh_config::render("sandbox-jump", &blocks);
        assert!(
            text.contains("Match originalhost sandbox-jump !exec \"'/opt/hpcinit/bin/hpcinit' reach 127.0.0.1 2222\"\n    ProxyJump sandbox-jump-jump\n"),
            "{text}"
        );
        let site = blocks.iter().find(|b| b.alias == "sandbox-jump").unwrap();
        assert_eq!(site.get("ProxyJump"), None, "the Host block goes straight: {text}");
        // A path ssh or the shell would read differently falls back to the name on PATH.
        for odd in ["/tmp/it's/hpcinit", "/tmp/100%/hpcinit", "C:\\hpcinit\\hpcinit.exe", ""] {
            let text = ssh_config::render("s", &host_blocks(&p, "alice", &local(odd, None), true));
            assert!(text.contains("!exec \"'hpcinit' reach"), "{odd}: {text}");
        }
        // Windows' OpenSSH runs it through cmd.exe: no single quotes, the name on PATH.
        let l = LocalFacts { windows: true, ..local("C:\\Users\\a b\\hpcinit.exe", None) };
        let text = ssh_config::render("s", &host_blocks(&p, "alice", &l, true));
        assert!(text.contains("!exec \"hpcinit reach 127.0.0.1 2222\""), "{text}");
    }

    #[test]
    fn from_inside_the_login_node_key_is_read_directly_and_the_gateway_if_it_answers() {
        let p = outside_profile();
        let targets = |direct| {
            let l = local("hpcinit", direct);
            let step = host_key_step(&p, &host_blocks(&p, "alice", &l, true), &l);
            let Action::HostKey(h) = step.action else { panic!("a host-key step") };
            h.targets.into_iter().map(|t| (t.alias, t.via, t.optional)).collect::<Vec<_>>()
        };
        let jump = "sandbox-jump-jump".to_string();
        assert_eq!(
            targets(Some(true)),
            vec![(jump.clone(), None, true), ("sandbox-jump".into(), None, false)]
        );
        assert_eq!(
            targets(Some(false)),
            vec![(jump.clone(), None, false), ("sandbox-jump".into(), Some(jump), false)]
        );
    }
}
