//! Questions hpcinit itself asks: confirmations, passwords and one-time codes for the in-process
//! (libssh2) transport, a new key's passphrase. In a terminal they are dialoguer prompts (secrets
//! never echoed); where the person set `SSH_ASKPASS`, secrets go through that program exactly as
//! OpenSSH would send them; with neither, a question is an error that names the flag to pass.
//! Answers are never logged.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

pub use crate::prompt::{PromptError, Prompter};

/// The prompter for this process: the terminal, `SSH_ASKPASS`, or neither.
pub struct SystemPrompter {
    terminal: bool,
    askpass: Option<PathBuf>,
    /// `SSH_ASKPASS_REQUIRE=force`: secrets go to askpass even with a terminal, as in OpenSSH.
    force_askpass: bool,
    vars: Vec<(String, String)>,
}

impl SystemPrompter {
    pub fn new(env: &crate::env::Env) -> SystemPrompter {
        let require = env.var("SSH_ASKPASS_REQUIRE").unwrap_or("");
        let askpass = env.var("SSH_ASKPASS").filter(|_| require != "never").map(PathBuf::from);
        SystemPrompter {
            terminal: env.stdin_tty && console::Term::stderr().is_term(),
            force_askpass: require == "force",
            askpass,
            vars: env.vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }

    fn use_askpass(&self) -> Option<&PathBuf> {
        self.askpass.as_ref().filter(|_| self.force_askpass || !self.terminal)
    }

    fn askpass(&self, program: &PathBuf, prompt: &str) -> Result<Zeroizing<String>, PromptError> {
        let out = Command::new(program)
            .arg(prompt)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| PromptError::Askpass { program: program.clone(), detail: e.to_string() })?;
        if !out.status.success() {
            return Err(PromptError::Askpass {
                program: program.clone(),
                detail: format!("it exited with {}", out.status),
            });
        }
        let mut text = Zeroizing::new(String::from_utf8_lossy(&out.stdout).into_owned());
        while text.ends_with('\n') || text.ends_with('\r') {
            text.pop();
        }
        Ok(text)
    }
}

fn interrupted(e: dialoguer::Error) -> PromptError {
    match e {
        dialoguer::Error::IO(e) if e.kind() == std::io::ErrorKind::Interrupted => PromptError::Interrupted,
        dialoguer::Error::IO(_) => PromptError::Interrupted,
    }
}

impl Prompter for SystemPrompter {
    fn confirm(&mut self, question: &str, default: bool, flag: &str) -> Result<bool, PromptError> {
        if !self.terminal {
            return Err(PromptError::NoTerminal { what: question.into(), flag: flag.into() });
        }
        dialoguer::Confirm::new().with_prompt(question).default(default).interact().map_err(interrupted)
    }

    fn secret(&mut self, prompt: &str) -> Result<Zeroizing<String>, PromptError> {
        if let Some(program) = self.use_askpass().cloned() {
            return self.askpass(&program, prompt);
        }
        if !self.terminal {
            return Err(PromptError::NoTerminal {
                what: prompt.trim_end_matches([':', ' ']).into(),
                flag: "--transport ssh (OpenSSH asks through SSH_ASKPASS)".into(),
            });
        }
        let prompt = prompt.trim_end_matches([':', ' ']);
        dialoguer::Password::new()
            .with_prompt(prompt)
            .allow_empty_password(true)
            .interact()
            .map(Zeroizing::new)
            .map_err(interrupted)
    }

    fn answer(&mut self, prompt: &str) -> Result<Zeroizing<String>, PromptError> {
        if let Some(program) = self.use_askpass().cloned() {
            return self.askpass(&program, prompt);
        }
        let (before, last) = match prompt.trim_end().rsplit_once('\n') {
            Some((b, l)) => (b, l),
            None => ("", prompt.trim_end()),
        };
        let last = last.trim_end_matches([':', ' ']);
        if !self.terminal {
            return Err(PromptError::NoTerminal {
                what: last.into(),
                flag: "--transport ssh (OpenSSH asks through SSH_ASKPASS)".into(),
            });
        }
        if !before.trim().is_empty() {
            self.show(before.trim_end());
        }
        dialoguer::Input::<String>::new()
            .with_prompt(last)
            .allow_empty(true)
            .interact_text()
            .map(|a| Zeroizing::new(a.trim().to_string()))
            .map_err(interrupted)
    }

