//! One login shell on the cluster for the whole run, over the shared ssh connection: every
//! [`Script`] of the run is written to its standard input and runs in a subshell of it, so a
//! step costs one network round trip and the login profile (Lmod's set-up, banners) runs once,
//! not once per step.
//!
//! Each script keeps the isolation it had in a shell of its own: it runs in `( … )` with its
//! standard input closed, so nothing it sets, loads or changes directory to reaches the next.
//! Its standard error comes back on lines tagged with a token made for that script, then a line
//! carrying the token and the exit status ends it. Output without that line (the connection
//! dropped, the shell died) is an error naming what ssh said, never a success.

use super::RemoteOutput;
use crate::exchange::Script;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct ShellSession {
    /// Waited for in the background once the session is dropped.
    child: Option<Child>,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// What ssh itself printed on standard error (its errors when the connection goes).
    stderr: Arc<Mutex<String>>,
    /// The thread that reads it.
    reader: Option<std::thread::JoinHandle<()>>,
    /// Scripts run so far; part of each script's token.
    count: u64,
    /// Whether the login profile's output before the first script has been read past.
    ready: bool,
    /// While set, what ssh prints on standard error is passed on to ours (banners, Duo's
    /// instructions while signing in).
    echo: Arc<AtomicBool>,
}

/// The token that ends script `n`: unguessable by what the script prints.
fn token(n: u64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:08x}{n}", std::process::id(), nanos)
}

/// What the shell reads for one script: the prelude, the body as a function, then the function
/// in a subshell with its standard error tagged, and the end line with its status.
fn wrapped(script: &Script, token: &str) -> String {
    format!(
        "{input}{{ ( {call} ) </dev/null 2>&1 1>&3 | sed 's/^/@@hpcinit-stderr:{token} /' 1>&3; }} 3>&1\n\
         printf '@@hpcinit-end:{token} %s\\n' \"${{PIPESTATUS[0]}}\"\n",
        input = script.definition(),
        call = script.call(),
    )
}

/// One line of the session's output, as seen for script `token`.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    Out(&'a str),
    Err(&'a str),
    Split {
        out: &'a str,
        err: &'a str,
    },
    /// The end line (with what the script printed before it without a newline, if anything).
    End {
        before: &'a str,
        status: i32,
    },
}

fn classify<'a>(line: &'a str, token: &str) -> Line<'a> {
    let end = format!("@@hpcinit-end:{token} ");
    let err = format!("@@hpcinit-stderr:{token} ");
    if let Some(at) = line.find(&end) {
        let status = line[at + end.len()..].trim().parse().unwrap_or(-1);
        return Line::End { before: &line[..at], status };
    }
    match line.find(&err) {
        Some(0) => Line::Err(&line[err.len()..]),
        // Output without a final newline, then a line of standard error.
        Some(at) => Line::Split { out: &line[..at], err: &line[at + err.len()..] },
        None => Line::Out(line),
    }
}

impl ShellSession {
    /// Starts `exec bash -l -s` through `ssh` (a command already pointed at the connection).
    /// With `echo`, ssh's standard error reaches ours until [`ShellSession::wait_ready`].
    pub fn start(mut ssh: Command, echo: bool) -> std::io::Result<ShellSession> {
        let mut child = ssh
            .arg(crate::exchange::LOGIN_SHELL)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let kept = Arc::clone(&stderr);
        let echo = Arc::new(AtomicBool::new(echo));
        let echoing = Arc::clone(&echo);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut pipe, &mut buf) {
                if n == 0 {
                    break;
                }
                if echoing.load(Ordering::Relaxed) {
                    let _ = std::io::stderr().write_all(&buf[..n]);
                }
                if let Ok(mut s) = kept.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Ok(ShellSession {
            child: Some(child),
            stdin,
            stdout,
            stderr,
            reader: Some(reader),
            count: 0,
            ready: false,
            echo,
        })
    }

