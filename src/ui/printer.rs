//! The one object that decides what a run prints and where: results (the plan, tables, JSON)
//! on standard output, waiting notices, warnings and errors on standard error, colour from
//! `NO_COLOR` and the terminal, and how much is said (`--quiet`, default, `--verbose`). A
//! command asks the printer; it never picks a stream, checks a flag or colours text itself.
//! In JSON mode standard output carries the JSON document and nothing else.

use super::reporter::TextReporter;
use super::style::Style;
use std::io::{self, Write};

/// How much a run says: `--quiet` keeps results, to-dos and failures; `--verbose` adds the
/// remote commands and their round trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

impl Verbosity {
    pub fn from_flags(quiet: bool, verbose: bool) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }
}

pub struct Printer<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    style: Style,
    verbosity: Verbosity,
    json: bool,
    spinner: bool,
}

impl<'a> Printer<'a> {
    /// `spinner`: whether standard error is a terminal that can draw one.
    pub fn new(
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
        style: Style,
        verbosity: Verbosity,
        spinner: bool,
    ) -> Printer<'a> {
        Printer { out, err, style, verbosity, json: false, spinner }
    }

    /// Switches to JSON mode (a command's `--json`): `note`s are dropped so that standard
    /// output holds only the document written by [`Printer::json`].
    pub fn set_json(&mut self, json: bool) {
        self.json = json;
    }

    pub fn style(&self) -> Style {
        self.style
    }

    pub fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet || self.json
    }

    pub fn verbose(&self) -> bool {
        self.verbosity == Verbosity::Verbose && !self.json
    }

    /// Standard output, for a command's result (a plan, a table, completions).
    pub fn out(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    /// Standard error, for what is not the result (an error report).
    pub fn err(&mut self) -> &mut dyn Write {
        &mut *self.err
    }

    /// A result line on standard output, whatever the verbosity (a summary's `to do:`).
    pub fn line(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "{text}")
    }

    /// Text on standard output that `--quiet` and JSON mode leave out.
    pub fn note(&mut self, text: &str) -> io::Result<()> {
        if self.quiet() {
            return Ok(());
        }
        writeln!(self.out, "{text}")
    }

    /// Text on standard output only with `--verbose`.
    pub fn detail(&mut self, text: &str) -> io::Result<()> {
        if !self.verbose() {
            return Ok(());
        }
        writeln!(self.out, "{text}")
    }

    /// `warning: …` on standard error, shown even with `--quiet`.
    pub fn warn(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.err, "{} {text}", self.style.warn("warning:"))
    }

    /// A notice on standard error (the run waits for something), shown unless `--quiet`.
    pub fn status(&mut self, text: &str) -> io::Result<()> {
        if self.verbosity == Verbosity::Quiet {
            return Ok(());
        }
        writeln!(self.err, "{text}")
    }

    /// A printer like this one whose standard output goes to `buffer` (progress a command shows
    /// only with `--verbose`, or only when something fails).
    pub fn capture<'b>(&'b mut self, buffer: &'b mut Vec<u8>) -> Printer<'b> {
        Printer {
            out: buffer,
            err: &mut *self.err,
            style: self.style,
            verbosity: self.verbosity,
            json: self.json,
            spinner: self.spinner,
        }
    }

    /// `value` as pretty JSON on standard output, with a final newline.
    pub fn json<T: serde::Serialize>(&mut self, value: &T) -> io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        writeln!(self.out, "{text}")
    }

    /// The step-by-step progress of a run, at this printer's verbosity, with a spinner on
    /// standard error when it is a terminal.
    pub fn reporter(&mut self) -> TextReporter<'_> {
        let (quiet, verbose) = (self.quiet(), self.verbose());
        TextReporter::new(&mut *self.out, self.style, self.spinner, quiet).verbose(verbose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(verbosity: Verbosity, json: bool) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        {
            let mut p = Printer::new(&mut out, &mut err, Style::new(false), verbosity, false);
            p.set_json(json);
            p.note("note").unwrap();
            p.detail("detail").unwrap();
            p.line("line").unwrap();
            p.warn("careful").unwrap();
            p.status("waiting").unwrap();
        }
        (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    #[test]
    fn each_verbosity_prints_its_own_lines_on_the_right_stream() {
        assert_eq!(
            printed(Verbosity::Normal, false),
            ("note\nline\n".into(), "warning: careful\nwaiting\n".into())
        );
        assert_eq!(printed(Verbosity::Quiet, false), ("line\n".into(), "warning: careful\n".into()));
        assert_eq!(
            printed(Verbosity::Verbose, false),
            ("note\ndetail\nline\n".into(), "warning: careful\nwaiting\n".into())
        );
    }

    #[test]
    fn json_mode_keeps_notes_off_standard_output() {
        assert_eq!(
            printed(Verbosity::Verbose, true),
            ("line\n".into(), "warning: careful\nwaiting\n".into())
        );
    }

    #[test]
    fn flags_map_to_one_verbosity() {
        assert_eq!(Verbosity::from_flags(true, false), Verbosity::Quiet);
        assert_eq!(Verbosity::from_flags(false, true), Verbosity::Verbose);
        assert_eq!(Verbosity::from_flags(false, false), Verbosity::Normal);
    }
}