    fn new_secret(
        &mut self,
        prompt: &str,
        optional: bool,
        flag: &str,
    ) -> Result<Zeroizing<String>, PromptError> {
        if let Some(program) = self.use_askpass().cloned() {
            let first = self.askpass(&program, &format!("{prompt}: "))?;
            let second = self.askpass(&program, "Same passphrase again: ")?;
            return if *first == *second { Ok(first) } else { Err(PromptError::Mismatch) };
        }
        if !self.terminal {
            return Err(PromptError::NoTerminal { what: prompt.into(), flag: flag.into() });
        }
        dialoguer::Password::new()
            .with_prompt(prompt)
            .with_confirmation("Same passphrase again", "The two passphrases differ; try again")
            .allow_empty_password(optional)
            .interact()
            .map(Zeroizing::new)
            .map_err(interrupted)
    }

    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        default: usize,
        filter: bool,
        flag: &str,
    ) -> Result<usize, PromptError> {
        if !self.terminal {
            return Err(PromptError::NoTerminal { what: prompt.into(), flag: flag.into() });
        }
        if filter {
            dialoguer::FuzzySelect::new()
                .with_prompt(prompt)
                .items(items)
                .default(default)
                .max_length(12)
                .interact()
                .map_err(interrupted)
        } else {
            dialoguer::Select::new()
                .with_prompt(prompt)
                .items(items)
                .default(default)
                .interact()
                .map_err(interrupted)
        }
    }

    fn input(
        &mut self,
        prompt: &str,
        default: &str,
        check: &dyn Fn(&str) -> Result<(), String>,
        flag: &str,
    ) -> Result<String, PromptError> {
        if !self.terminal {
            return Err(PromptError::NoTerminal { what: prompt.into(), flag: flag.into() });
        }
        let mut q = dialoguer::Input::<String>::new()
            .with_prompt(prompt)
            .allow_empty(default.is_empty() && check("").is_ok())
            .validate_with(|v: &String| check(v.trim()));
        if !default.is_empty() {
            q = q.default(default.to_string());
        }
        q.interact_text().map(|v| v.trim().to_string()).map_err(interrupted)
    }

    fn interactive(&self) -> bool {
        self.terminal
    }
    /// On the terminal the questions are asked on (standard error), as ssh shows them.
    fn show(&mut self, text: &str) {
        let _ = console::Term::stderr().write_line(text);
    }
}

/// Answers from a list, in order: for tests of pure logic and for scripted runs.
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    pub confirms: std::collections::VecDeque<bool>,
    pub secrets: std::collections::VecDeque<String>,
    /// Choices (indexes) for `select`.
    pub choices: std::collections::VecDeque<usize>,
    /// Lines for `input` ("" takes the default).
    pub lines: std::collections::VecDeque<String>,
    /// Every question asked, in order (secret answers are never recorded).
    pub asked: Vec<String>,
}

impl Prompter for ScriptedPrompter {
    fn confirm(&mut self, question: &str, _default: bool, flag: &str) -> Result<bool, PromptError> {
        self.asked.push(question.into());
        self.confirms.pop_front().ok_or(PromptError::NoTerminal { what: question.into(), flag: flag.into() })
    }
    fn secret(&mut self, prompt: &str) -> Result<Zeroizing<String>, PromptError> {
        self.asked.push(prompt.into());
        self.secrets.pop_front().map(Zeroizing::new).ok_or(PromptError::Interrupted)
    }
    /// Answers from the same list as secrets (what a person types at a server's prompt).
    fn answer(&mut self, prompt: &str) -> Result<Zeroizing<String>, PromptError> {
        self.secret(prompt)
    }
    fn new_secret(
        &mut self,
        prompt: &str,
        _optional: bool,
        _flag: &str,
    ) -> Result<Zeroizing<String>, PromptError> {
        self.secret(prompt)
    }
    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        _default: usize,
        _filter: bool,
        flag: &str,
    ) -> Result<usize, PromptError> {
        self.asked.push(prompt.into());
        let i = self
            .choices
            .pop_front()
            .ok_or(PromptError::NoTerminal { what: prompt.into(), flag: flag.into() })?;
        Ok(i.min(items.len().saturating_sub(1)))
    }
    fn input(
        &mut self,
        prompt: &str,
        default: &str,
        check: &dyn Fn(&str) -> Result<(), String>,
        flag: &str,
    ) -> Result<String, PromptError> {
        self.asked.push(prompt.into());
        loop {
            let line = self
                .lines
                .pop_front()
                .ok_or(PromptError::NoTerminal { what: prompt.into(), flag: flag.into() })?;
            let value = if line.is_empty() { default.to_string() } else { line };
            if check(&value).is_ok() {
                return Ok(value);
            }
        }
    }
    fn interactive(&self) -> bool {
        true
    }
    fn show(&mut self, text: &str) {
        self.asked.push(text.into());
    }
}
