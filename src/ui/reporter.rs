//! Progress of the steps as they run: a heading per step, detail lines, and one result line
//! (`✓` done, `·` unchanged, `!` needs the person, `✗` failed); a spinner while hpcinit waits
//! for something outside its control. Progress stays out of the steps themselves.

use super::style::Style;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Done,
    Unchanged,
    /// Left for the person to finish (a portal upload); the run goes on.
    Pending,
    Failed,
}

pub trait Reporter {
    fn begin(&mut self, index: usize, total: usize, title: &str);
    fn detail(&mut self, line: &str);
    fn end(&mut self, status: Status, line: &str);
    /// Shows `message` with a spinner until the returned handle is dropped.
    fn wait(&mut self, message: &str) -> Box<dyn Wait>;
    /// Shows a progress bar of `total` stages until the returned handle is dropped.
    fn progress(&mut self, message: &str, total: u64) -> Box<dyn Wait>;
    /// A line for `-v` only (remote commands, round trips, raw output).
    fn trace(&mut self, line: &str);
}

/// A running wait indicator.
pub trait Wait {
    fn update(&mut self, message: &str);
    /// Moves a progress bar to stage `done`, naming it.
    fn stage(&mut self, _done: u64, message: &str) {
        self.update(message);
    }
}

/// Lines on standard output; a spinner on standard error when it is a terminal. A step that
/// has nothing to say but its result is one line (`[3/12] ✓ Host key: …`); a heading line of
/// its own comes only before detail lines.
pub struct TextReporter<'a> {
    out: &'a mut dyn Write,
    style: Style,
    spinner: bool,
    quiet: bool,
    verbose: bool,
    /// The running step's `[i/n]` and title, and whether its heading line is out.
    step: Option<(String, String, bool)>,
}

impl<'a> TextReporter<'a> {
    pub fn new(out: &'a mut dyn Write, style: Style, spinner: bool, quiet: bool) -> TextReporter<'a> {
        TextReporter { out, style, spinner, quiet, verbose: false, step: None }
    }

    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }
}

impl Reporter for TextReporter<'_> {
    fn begin(&mut self, index: usize, total: usize, title: &str) {
        self.step = Some((format!("[{index}/{total}]"), title.to_string(), false));
    }

    fn detail(&mut self, line: &str) {
        if !self.quiet {
            self.heading();
            for l in line.lines() {
                let _ = writeln!(self.out, "      {l}");
            }
            let _ = self.out.flush();
        }
    }

    fn end(&mut self, status: Status, line: &str) {
        if self.quiet && status != Status::Failed && status != Status::Pending {
            return;
        }
        let mark = match status {
            Status::Done => self.style.ok("✓"),
            Status::Unchanged => "· unchanged:".to_string(),
            Status::Pending => self.style.warn("! to do:"),
            Status::Failed => self.style.error("✗"),
        };
        match self.step.take() {
            Some((at, title, false)) => {
                let at = self.style.heading(&at);
                let _ = writeln!(self.out, "{at} {title}: {mark} {line}");
            }
            _ => {
                let _ = writeln!(self.out, "      {mark} {line}");
            }
        }
        let _ = self.out.flush();
    }

    fn progress(&mut self, message: &str, total: u64) -> Box<dyn Wait> {
        if self.spinner {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            let style =
                indicatif::ProgressStyle::with_template("      {spinner} [{bar:24}] {pos}/{len} {wide_msg}")
                    .expect("static template")
                    .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(message.to_string());
            Box::new(Spinner(bar))
        } else {
            // In a log, the stages of a long step show with -v only.
            if self.verbose {
                self.line(message);
            }
            Box::new(Lines { last: 0, total: total.max(1), quiet: self.quiet || !self.verbose })
        }
    }

    fn trace(&mut self, line: &str) {
        if self.verbose && !self.quiet {
            self.heading();
            let _ = writeln!(self.out, "      ↔ {line}");
            let _ = self.out.flush();
        }
    }

    fn wait(&mut self, message: &str) -> Box<dyn Wait> {
        if self.spinner {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(message.to_string());
            Box::new(Spinner(bar))
        } else {
            // In a log, what the run waits for shows with -v (its result line follows).
            if self.verbose {
                self.line(message);
            }
            Box::new(Silent)
        }
    }
}

impl TextReporter<'_> {
    fn line(&mut self, text: &str) {
        if !self.quiet {
            self.heading();
            let _ = writeln!(self.out, "      … {text}");
            let _ = self.out.flush();
        }
    }

    /// The running step's heading line, once, before its first detail.
    fn heading(&mut self) {
        if let Some((at, title, shown)) = self.step.as_mut() {
            if !*shown {
                *shown = true;
                let _ = writeln!(self.out, "{} {title}", self.style.heading(at));
            }
        }
    }
}

struct Spinner(indicatif::ProgressBar);

impl Wait for Spinner {
    fn update(&mut self, message: &str) {
        self.0.set_message(message.to_string());
    }

    fn stage(&mut self, done: u64, message: &str) {
        self.0.set_position(done);
        self.0.set_message(message.to_string());
    }
}

/// Progress without a terminal: a line per stage (at most one per tenth of the way), on
/// standard error (standard output is borrowed by the reporter), so logs of scripted runs still
/// show where time went.
struct Lines {
    last: u64,
    total: u64,
    quiet: bool,
}

impl Wait for Lines {
    fn update(&mut self, _message: &str) {}

    fn stage(&mut self, done: u64, message: &str) {
        let tenth = |n: u64| n * 10 / self.total;
        if tenth(done) != tenth(self.last) && !self.quiet {
            self.last = done;
            let _ = writeln!(std::io::stderr(), "      … {message}");
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

struct Silent;

impl Wait for Silent {
    fn update(&mut self, _message: &str) {}
}
