//! `hpcinit code` and `hpcinit shell`, planned: a job that holds a compute node for the person
//! (the site's interactive defaults, overridden by flags), how the node is reached and why (ssh
//! through the login node where nodes take the person's key, else the scheduler's own step, or
//! not at all), where the session opens, the shell's start-up file, and the exchanges that
//! start the job, follow it, read the node's host key and cancel it: fixed scripts from
//! `node.sh`, `jupyter.sh` and `scheduler.sh`, the run's values as arguments. Pure.

use super::jupyter::{self, JupyterRequest, Resources};
use super::plan::{Plan, Unverified};
use super::script_text::heredoc;
use super::ssh_config::HostBlock;
use crate::exchange::{Script, Tagged};
use crate::profile::raw::{LoginVscode, SchedulerKind};
use crate::profile::Profile;
use crate::quote::{sh, sh_path};
use serde::Serialize;

pub const NODE_SH: &str = include_str!("node.sh");

/// Where a cluster keeps the host keys of its own nodes, when it publishes them to users.
pub const CLUSTER_KNOWN_HOSTS: &str = "/etc/ssh/ssh_known_hosts";

/// What the session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// VS Code Remote-SSH on the node.
    Code,
    /// A shell on the node.
    Shell,
}

impl Purpose {
    pub fn command(self) -> &'static str {
        match self {
            Purpose::Code => "hpcinit code",
            Purpose::Shell => "hpcinit shell",
        }
    }

    fn job_name(self) -> &'static str {
        match self {
            Purpose::Code => "hpcinit-code",
            Purpose::Shell => "hpcinit-shell",
        }
    }
}

