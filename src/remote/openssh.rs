//! The system's OpenSSH client as the run's transport: the first connection opens a
//! ControlMaster through the `Host` entry hpcinit wrote (the person answers ssh's own prompts:
//! password, code, Duo, passphrase); every later command rides on it with `BatchMode=yes`, so
//! nothing can prompt a second time. ssh runs with `LANG=C` so its messages can be classified,
//! and what it prints on standard error still reaches the person (banners, Duo instructions).

use super::shell_session::ShellSession;
use super::{Remote, RemoteError, RemoteOutput, Running};
use crate::exchange::Script;
use crate::prompt::Prompter;
use crate::ssh_command::SshCommand;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct OpenSsh {
    alias: String,
    host: String,
    port: u16,
    /// `-F FILE`, when ssh would otherwise read another home's config (see [`crate::env::Env::ssh_config_override`]).
    config: Option<PathBuf>,
    vars: BTreeMap<String, String>,
    multiplex: bool,
    /// Echo ssh's standard error to ours while connecting.
    echo: bool,
    /// The run's login shell on the cluster, once a script has run (multiplexed only).
    shell: Option<ShellSession>,
    /// The gateway's alias, host and port, when the config sends this alias through one.
    gateway: Option<(String, String, u16)>,
    /// Where the master's socket is expected ([`control_socket::path_for`]), asked in-process
    /// before `ssh -O check` is.
    socket: Option<PathBuf>,
}

impl OpenSsh {
    pub fn new(
        alias: &str,
        host: &str,
        port: u16,
        config: Option<PathBuf>,
        vars: &BTreeMap<String, String>,
        multiplex: bool,
        echo: bool,
    ) -> OpenSsh {
        OpenSsh {
            alias: alias.into(),
            host: host.into(),
            port,
            config,
            vars: vars.clone(),
            multiplex,
            echo,
            shell: None,
            gateway: None,
            socket: None,
        }
    }

    /// Expects the master's socket at `socket` ([`OpenSsh::master_running`] asks it directly).
    pub fn with_socket(mut self, socket: Option<PathBuf>) -> Self {
        self.socket = socket;
        self
    }

    /// The gateway's own connection (its alias, with this one's config and environment).
    fn gateway(&self) -> Option<OpenSsh> {
        let (alias, host, port) = self.gateway.clone()?;
        Some(OpenSsh::new(&alias, &host, port, self.config.clone(), &self.vars, self.multiplex, self.echo))
    }

    /// Goes through the gateway `alias` (`host:port`), as the config's `ProxyJump` says.
    pub fn via(mut self, alias: &str, host: &str, port: u16) -> Self {
        self.gateway = Some((alias.into(), host.into(), port));
        self
    }

    /// ssh as every call here makes it ([`SshCommand`]: environment, locale, config).
    fn ssh(&self) -> SshCommand {
        SshCommand::new(self.config.as_deref(), &self.vars)
    }

    fn command(&self) -> Command {
        self.ssh().command()
    }

    fn spawn_err(e: std::io::Error) -> RemoteError {
        RemoteError::Spawn { program: "ssh".into(), source: e }
    }

    fn classify(&self, stderr: &str) -> RemoteError {
        RemoteError::from_ssh_stderr(stderr, &self.host, self.port)
    }

    /// `command` on the cluster over the shared connection (never prompting), started.
    fn spawn(&self, command: &str, input: &[u8]) -> std::io::Result<Running> {
        let cmd = self.ssh().batch().arg(&self.alias).arg(command).command();
        let (host, port) = (self.host.clone(), self.port);
        Running::spawn(cmd, input, Box::new(move |stderr| RemoteError::from_ssh_stderr(stderr, &host, port)))
    }

