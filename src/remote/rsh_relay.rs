//! `hpcinit rsh SSH-COMMAND…`: rsync's `-e` for a code snapshot. sshd runs every command through
//! the person's login shell, and bash reads `~/.bashrc` even then: a `.bashrc` (or a site's
//! `/etc/bashrc`) that prints a greeting puts it on the very stream rsync speaks its protocol
//! on, and rsync stops with "protocol incompatibility". The snapshot's remote side
//! (`plan::snapshot::rsync_path`) prints the tagged line `@@hpcinit:rsync` just before it
//! starts rsync; this relay runs ssh, drops everything the cluster printed before that line and
//! passes the rest through byte for byte. Standard input and error go straight to ssh. Runs
//! ssh on this machine; touches nothing else.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// The line the remote side prints just before rsync starts.
pub const START: &[u8] = b"@@hpcinit:rsync\n";

/// Where what follows the start line begins in `seen`, once the line is there.
pub fn after_start(seen: &[u8]) -> Option<usize> {
    seen.windows(START.len()).position(|w| w == START).map(|i| i + START.len())
}

/// Runs `command` (ssh and its arguments, as rsync gives them) and relays its output from the
/// start line on; returns ssh's exit status. Output that never reaches the start line (ssh
/// failed, or the remote side refused before rsync) goes to standard error, where rsync shows it.
pub fn relay(command: &[OsString]) -> i32 {
    let Some((program, args)) = command.split_first() else {
        eprintln!("hpcinit rsh: no command to run");
        return 2;
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hpcinit rsh: cannot start {}: {e}", program.to_string_lossy());
            return 255;
        }
    };
    let mut from = child.stdout.take().expect("piped");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut seen: Vec<u8> = Vec::new();
    let mut started = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk: &[u8] = if started {
            &buf[..n]
        } else {
            seen.extend_from_slice(&buf[..n]);
            match after_start(&seen) {
                Some(at) => {
                    started = true;
                    &seen[at..]
                }
                None => continue,
            }
        };
        if out.write_all(chunk).and_then(|_| out.flush()).is_err() {
            break;
        }
        if started && !seen.is_empty() {
            seen = Vec::new();
        }
    }
    drop(out);
    if !started && !seen.is_empty() {
        let _ = std::io::stderr().write_all(&seen);
    }
    child.wait().ok().and_then(|s| s.code()).unwrap_or(255)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_line_is_a_tagged_line() {
        assert_eq!(START, format!("{}rsync\n", crate::exchange::TAG).as_bytes());
    }

    #[test]
    fn what_the_login_files_print_is_dropped() {
        let seen = b"Welcome!\npresent\n@@hpcinit:rsync\n\x1e\x00\x00\x00rest";
        let at = after_start(seen).unwrap();
        assert_eq!(&seen[at..], b"\x1e\x00\x00\x00rest");
        assert_eq!(after_start(b"no newline yet @@hpcinit:rsync\nX"), Some(31));
        assert_eq!(after_start(b"@@hpcinit:rsyn"), None);
    }
}