    /// Waits until the shell runs (so ssh has signed in), reading past the login profile's
    /// output. `false` when the session ended first (ssh's message is in [`Self::ssh_stderr`]).
    pub fn wait_ready(&mut self) -> bool {
        let token = token(self.count);
        let ready = format!("@@hpcinit-ready:{token}");
        let sent = self
            .stdin
            .write_all(format!("printf '%s\\n' '{ready}'\n").as_bytes())
            .and_then(|_| self.stdin.flush());
        let mut ok = sent.is_ok();
        let mut raw = Vec::new();
        while ok {
            raw.clear();
            match self.stdout.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => ok = false,
                Ok(_) => {
                    if String::from_utf8_lossy(&raw).trim_end().ends_with(&ready) {
                        break;
                    }
                }
            }
        }
        self.ready = ok;
        self.echo.store(false, Ordering::Relaxed);
        ok
    }

    /// What ssh printed on standard error, once the session has ended: ssh's exit and the end
    /// of its message are waited for (a little while), so that the error can be classified.
    pub fn ssh_stderr(&mut self) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let before = |d: std::time::Instant| std::time::Instant::now() < d;
        if let Some(child) = self.child.as_mut() {
            while matches!(child.try_wait(), Ok(None)) && before(deadline) {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        if let Some(reader) = self.reader.take() {
            while !reader.is_finished() && before(deadline) {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if reader.is_finished() {
                let _ = reader.join();
            } else {
                self.reader = Some(reader);
            }
        }
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs `script`, passing each line it prints to `on_line`. `Err(None)` when the session
    /// ended before the script did (the caller turns ssh's message into the error).
    pub fn run(
        &mut self,
        script: &Script,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, Option<std::io::Error>> {
        self.count += 1;
        let token = token(self.count);
        if !self.ready && !self.wait_ready() {
            return Err(None);
        }
        let text = wrapped(script, &token);
        self.stdin.write_all(text.as_bytes()).and_then(|_| self.stdin.flush()).map_err(|_| None)?;
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match self.stdout.read_until(b'\n', &mut raw) {
                Ok(0) => return Err(None),
                Ok(_) => {}
                Err(e) => return Err(Some(e)),
            }
            let text = String::from_utf8_lossy(&raw);
            let line = text.trim_end_matches(['\n', '\r']);
            match classify(line, &token) {
                Line::Out(l) => {
                    on_line(l);
                    stdout.push_str(l);
                    stdout.push('\n');
                }
                Line::Err(l) => {
                    stderr.push_str(l);
                    stderr.push('\n');
                }
                Line::Split { out, err } => {
                    on_line(out);
                    stdout.push_str(out);
                    stderr.push_str(err);
                    stderr.push('\n');
                }
                Line::End { before, status } => {
                    match classify(before, &token) {
                        Line::Out("") => {}
                        Line::Out(l) => {
                            on_line(l);
                            stdout.push_str(l);
                        }
                        Line::Err(l) => stderr.push_str(l),
                        Line::Split { out, err } => {
                            on_line(out);
                            stdout.push_str(out);
                            stderr.push_str(err);
                        }
                        Line::End { .. } => {}
                    }
                    return Ok(RemoteOutput { status, stdout, stderr });
                }
            }
        }
    }
}

impl Drop for ShellSession {
    fn drop(&mut self) {
        // `exit` ends the shell and its ssh; the shared connection stays (ControlPersist). The
        // run goes on (or ends) without waiting for the round trip that ending costs.
        let _ = self.stdin.write_all(b"exit 0\n");
        let _ = self.stdin.flush();
        if let Some(mut child) = self.child.take() {
            std::thread::spawn(move || child.wait());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_sorted_by_the_scripts_token() {
        let t = "abc1";
        assert_eq!(classify("hello", t), Line::Out("hello"));
        assert_eq!(classify("@@hpcinit-stderr:abc1 oops", t), Line::Err("oops"));
        // Another script's token is just output.
        assert_eq!(classify("@@hpcinit-stderr:zzz9 x", t), Line::Out("@@hpcinit-stderr:zzz9 x"));
        assert_eq!(classify("tail@@hpcinit-stderr:abc1 oops", t), Line::Split { out: "tail", err: "oops" });
        assert_eq!(classify("@@hpcinit-end:abc1 3", t), Line::End { before: "", status: 3 });
        assert_eq!(
            classify("no newline@@hpcinit-end:abc1 0", t),
            Line::End { before: "no newline", status: 0 }
        );
    }

    /// The wrapper, run by a real bash standing in for the login shell: output, standard error,
    /// status and isolation between scripts.
    #[test]
    #[cfg_attr(windows, ignore = "the cluster side: runs bash")]
    fn scripts_run_one_after_another_in_one_shell() {
        let mut s = ShellSession::start(cmd_for_test(), false).unwrap();
        assert!(s.wait_ready());
        let mut lines = Vec::new();
        let a = Script::new("a", "cd /; X=1; echo out; echo err >&2; printf 'tail'; return 3");
        let out = s.run(&a, &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(out.status, 3);
        assert_eq!(out.stdout, "out\ntail");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(lines, ["out", "tail"]);
        let b = Script::new("b", "echo \"${X:-unset} $(pwd)\"; read -r l || echo no-stdin");
        let out = s.run(&b, &mut |_| {}).unwrap();
        assert_eq!(out.status, 0);
        assert!(out.stdout.starts_with("unset "), "{}", out.stdout);
        assert!(!out.stdout.starts_with("unset /\n"), "the cd stayed in its subshell: {}", out.stdout);
        assert!(out.stdout.contains("no-stdin"), "{}", out.stdout);
        let c = Script::new("c", "exit 7");
        assert_eq!(s.run(&c, &mut |_| {}).unwrap().status, 7);
        assert_eq!(s.run(&Script::new("d", "echo still"), &mut |_| {}).unwrap().stdout, "still\n");
        // The shell gone: an error, not an empty success.
        let e = Script::new("e", "kill -9 $$");
        assert!(s.run(&e, &mut |_| {}).is_err());
    }

    /// `bash` that ignores the `-l` (the test machine's login profile is not the cluster's).
    fn cmd_for_test() -> Command {
        let mut c = Command::new("bash");
        c.arg("-c").arg("shift; exec bash -s").arg("x");
        c
    }
}
