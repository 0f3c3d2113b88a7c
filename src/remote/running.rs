//! A command running on the cluster in a channel of its own over the run's shared OpenSSH
//! connection, collected later: while a long script works on the cluster (the venv build), the
//! run's login shell is free for other steps. Its output is read as it comes (threads) and kept
//! until [`Running::wait`] passes it on. Dropped without waiting, the local ssh is killed: the
//! channel closes, and the script's next output line ends it on the cluster (SIGPIPE); the
//! scripts hpcinit starts this way leave nothing half-done marked as done either way.

use super::{RemoteError, RemoteOutput};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

/// How the transport turns ssh's standard error into an error (when ssh exits 255).
pub type Classify = Box<dyn Fn(&str) -> RemoteError + Send>;

pub struct Running {
    child: Option<Child>,
    lines: Receiver<String>,
    writer: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<String>>,
    classify: Classify,
}

impl Running {
    /// Starts `cmd` (ssh pointed at the connection, with the remote command) with `input` on
    /// its standard input.
    pub fn spawn(mut cmd: Command, input: &[u8], classify: Classify) -> std::io::Result<Running> {
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            // A command that stops reading early closes the pipe: not an error here.
            let _ = stdin.write_all(&input);
        });
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err_pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        });
        let (tx, lines) = mpsc::channel();
        let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
        std::thread::spawn(move || {
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(String::from_utf8_lossy(&line).into_owned()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Running { child: Some(child), lines, writer: Some(writer), stderr: Some(stderr), classify })
    }

    /// Waits for it to end, passing each output line to `on_line` (the ones printed so far
    /// first). ssh's own failure (exit 255 with ssh's message) is an error; the command's exit
    /// status is in the output.
    pub fn wait(mut self, on_line: &mut dyn FnMut(&str)) -> Result<RemoteOutput, RemoteError> {
        let mut stdout = String::new();
        for text in self.lines.iter() {
            on_line(text.trim_end_matches(['\n', '\r']));
            stdout.push_str(&text);
        }
        let mut child = self.child.take().expect("waited once");
        let status = child
            .wait()
            .map_err(|e| RemoteError::Spawn { program: "ssh".into(), source: e })?
            .code()
            .unwrap_or(-1);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        let stderr = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
        if status == 255 {
            let e = (self.classify)(&stderr);
            if !matches!(e, RemoteError::Protocol { .. }) {
                return Err(e);
            }
        }
        Ok(RemoteOutput { status, stdout, stderr })
    }
}

impl Running {
    /// [`Running::wait`], bounded: when it has not ended within `limit`, the local ssh is
    /// killed and the answer is [`RemoteError::Stalled`].
    pub fn wait_for(
        self,
        limit: std::time::Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, RemoteError> {
        self.wait_until(limit, &|| false, on_line)
    }

    /// [`Running::wait_for`] that also gives up as soon as `stop_now` says so (Ctrl-C; asked
    /// ten times a second): the local ssh is killed and the answer is [`RemoteError::Stalled`]
    /// too; the caller knows why.
    pub fn wait_until(
        self,
        limit: std::time::Duration,
        stop_now: &dyn Fn() -> bool,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<RemoteOutput, RemoteError> {
        let deadline = std::time::Instant::now() + limit;
        let mut early = String::new();
        loop {
            if stop_now() {
                return Err(RemoteError::Stalled { seconds: 0 });
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(RemoteError::Stalled { seconds: limit.as_secs().max(1) });
            }
            match self.lines.recv_timeout(left.min(std::time::Duration::from_millis(100))) {
                Ok(text) => {
                    on_line(text.trim_end_matches(['\n', '\r']));
                    early.push_str(&text);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        let mut rest = self.wait(&mut |_| {})?;
        early.push_str(&rest.stdout);
        rest.stdout = early;
        Ok(rest)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg("-c").arg(script);
        c
    }

    fn protocol(stderr: &str) -> RemoteError {
        RemoteError::Protocol { host: "h".into(), message: stderr.into() }
    }

    #[test]
    #[cfg_attr(windows, ignore = "runs sh")]
    fn output_waits_for_the_collector_and_arrives_whole() {
        let r = Running::spawn(
            sh("read -r x; echo \"got $x\"; echo err >&2; printf tail; exit 4"),
            b"in\n",
            Box::new(protocol),
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut seen = Vec::new();
        let out = r.wait(&mut |l| seen.push(l.to_string())).unwrap();
        assert_eq!(out.status, 4);
        assert_eq!(out.stdout, "got in\ntail");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(seen, ["got in", "tail"]);
    }

    #[test]
    #[cfg_attr(windows, ignore = "runs sh")]
    fn ssh_failing_is_an_error_and_dropping_stops_it() {
        let denied = |s: &str| RemoteError::Closed { host: s.trim().into() };
        let r = Running::spawn(sh("echo gone >&2; exit 255"), b"", Box::new(denied)).unwrap();
        assert!(matches!(r.wait(&mut |_| {}), Err(RemoteError::Closed { host }) if host == "gone"));
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("flag");
        let r = Running::spawn(sh(&format!("sleep 2; touch {}", flag.display())), b"", Box::new(protocol))
            .unwrap();
        drop(r);
        std::thread::sleep(std::time::Duration::from_millis(2500));
        assert!(!flag.exists(), "a dropped command must not run on");
    }
}
