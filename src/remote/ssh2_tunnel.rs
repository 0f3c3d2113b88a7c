//! A gateway for the built-in SSH client: one libssh2 session to the gateway (signed in once)
//! and one thread that owns it. Each connection through the gateway is a `direct-tcpip`
//! channel to the host behind, bridged to a loopback TCP connection so that another libssh2
//! session (the login host's, with its own key exchange and sign-in) can run on it. The login
//! host sees the gateway's address and nothing of the laptop; the bytes between the two
//! sessions are the inner session's encrypted stream. Loopback TCP rather than a Unix socket
//! pair: it works on every system libssh2 runs on, Windows included.

use super::RemoteError;
use ssh2::Session;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

/// libssh2's "would block" (`LIBSSH2_ERROR_EAGAIN`).
const EAGAIN: i32 = -37;

/// The gateway's session, run by its own thread for as long as this lives.
pub struct Gateway {
    requests: mpsc::Sender<Request>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct Request {
    host: String,
    port: u16,
    reply: mpsc::Sender<Result<TcpStream, String>>,
}

/// One bridged channel.
struct Pair {
    local: TcpStream,
    channel: ssh2::Channel,
    local_open: bool,
}

impl Gateway {
    /// Takes over `session` (signed in).
    pub fn start(session: Session) -> Gateway {
        let (requests, inbox) = mpsc::channel::<Request>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || serve(session, inbox, &stopping));
        Gateway { requests, stop, thread: Some(thread) }
    }

    /// A stream to `host:port` as the gateway sees it.
    pub fn open(&self, host: &str, port: u16) -> Result<TcpStream, RemoteError> {
        let (reply, answer) = mpsc::channel();
        let request = Request { host: host.into(), port, reply };
        let gone =
            || RemoteError::Protocol { host: host.into(), message: "the gateway's connection ended".into() };
        self.requests.send(request).map_err(|_| gone())?;
        answer
            .recv()
            .map_err(|_| gone())?
            .map_err(|message| RemoteError::Protocol { host: host.into(), message })
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The gateway thread: opens the channels asked for and moves bytes both ways on every open
/// one, without blocking (an idle turn sleeps 1 ms), until `stop`.
fn serve(session: Session, inbox: mpsc::Receiver<Request>, stop: &AtomicBool) {
    session.set_blocking(false);
    let mut pairs: Vec<Pair> = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let mut moved = false;
        while let Ok(r) = inbox.try_recv() {
            let _ = r.reply.send(bridge(&session, &r.host, r.port, stop).map(|(theirs, pair)| {
                pairs.push(pair);
                theirs
            }));
            moved = true;
        }
        pairs.retain_mut(|p| match step(p, &mut buf, stop) {
            Ok(m) => {
                moved |= m;
                true
            }
            Err(_) => {
                let _ = retry(stop, || p.channel.close().map_err(std::io::Error::from));
                false
            }
        });
        if !moved {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A `direct-tcpip` channel to `host:port` and a loopback connection for it: the end for the
/// inner session, and the pair the thread pumps.
fn bridge(session: &Session, host: &str, port: u16, stop: &AtomicBool) -> Result<(TcpStream, Pair), String> {
    let channel = loop {
        match session.channel_direct_tcpip(host, port, None) {
            Ok(c) => break c,
            Err(e) if e.code() == ssh2::ErrorCode::Session(EAGAIN) && !stop.load(Ordering::Relaxed) => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => {
                return Err(format!("the gateway did not open a channel to {host}:{port}: {}", e.message()))
            }
        }
    };
    let io = |e: std::io::Error| e.to_string();
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io)?;
    let theirs = TcpStream::connect(listener.local_addr().map_err(io)?).map_err(io)?;
    let (ours, _) = listener.accept().map_err(io)?;
    ours.set_nonblocking(true).map_err(io)?;
    Ok((theirs, Pair { local: ours, channel, local_open: true }))
}

/// One turn for one pair: `Ok(true)` when bytes moved, `Err` when the pair is done.
fn step(p: &mut Pair, buf: &mut [u8], stop: &AtomicBool) -> std::io::Result<bool> {
    let mut moved = false;
    if p.local_open {
        match p.local.read(buf) {
            Ok(0) => {
                p.local_open = false;
                retry(stop, || p.channel.send_eof().map_err(std::io::Error::from))?;
            }
            Ok(n) => {
                write_all(&mut p.channel, &buf[..n], stop)?;
                moved = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    match p.channel.read(buf) {
        Ok(0) if p.channel.eof() => return Err(ErrorKind::UnexpectedEof.into()),
        Ok(0) => {}
        Ok(n) => {
            write_all(&mut p.local, &buf[..n], stop)?;
            moved = true;
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    if !p.local_open && p.channel.eof() {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    Ok(moved)
}

/// `w.write_all(data)` on a non-blocking writer: waits out `WouldBlock`.
fn write_all(w: &mut impl Write, mut data: &[u8], stop: &AtomicBool) -> std::io::Result<()> {
    while !data.is_empty() {
        match w.write(data) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock && !stop.load(Ordering::Relaxed) => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Repeats a non-blocking libssh2 call while it says `WouldBlock` (at most 2 s).
fn retry(stop: &AtomicBool, mut f: impl FnMut() -> std::io::Result<()>) -> std::io::Result<()> {
    for _ in 0..2000 {
        match f() {
            Err(e) if e.kind() == ErrorKind::WouldBlock && !stop.load(Ordering::Relaxed) => {
                std::thread::sleep(Duration::from_millis(1))
            }
            other => return other,
        }
    }
    Err(ErrorKind::TimedOut.into())
}
