//! Ctrl-C, the same on every platform: show the cursor again (a prompt or spinner may have
//! hidden it), say so, and exit 130. Files are only ever replaced by rename, so stopping here
//! leaves none half-written; the next run continues where this one stopped. Unix: a SIGINT
//! handler; Windows: a console control handler (`SetConsoleCtrlHandler`).

const MSG: &[u8] = b"\x1b[?25h\ninterrupted; run the same command again to continue\n";

/// Installs the handler when standard error is a terminal.
pub fn exit_130_on_interrupt() {
    if console::Term::stderr().is_term() {
        install();
    }
}

#[cfg(unix)]
fn install() {
    extern "C" fn on_sigint(_: libc::c_int) {
        // Only async-signal-safe calls here: write(2) and _exit(2).
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(130);
        }
    }
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: installs a handler that only calls async-signal-safe functions.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

#[cfg(windows)]
fn install() {
    use windows_sys::Win32::System::Console::{SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_C_EVENT};
    unsafe extern "system" fn on_ctrl(kind: u32) -> windows_sys::core::BOOL {
        if kind == CTRL_C_EVENT || kind == CTRL_BREAK_EVENT {
            use std::io::Write;
            let _ = std::io::stderr().write_all(MSG);
            std::process::exit(130);
        }
        0
    }
    // SAFETY: registers a handler function that lives for the whole process.
    unsafe {
        SetConsoleCtrlHandler(Some(on_ctrl), 1);
    }
}

#[cfg(not(any(unix, windows)))]
fn install() {}
