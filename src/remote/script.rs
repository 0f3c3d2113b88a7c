//! A script hpcinit runs on the cluster in one round trip, in a login shell.
//!
//! `module` (Lmod or Tcl environment modules) is usually defined only by the login profile, so
//! the remote command is `exec bash -l -s` whatever the person's login shell (csh, zsh and fish
//! all pass those words on unchanged), and the script itself travels on standard input: no
//! quoting through a shell hpcinit does not know. The body is wrapped in one function that
//! bash must read whole before running it, and that runs with its standard input closed, so
//! no command in it (sbatch, pip) can swallow the rest of the script.
//!
//! Login profiles print banners; results therefore come back on tagged lines,
//! `@@hpcinit:<tag> <payload>`, and everything else is ordinary output.

/// The shell functions every script may use (JSON strings, path states, tags).
const PRELUDE: &str = include_str!("prelude.sh");

/// The remote command that reads and runs a [`Script`].
pub const LOGIN_SHELL: &str = "exec bash -l -s";

/// The remote command for a [`Script`] that needs no modules (code snapshots): bash without
/// the login profile, which on some clusters takes longer than the work itself.
pub const PLAIN_SHELL: &str = "exec bash -s";

/// The prefix of a tagged result line.
pub const TAG: &str = "@@hpcinit:";

#[derive(Debug, Clone)]
pub struct Script {
    /// What it does, in a few words (shown with `-v`, counted as one round trip).
    pub purpose: String,
    body: String,
    /// The body's positional parameters (`$1`, …): values the plan cannot know, such as a key
    /// made during the run, passed quoted, never spliced into the text.
    args: Vec<String>,
    /// Run in a login shell (the default) or plain bash.
    pub login: bool,
}

impl Script {
    pub fn new(purpose: impl Into<String>, body: impl Into<String>) -> Script {
        Script { purpose: purpose.into(), body: body.into(), args: Vec::new(), login: true }
    }

    /// The same script with these positional parameters.
    pub fn with_args(mut self, args: Vec<String>) -> Script {
        self.args = args;
        self
    }

    /// The same script for plain bash, without the login profile.
    pub fn plain(mut self) -> Script {
        self.login = false;
        self
    }

    /// The remote command that reads it.
    pub fn shell(&self) -> &'static str {
        if self.login {
            LOGIN_SHELL
        } else {
            PLAIN_SHELL
        }
    }

    /// What is sent on the command's standard input.
    pub fn input(&self) -> String {
        format!("{}{} </dev/null\n", self.definition(), self.call())
    }

    /// The one line that runs the body: `hpcinit_main` and its quoted arguments.
    pub fn call(&self) -> String {
        let mut line = "hpcinit_main".to_string();
        for a in &self.args {
            line.push(' ');
            line.push_str(&crate::quote::sh(a));
        }
        line
    }

    /// The helpers and the body as the function `hpcinit_main`, not yet called.
    pub fn definition(&self) -> String {
        format!("{PRELUDE}\nhpcinit_main() {{\n{}\n}}\n", self.body)
    }

    pub fn body(&self) -> &str {
        &self.body
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }
}

/// A script's answer as a typed value: each script has an enum of the tags it prints, and
/// [`tags`] reads them, so no script's output is parsed by hand.
pub trait Tagged: Sized {
    /// The value for one tagged line, or `None` for a tag this script does not print.
    fn from_tag(tag: &str, payload: &str) -> Option<Self>;
}

/// Every tagged line of `output` that `T` knows, in order.
pub fn tags<T: Tagged>(output: &str) -> Vec<T> {
    output.lines().filter_map(tagged).filter_map(|(t, p)| T::from_tag(t, p)).collect()
}

/// `("probe", "{…}")` for `@@hpcinit:probe {…}`.
pub fn tagged(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(TAG)?;
    Some(match rest.split_once(' ') {
        Some((tag, payload)) => (tag, payload),
        None => (rest, ""),
    })
}

/// The payload of the last line tagged `tag`.
pub fn last_tagged<'a>(output: &'a str, tag: &str) -> Option<&'a str> {
    output.lines().rev().filter_map(tagged).find(|(t, _)| *t == tag).map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_found_among_banners() {
        let out = "Welcome to the cluster!\n@@hpcinit:probe {\"a\":1}\nnoise\n@@hpcinit:done\n";
        assert_eq!(last_tagged(out, "probe"), Some("{\"a\":1}"));
        assert_eq!(last_tagged(out, "done"), Some(""));
        assert_eq!(last_tagged(out, "nope"), None);
    }

    #[test]
    fn the_body_runs_with_stdin_closed() {
        let s = Script::new("t", "echo hi");
        assert!(s.input().ends_with("hpcinit_main() {\necho hi\n}\nhpcinit_main </dev/null\n"));
    }

    #[test]
    fn arguments_are_quoted_on_the_call_line() {
        let s = Script::new("t", "echo \"$1\"").with_args(vec!["it's $(me)".into()]);
        assert!(s.input().ends_with("hpcinit_main 'it'\\''s $(me)' </dev/null\n"), "{}", s.input());
    }
}