/// How the session reaches the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteKind {
    /// ssh to the node by its name, through the login node's shared connection (`ProxyJump`).
    SshNode,
    /// `srun --overlap --pty` from the login node into the job (Slurm; a shell only).
    SrunOverlap,
    /// None from here: the reason says why and what to use instead.
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub kind: RouteKind,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodePlan {
    pub site: String,
    pub display_name: String,
    pub purpose: Purpose,
    pub scheduler: SchedulerKind,
    pub resources: Resources,
    /// Where the session opens (`~/…`; the start reports it absolute).
    pub workdir: String,
    pub here: bool,
    pub venv: String,
    /// The private directory (0700) on scratch holding the job's log and the shell's start-up
    /// file.
    pub private_dir: String,
    pub route: Route,
    /// The `Host` block that reaches the nodes (written by the bootstrap; checked here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_block: Option<HostBlock>,
    /// The node-name patterns of the profile.
    pub patterns: Vec<String>,
    /// The login nodes' rule on VS Code, where the profile says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_vscode: Option<LoginVscode>,
    /// The site's web route to an editor on a node (Open OnDemand), where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ondemand: Option<String>,
    /// The job script, as submitted.
    pub job: String,
    /// The shell's start-up file (`bash --rcfile`) as the start writes it, its paths resolved on
    /// the cluster: the person's own `~/.bashrc`, then the project's job environment, in the
    /// working directory.
    pub rc: String,
    /// Where the start writes it (`~/…`).
    pub rc_path: String,
    pub scripts: NodeScripts,
    pub notes: Vec<String>,
    pub unverified: Vec<Unverified>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeScripts {
    /// The environment and working directory checked, the start-up file written, the job (on
    /// standard input) submitted and followed until it runs: the run appends SECONDS.
    pub start: Script,
    /// Follows the job: the run appends `ID LAST SECONDS UNTIL`.
    pub wait: Script,
    /// Cancels the job and removes its files: the run appends `ID`.
    pub cancel: Script,
    /// Where the session opens, absolute, and (for ssh to the node) the node's host keys as
    /// the cluster knows them (its own file, else read from the node inside the cluster): the
    /// run appends `NODE NEED FOLDER` (1 where hpcinit has no key of the node yet; the folder
    /// `hpcinit code` was given, or `-`).
    pub look: Script,
}

pub fn plan(
    plan: &Plan,
    profile: &Profile,
    req: &JupyterRequest,
    purpose: Purpose,
    node_block: Option<HostBlock>,
) -> NodePlan {
    let raw = &profile.raw;
    let kind = raw.scheduler.kind;
    let (resources, time) = jupyter::resources(plan, profile, req);
    let venv = plan.python().map(|p| p.venv.clone()).unwrap_or_else(|| "~/venvs/general".into());
    let env = super::job_parts::env_snippet(&plan.project);
    let private_dir = "~/scratch/.hpcinit/node".to_string();
    let workdir = jupyter::workdir(plan, req.here);
    let name = if plan.no_project { "scratch" } else { plan.project.as_str() };
    let rc_path = format!("{private_dir}/{name}.bashrc");
    // What the start writes (with the paths as the cluster resolves them).
    let rc = [
        "# hpcinit: your own start-up, then the project's job environment, in its working directory."
            .to_string(),
        "[ -f ~/.bashrc ] && . ~/.bashrc".to_string(),
        format!("[ -f {env} ] && . {env}"),
        format!("cd {workdir} || true"),
    ]
    .join("\n");
    let body = vec![
        format!(
            "# {}: holds this node for your session, which joins the job over ssh or srun;",
            purpose.command()
        ),
        "# it ends at the time limit, or when hpcinit cancels it as the session ends.".into(),
        format!("echo \"node {} ready for {}\"", jupyter::node_var(kind), purpose.command()),
        "exec sleep infinity".into(),
    ];
    let job = jupyter::job_text(
        kind,
        &plan.display_name,
        purpose.job_name(),
        purpose.command(),
        &resources,
        time,
        &env,
        body,
    );
    let word = jupyter::sched_word(kind);
    let route = route(profile, purpose, kind, node_block.is_some());
    let scripts = NodeScripts {
        start: {
            let (open, body) = heredoc(&job);
            Script::new(
                "check the environment and submit the session's job",
                format!(
                    "{}{}{NODE_SH}hpcinit_node_start \"$@\" {open}\n{body}\n",
                    jupyter::SCHEDULER_SH,
                    jupyter::JUPYTER_SH
                ),
            )
            .with_args(vec![
                venv.clone(),
                env.clone(),
                workdir.clone(),
                u8::from(req.here || plan.no_project).to_string(),
                word.into(),
                private_dir.clone(),
                format!("{name}.bashrc"),
            ])
        },
        wait: Script::new(
            "follow the session's job",
            format!("{}{}hpcinit_jupyter_wait \"$@\"\n", jupyter::SCHEDULER_SH, jupyter::JUPYTER_SH),
        )
        .with_args(vec![word.into(), private_dir.clone()]),
        cancel: Script::new(
            "cancel the session's job",
            format!("{}{}hpcinit_jupyter_cancel \"$@\"\n", jupyter::SCHEDULER_SH, jupyter::JUPYTER_SH),
        )
        .with_args(vec![word.into(), private_dir.clone(), "0".into()]),
        look: Script::new(
            "look at the session's node from the login node",
            format!("{NODE_SH}hpcinit_node_look \"$@\"\n"),
        )
        .with_args(vec![
            workdir.clone(),
            CLUSTER_KNOWN_HOSTS.into(),
            u8::from(route.kind == RouteKind::SshNode).to_string(),
        ]),
    };
    let nodes = profile.nodes();
    let mut notes = Vec::new();
    if purpose == Purpose::Code {
        match nodes.as_ref().map(|n| n.login_vscode) {
            Some(LoginVscode::Banned) => notes.push(format!(
                "{} bans VS Code on its login nodes: connect it to a compute node only, as hpcinit code does.",
                raw.display_name
            )),
            Some(LoginVscode::Discouraged) => notes.push(format!(
                "{} asks that VS Code not run on its login nodes: hpcinit code opens it on a compute node.",
                raw.display_name
            )),
            _ => {}
        }
    }
    if node_block.as_ref().is_some_and(|b| b.get("ProxyJump").is_some() && b.get("ControlMaster").is_none()) {
        notes.push(format!(
            "Windows' OpenSSH cannot share a connection: each connection to a node signs in to {} again (one prompt each on a site with a second factor); hpcinit in WSL shares one.",
            raw.display_name
        ));
    }
    if profile.raw.interactive.is_none() {
        notes.push(format!(
            "The {} profile names no interactive defaults: the job asks for hpcinit's own (one core, 2 GB, one hour).",
            profile.name()
        ));
    }
    let unverified = profile
        .unverified_fields()
        .filter(|(f, _)| {
            *f == "interactive" || f.starts_with("interactive.") || *f == "nodes" || f.starts_with("nodes.")
        })
        .map(|(f, w)| Unverified { field: f.into(), why: w.into() })
        .collect();
    NodePlan {
        site: plan.site.clone(),
        display_name: plan.display_name.clone(),
        purpose,
        scheduler: kind,
        resources,
        workdir,
        here: req.here,
        venv,
        private_dir,
        route,
        node_block,
        patterns: nodes.as_ref().map(|n| n.patterns.clone()).unwrap_or_default(),
        login_vscode: nodes.as_ref().map(|n| n.login_vscode),
        ondemand: nodes.and_then(|n| n.ondemand),
        job,
        rc,
        rc_path,
        scripts,
        notes,
        unverified,
    }
}

/// The compute nodes' `Host` block in the plan's ssh config, where the site has one.
pub fn block_of(plan: &Plan) -> Option<HostBlock> {
    plan.steps.iter().find_map(|s| match &s.action {
        super::step::Action::SshConfig(c) => {
            c.blocks.iter().find(|b| b.criteria.is_none() && b.get("HostName").is_none()).cloned()
        }
        _ => None,
    })
}

fn route(profile: &Profile, purpose: Purpose, kind: SchedulerKind, block: bool) -> Route {
    let display = &profile.raw.display_name;
    let site = profile.name();
    let web = |n: &Option<crate::profile::Nodes>| match n.as_ref().and_then(|n| n.ondemand.clone()) {
        Some(url) => format!("; use {display}'s Open OnDemand at {url}"),
        None => String::new(),
    };
    let nodes = profile.nodes();
    if block {
        return Route {
            kind: RouteKind::SshNode,
            why: format!(
                "{display}'s nodes take your key from outside while a job of yours runs there: ssh reaches the node by its name through {site}'s shared connection (the Host block for {}), so the hop costs no new sign-in, and the node's own host key is checked",
                nodes.map(|n| n.patterns.join(" ")).unwrap_or_default()
            ),
        };
    }
    let reason = match &nodes {
        None => format!("the {site} profile does not name {display}'s compute nodes (nodes.patterns)"),
        Some(n) if !n.accept_keys => {
            format!("{display}'s compute nodes do not take your key from outside the cluster")
        }
        Some(_) => format!("you sign in to {display} without a key, and ssh to its compute nodes needs one"),
    };
    match (purpose, kind) {
        (Purpose::Shell, SchedulerKind::Slurm) => Route {
            kind: RouteKind::SrunOverlap,
            why: format!("{reason}: the shell joins the job through Slurm from the login node (`srun --jobid … --overlap --pty`), over the shared connection"),
        },
        _ => Route { kind: RouteKind::None, why: format!("not possible at {display}: {reason}{}", web(&nodes)) },
    }
}

/// The command a shell runs on the node (after `exec` over ssh, after `srun … ` from the login
/// node): bash with the start-up file, interactive, or the person's command in that
/// environment, each word quoted.
pub fn shell_command(rc_path: &str, command: &[String]) -> String {
    let rc = sh_path(rc_path);
    if command.is_empty() {
        format!("bash --rcfile {rc} -i")
    } else {
        let words: Vec<String> = command.iter().map(|w| sh(w)).collect();
        format!("bash -c '. \"$0\" >/dev/null && exec \"$@\"' {rc} {}", words.join(" "))
    }
}

/// The command line the shell's ssh sends: on the node itself (`exec` the shell), or on the login
/// node, into job `id` with `srun --overlap` (a pseudo-terminal where the person has one).
pub fn remote_shell(np: &NodePlan, id: &str, tty: bool, command: &[String]) -> String {
    let remote = shell_command(&np.rc_path, command);
    match np.route.kind {
        RouteKind::SrunOverlap => format!(
            "srun --jobid={} --overlap --nodes=1 --ntasks=1{} {remote}",
            sh(id),
            if tty { " --pty" } else { "" }
        ),
        _ => format!("exec {remote}"),
    }
}

/// What a node session's exchanges report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeReport {
    /// Where the session opens and the person's scratch, both absolute.
    Place {
        workdir: String,
        scratch: String,
    },
    /// A host key of the node: from the cluster's own file (`true`) or read from the node.
    HostKey {
        from_cluster: bool,
        key: String,
    },
    NoHostKey,
    Other(jupyter::JupyterReport),
}