    /// Whether a master connection for the alias is running: its socket asked in-process when
    /// hpcinit knows where it is, else (or when that gets no answer) `ssh -O check`.
    pub fn master_running(&self) -> bool {
        if !self.multiplex {
            return false;
        }
        if self.socket.as_deref().and_then(super::control_socket::alive) == Some(true) {
            return true;
        }
        self.command()
            .args(["-O", "check", &self.alias])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// How long a shared connection has to answer before it counts as dead. A healthy one runs
/// `true` in a round trip and the login shell's start (well under a second on the test
/// cluster); a frozen one never answers.
pub const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(8);

/// After this long without `true`, the server is also asked something its login shell plays no
/// part in (see [`OpenSsh::answers_within`]).
const SHELL_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl OpenSsh {
    /// Whether the server answers over the shared connection within `limit`. `true` run there
    /// answers for most sites; where the login shell is slow to start (a site whose `.bashrc`
    /// restores many modules) it is not the connection's fault, so after [`SHELL_GRACE`] the
    /// master is also asked to open a forwarding channel to a closed port (`ssh -W
    /// 127.0.0.1:1`). sshd answers that itself, with no shell: "connect failed" or, where
    /// forwarding is off, "administratively prohibited", and the mux client exits. Either answer
    /// proves the connection carries bytes; a frozen one gives neither.
    fn answers_within(&self, limit: std::time::Duration) -> bool {
        answers_within(self.ssh(), &self.alias, limit)
    }
}

/// [`OpenSsh::answers_within`], from what it needs alone (a liveness check on another thread).
fn answers_within(ssh: SshCommand, alias: &str, limit: std::time::Duration) -> bool {
    {
        let quiet = |mut c: Command| {
            c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            c.spawn().ok()
        };
        let Some(mut run) = quiet(ssh.clone().batch().arg(alias).arg("true").command()) else {
            return false;
        };
        let started = std::time::Instant::now();
        let mut channel: Option<std::process::Child> = None;
        let answered = loop {
            match run.try_wait() {
                Ok(Some(status)) => break status.success(),
                Ok(None) => {}
                Err(_) => break false,
            }
            if let Some(c) = channel.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    break true;
                }
            } else if started.elapsed() >= SHELL_GRACE {
                let probe = ssh.clone().batch().args(["-W", "127.0.0.1:1"]).arg(alias).command();
                channel = quiet(probe);
            }
            if started.elapsed() >= limit {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        for mut c in [Some(run), channel].into_iter().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        answered
    }
}

impl OpenSsh {
    /// Signs in once with `ssh ALIAS true`; with multiplexing the connection stays as the
    /// master (ControlPersist) for every later ssh to the alias, including `ssh -W` through a
    /// gateway. `Ok(true)` when a master was already running. ssh asks on the terminal (or
    /// through `SSH_ASKPASS`).
    pub fn sign_in(&self) -> Result<bool, RemoteError> {
        if self.master_running() {
            if self.answers_within(ANSWER_WITHIN) {
                return Ok(true);
            }
            let _ = self.control("exit", &[]);
        }
        self.sign_in_with_true()
    }

    fn sign_in_with_true(&self) -> Result<bool, RemoteError> {
        let mut child = self
            .command()
            .args(["-o", "ConnectTimeout=20", &self.alias, "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Self::spawn_err)?;
        // ssh asks on the terminal (or through SSH_ASKPASS), not on this pipe; what comes here
        // is banners and errors, passed on as they arrive and kept for classification.
        let pipe = child.stderr.take().expect("piped stderr");
        let echo = self.echo;
        let reader = std::thread::spawn(move || {
            let mut kept = String::new();
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if echo {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
                kept.push_str(&line);
                kept.push('\n');
            }
            kept
        });
        let status = child.wait().map_err(Self::spawn_err)?;
        let stderr = reader.join().unwrap_or_default();
        if status.success() {
            Ok(false)
        } else {
            Err(self.classify(&stderr))
        }
    }

    /// The ssh command of [`Remote::key_accepted`], with the throw-away config it reads.
    fn key_query(&self, key: &Path) -> (Command, Option<TempConfig>) {
        let public = PathBuf::from(format!("{}.pub", key.display()));
        let query = if public.is_file() { self.query_config(&public).ok() } else { None };
        // With a query config: the alias's own settings, resolved by ssh, without its identities.
        let ssh = match &query {
            Some(q) => self.ssh().with_config(&q.0),
            None => self.ssh(),
        };
        let mut cmd = ssh.command();
        cmd.args(["-v", "-o", "ControlPath=none", "-o", "ControlMaster=no", "-o", "BatchMode=yes"])
            .args(["-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes"])
            .args(["-o", "IdentityAgent=none", "-o", "ConnectTimeout=20", "-i"])
            .arg(if query.is_some() { public.as_path() } else { key })
            .args([&self.alias, "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        (cmd, query)
    }

    /// A config with the alias's resolved settings (`ssh -G`) but no identity files, for
    /// [`Remote::key_accepted`]: a gateway is reached as the real config says (its master).
    fn query_config(&self, public: &Path) -> std::io::Result<TempConfig> {
        let g = self.command().args(["-G", &self.alias]).stdin(Stdio::null()).output()?;
        if !g.status.success() {
            return Err(std::io::Error::other("ssh -G failed"));
        }
        let text = String::from_utf8_lossy(&g.stdout);
        let mut conf =
            format!("# hpcinit: asking {} whether it takes {}\nHost *\n", self.alias, public.display());
        for line in text.lines() {
            let Some((k, v)) = line.split_once(' ') else { continue };
            match k {
                "hostname"
                | "port"
                | "user"
                | "hostkeyalias"
                | "stricthostkeychecking"
                | "connecttimeout" => conf.push_str(&format!("    {k} {v}\n")),
                "userknownhostsfile" => {
                    conf.push_str(&format!("    {k} {}\n", v.split_whitespace().next().unwrap_or(v)))
                }
                "proxyjump" if v != "none" => {
                    let config =
                        self.config.as_ref().map(|f| format!("-F '{}' ", f.display())).unwrap_or_default();
                    conf.push_str(&format!(
                        "    proxycommand ssh {config}-o BatchMode=yes -W '[%h]:%p' {v}\n"
                    ));
                }
                _ => {}
            }
        }
        let path = std::env::temp_dir().join(format!(
            "hpcinit-query-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        crate::local::atomic::private(&mut options);
        let mut f = options.open(&path)?;
        f.write_all(conf.as_bytes())?;
        Ok(TempConfig(path))
    }

    /// `ssh -W HOST:PORT ALIAS` over the alias's master, never prompting: a byte stream to
    /// `host:port` as the gateway sees it (the login node behind it).
    pub fn forward_command(&self, host: &str, port: u16) -> Command {
        let mut cmd = self.command();
        cmd.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-W"])
            .arg(format!("{}:{port}", bracket(host)))
            .arg(&self.alias);
        cmd
    }
}

/// A file removed when dropped.
/// What ssh's verbose output says about the key: "Server accepts key" comes before the
/// signature, so the key is registered even when it then needs a passphrase or a second
/// factor that BatchMode may not ask for.
/// The key's answer, asked again (quietly, bounded) while the node drops connections before the
/// key exchange or is too busy to answer within ssh's ConnectTimeout: a room of students'
/// MaxStartups must not read as "the key does not work" nor fail a run whose work is done.
fn asked_again_while_busy(ask: impl FnMut() -> Result<bool, RemoteError>) -> Result<bool, RemoteError> {
    super::retry::quietly(ask)
}

fn key_answer(out: &std::process::Output, host: &str, port: u16) -> Result<bool, RemoteError> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || stderr.contains("Server accepts key") {
        return Ok(true);
    }
    let e = RemoteError::from_ssh_stderr(&stderr, host, port);
    if e.is_network() || matches!(e, RemoteError::HostKeyRejected { .. } | RemoteError::Busy { .. }) {
        return Err(e);
    }
    Ok(false)
}

struct TempConfig(PathBuf);

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `[::1]` for an IPv6 address, as `ssh -W` takes it.
fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

impl OpenSsh {
    /// `ssh -O VERB [ARGS] ALIAS`, quietly; `Ok` when it succeeded, else ssh's words.
    fn control(&self, verb: &str, args: &[String]) -> Result<(), String> {
        let out = self
            .command()
            .args(["-O", verb])
            .args(args)
            .arg(&self.alias)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Remote for OpenSsh {
    fn connect(&mut self, _prompter: &mut dyn Prompter) -> Result<bool, RemoteError> {
        if self.is_open() {
            return Ok(true);
        }
        if self.multiplex {
            // The connection that signs in becomes the master, and its session is the run's
            // login shell: no separate `true`, the first script is one round trip away.
            let mut ssh = self.command();
            ssh.args(["-o", "ConnectTimeout=20", &self.alias]);
            let mut session = ShellSession::start(ssh, self.echo).map_err(Self::spawn_err)?;
            if session.wait_ready() {
                self.shell = Some(session);
                return Ok(false);
            }
            let stderr = session.ssh_stderr();
            drop(session);
            return Err(self.classify(&stderr));
        }
        self.sign_in_with_true()
    }

    /// A running master that also answers: `ssh -O check` only asks the local master process,
    /// which answers while its TCP connection is dead (a laptop that slept, a network that
    /// changed). A master that does not run `true` within [`ANSWER_WITHIN`] is ended, so the run
    /// signs in again instead of hanging on it.
    fn is_open(&mut self) -> bool {
        if !self.master_running() {
            return false;
        }
        if self.shell.is_some() || self.answers_within(ANSWER_WITHIN) {
            return true;
        }
        let _ = self.control("exit", &[]);
        false
    }

    fn forward(&mut self, f: &super::Forward, open: bool) -> Option<Result<(), RemoteError>> {
        if !self.multiplex {
            return None;
        }
        let verb = if open { "forward" } else { "cancel" };
        Some(self.control(verb, &["-L".into(), f.spec()]).map_err(|message| {
            if message.contains("No such file") || message.contains("Control socket connect") {
                RemoteError::NoMaster { alias: self.alias.clone() }
            } else {
                RemoteError::Protocol { host: self.host.clone(), message }
            }
        }))
    }

    fn drop_connection(&mut self) -> bool {
        self.shell = None;
        let ended = self.multiplex && self.control("exit", &[]).is_ok();
        // The master leaves in a moment: until it has, `-O check` still answers, and a command
        // sent meanwhile may find no socket and sign in on its own (one more authentication).
        let asked = std::time::Instant::now();
        while ended && self.master_running() && asked.elapsed() < std::time::Duration::from_secs(3) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        ended
    }

    fn exec(
        &mut self,
        command: &str,
        input: &[u8],
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, RemoteError> {
        self.spawn(command, input).map_err(Self::spawn_err)?.wait(on_line)
    }

    /// Over a shared connection: the script in a login shell on a channel of its own.
    fn start(&mut self, script: &Script) -> Option<Result<Running, RemoteError>> {
        if !self.multiplex {
            return None;
        }
        Some(self.spawn(script.shell(), script.input().as_bytes()).map_err(Self::spawn_err))
    }

    /// Over a shared connection, every script runs in one login shell kept for the run: one
    /// round trip per script, the login profile read once. Without one, a shell per script.
    fn script(
        &mut self,
        script: &Script,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, RemoteError> {
        if !self.multiplex {
            return self.exec(script.shell(), script.input().as_bytes(), on_line);
        }
        if self.shell.is_none() {
            let ssh = self.ssh().batch().arg(&self.alias).command();
            let mut session = ShellSession::start(ssh, false).map_err(Self::spawn_err)?;
            if !session.wait_ready() {
                let stderr = session.ssh_stderr();
                return Err(if stderr.trim().is_empty() {
                    RemoteError::NoMaster { alias: self.alias.clone() }
                } else {
                    self.classify(&stderr)
                });
            }
            self.shell = Some(session);
        }
        let session = self.shell.as_mut().expect("started above");
        match session.run(script, on_line) {
            Ok(out) => Ok(out),
            Err(_) => {
                let stderr = session.ssh_stderr();
                self.shell = None;
                Err(if stderr.trim().is_empty() {
                    RemoteError::Protocol {
                        host: self.host.clone(),
                        message: format!("the connection ended during: {}", script.purpose),
                    }
                } else {
                    self.classify(&stderr)
                })
            }
        }
    }

    /// Asks the server whether it would take the key, without signing in with it: ssh is
    /// given only the public half (no agent, and none of the config's identities), so it
    /// offers the key, hears "Server accepts key" (the key is registered), cannot sign and
    /// gives up. No session is made and sshd logs no login; a second factor or a passphrase
    /// does not matter to the answer. Without a `.pub` beside the key, the key itself is
    /// offered (a full key-only login).
    fn key_accepted(&mut self, key: &Path, _prompter: &mut dyn Prompter) -> Result<bool, RemoteError> {
        let (mut cmd, query) = self.key_query(key);
        let answer = asked_again_while_busy(|| {
            let out = cmd.output().map_err(Self::spawn_err)?;
            key_answer(&out, &self.host, self.port)
        });
        drop(query);
        answer
    }

    fn start_key_query(&mut self, key: &Path) -> Option<super::KeyQuery> {
        let (mut cmd, query) = self.key_query(key);
        let (host, port) = (self.host.clone(), self.port);
        Some(super::KeyQuery::spawn(move || {
            let answer = asked_again_while_busy(|| {
                let out = cmd.output().map_err(Self::spawn_err)?;
                key_answer(&out, &host, port)
            });
            drop(query);
            answer
        }))
    }

    fn name(&self) -> &'static str {
        "ssh"
    }

    fn gateway_script(&mut self, script: &Script) -> Option<Result<RemoteOutput, RemoteError>> {
        self.gateway().map(|mut g| g.script(script, &mut |_| {}))
    }

    fn gateway_key_accepted(
        &mut self,
        key: &Path,
        prompter: &mut dyn Prompter,
    ) -> Option<Result<bool, RemoteError>> {
        self.gateway().map(|mut g| g.key_accepted(key, prompter))
    }

    fn sign_in_gateway(&mut self, _prompter: &mut dyn Prompter) -> Option<Result<bool, RemoteError>> {
        self.gateway().map(|g| g.sign_in())
    }

    /// `ssh <gateway> true` opens the gateway's master (its key is recorded by now), then
    /// `ssh -W host:port <gateway>` on it carries hpcinit's own key exchange with the host.
    fn key_through_gateway(
        &mut self,
        host: &str,
        port: u16,
        key_types: &[&str],
        _prompter: &mut dyn Prompter,
    ) -> Result<super::host_key::ServerKey, RemoteError> {
        let Some(gateway) = self.gateway() else {
            return Err(RemoteError::Protocol { host: host.into(), message: "no gateway".into() });
        };
        gateway.sign_in()?;
        super::host_key::read_via(
            gateway.forward_command(host, port),
            host,
            key_types,
            std::time::Duration::from_secs(20),
        )
    }

    fn rsync_shell(&self) -> Option<super::RsyncShell> {
        Some(super::RsyncShell { vars: crate::ssh_command::locale_c(&self.vars) })
    }

    fn is_running(&mut self) -> bool {
        self.shell.is_some() || self.master_running()
    }

    fn liveness(&self) -> Option<super::remote::Liveness> {
        if !self.multiplex {
            return None;
        }
        let (ssh, alias) = (self.ssh(), self.alias.clone());
        Some(Box::new(move |limit| answers_within(ssh, &alias, limit)))
    }
}
