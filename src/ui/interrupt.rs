//! Ctrl-C, the same on every platform: show the cursor again (a prompt or spinner may have
//! hidden it), say so, and exit 130. Files are only ever replaced by rename, so stopping here
//! leaves none half-written; the next run continues where this one stopped. The handler itself
//! is the platform's ([`crate::platform::on_interrupt`]).

const MSG: &[u8] = b"\x1b[?25h\ninterrupted; run the same command again to continue\n";

/// Installs the handler when standard error is a terminal.
pub fn exit_130_on_interrupt() {
    if console::Term::stderr().is_term() {
        crate::platform::on_interrupt(MSG, 130);
    }
}