impl Tagged for NodeReport {
    fn from_tag(tag: &str, payload: &str) -> Option<NodeReport> {
        match tag {
            "place" => {
                let (w, s) = payload.trim().rsplit_once('|')?;
                Some(NodeReport::Place { workdir: w.into(), scratch: s.into() })
            }
            "hostkey" => {
                let (from, key) = payload.trim().split_once(' ')?;
                match from {
                    "none" => Some(NodeReport::NoHostKey),
                    f => Some(NodeReport::HostKey { from_cluster: f == "cluster", key: key.trim().into() }),
                }
            }
            _ => jupyter::JupyterReport::from_tag(tag, payload).map(NodeReport::Other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::tags;

    #[test]
    fn the_node_exchanges_are_typed() {
        let out = "@@hpcinit:place /home/a/scratch/code-snapshots/p/latest|/scratch/a\n@@hpcinit:hostkey scan ssh-ed25519 AAAA\n@@hpcinit:hostkey none -\n@@hpcinit:job 7\n";
        let r = tags::<NodeReport>(out);
        assert_eq!(
            r[0],
            NodeReport::Place {
                workdir: "/home/a/scratch/code-snapshots/p/latest".into(),
                scratch: "/scratch/a".into()
            }
        );
        assert_eq!(r[1], NodeReport::HostKey { from_cluster: false, key: "ssh-ed25519 AAAA".into() });
        assert_eq!(r[2], NodeReport::NoHostKey);
        assert_eq!(r[3], NodeReport::Other(jupyter::JupyterReport::Job("7".into())));
    }

    #[test]
    fn the_shell_command_quotes_every_word() {
        let np = "~/scratch/.hpcinit/node/p.bashrc";
        assert_eq!(shell_command(np, &[]), "bash --rcfile \"$HOME\"/scratch/.hpcinit/node/p.bashrc -i");
        assert_eq!(
            shell_command(np, &["python".into(), "-c".into(), "print('a b'); x=$(id)".into()]),
            "bash -c '. \"$0\" >/dev/null && exec \"$@\"' \"$HOME\"/scratch/.hpcinit/node/p.bashrc python -c 'print('\\''a b'\\''); x=$(id)'"
        );
    }

    #[test]
    #[cfg_attr(windows, ignore = "runs bash")]
    fn the_persons_folder_is_made_absolute_on_the_cluster() {
        let look = |folder: &str| {
            let script =
                Script::new("look", format!("{NODE_SH}HOME=/h\nhpcinit_node_look '~/w' f 0 n 0 \"$1\"\n"))
                    .with_args(vec![folder.into()]);
            let out =
                std::process::Command::new("bash").arg("-c").arg(script.input()).output().expect("bash runs");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        assert_eq!(look("-"), "@@hpcinit:place /h/w|/h\n", "the plan's working directory");
        assert_eq!(look("data"), "@@hpcinit:place /h/data|/h\n", "relative: under home, where ssh starts");
        assert_eq!(look("~/x y"), "@@hpcinit:place /h/x y|/h\n");
        assert_eq!(look("/abs"), "@@hpcinit:place /abs|/h\n");
    }
}
