//! A script hpcinit runs on the cluster in one round trip, in a login shell.
//!
//! `module` (Lmod or Tcl environment modules) is usually defined only by the login profile, so
//! the remote command is `exec bash -l -s` whatever the person's login shell (csh, zsh and fish
//! all pass those words on unchanged), and the script itself travels on standard input: no
//! quoting through a shell hpcinit does not know. The body is wrapped in one function that
//! bash must read whole before running it, and that runs with its standard input closed, so
//! no command in it (sbatch, pip) can swallow the rest of the script.
//!
//! Login profiles print banners; results therefore come back on tagged lines
//! ([`super::reply`]), and everything else is ordinary output.

/// The shell functions every script may use (JSON strings, path states, tags).
const PRELUDE: &str = include_str!("prelude.sh");

/// The remote command that reads and runs a [`Script`].
pub const LOGIN_SHELL: &str = "exec bash -l -s";

/// The remote command for a [`Script`] that needs no modules (code snapshots): bash without
/// the login profile, which on some clusters takes longer than the work itself.
pub const PLAIN_SHELL: &str = "exec bash -s";

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
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

    /// The same script with one more positional parameter after the plan's: what only the run
    /// knows (a manifest's hash, a token).
    pub fn arg(mut self, a: impl Into<String>) -> Script {
        self.args.push(a.into());
        self
    }

    /// The same script with these positional parameters after the plan's.
    pub fn and_args(mut self, args: impl IntoIterator<Item = String>) -> Script {
        self.args.extend(args);
        self
    }

    /// The same script under another purpose (a gateway's copy, named so in messages).
    pub fn with_purpose(mut self, purpose: impl Into<String>) -> Script {
        self.purpose = purpose.into();
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

#[cfg(test)]
mod tests {
    use super::*;

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
