//! Files sent over SFTP on the ssh2 session, for machines without OpenSSH or rsync: each file
//! goes to a temporary name beside its place, gets its mode and modification time, and is then
//! renamed into place, so an interrupted copy never leaves a half-written file under a real name.

use super::{RemoteError, Upload};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct SftpUpload {
    sftp: ssh2::Sftp,
    host: String,
    made: HashSet<String>,
}

impl SftpUpload {
    pub fn new(sftp: ssh2::Sftp, host: &str) -> SftpUpload {
        SftpUpload { sftp, host: host.into(), made: HashSet::new() }
    }

    fn err(&self, what: &str, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Protocol { host: self.host.clone(), message: format!("{what}: {e}") }
    }
}

impl Upload for SftpUpload {
    fn mkdir_p(&mut self, dir: &str) -> Result<(), RemoteError> {
        let mut path = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(part);
            if self.made.contains(&path) {
                continue;
            }
            if self.sftp.stat(Path::new(&path)).is_err() {
                self.sftp
                    .mkdir(Path::new(&path), 0o755)
                    .map_err(|e| self.err(&format!("mkdir {path}"), e))?;
            }
            self.made.insert(path.clone());
        }
        Ok(())
    }

    fn put(
        &mut self,
        local: &Path,
        remote: &str,
        mode: i32,
        mtime: i64,
        limit: Option<u64>,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<(), RemoteError> {
        let (dir, name) = remote.rsplit_once('/').unwrap_or(("", remote));
        let part = if dir.is_empty() {
            format!(".hpcinit-part-{name}")
        } else {
            format!("{dir}/.hpcinit-part-{name}")
        };
        let mut src =
            std::fs::File::open(local).map_err(|e| self.err(&format!("read {}", local.display()), e))?;
        let mut dst =
            self.sftp.create(Path::new(&part)).map_err(|e| self.err(&format!("create {part}"), e))?;
        let start = Instant::now();
        let mut sent = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = src.read(&mut buf).map_err(|e| self.err(&format!("read {}", local.display()), e))?;
            if n == 0 {
                break;
            }
            dst.write_all(&buf[..n]).map_err(|e| self.err(&format!("write {part}"), e))?;
            sent += n as u64;
            on_bytes(n as u64);
            if let Some(rate) = limit {
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        drop(dst);
        let stat = ssh2::FileStat {
            size: None,
            uid: None,
            gid: None,
            perm: Some(mode as u32),
            atime: Some(mtime.max(0) as u64),
            mtime: Some(mtime.max(0) as u64),
        };
        self.sftp
            .setstat(Path::new(&part), stat)
            .map_err(|e| self.err(&format!("set times of {part}"), e))?;
        self.sftp
            .rename(Path::new(&part), Path::new(remote), None)
            .map_err(|e| self.err(&format!("rename {part}"), e))?;
        Ok(())
    }
}
