//! The questions hpcinit may ask, as a trait: what the transports, the executor and the
//! commands ask through, without knowing how (a terminal, `SSH_ASKPASS`, a scripted list; see
//! `ui::prompter`). It sits at the bottom, so that `remote` and `exec` need nothing of `ui`.

use std::path::PathBuf;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("hpcinit needs an answer ({what}) but there is no terminal to ask in")]
    NoTerminal { what: String, flag: String },
    #[error("interrupted")]
    Interrupted,
    #[error("the askpass program {} failed", program.display())]
    Askpass { program: PathBuf, detail: String },
    #[error("the two passphrases differ")]
    Mismatch,
}

impl crate::exit::Diagnostic for PromptError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            PromptError::NoTerminal { flag, .. } => format!("run it in a terminal, or pass {flag}"),
            PromptError::Interrupted => "run the same command again to continue where it stopped".into(),
            PromptError::Askpass { detail, .. } => format!("check SSH_ASKPASS ({detail})"),
            PromptError::Mismatch => "run it again and type the same passphrase twice".into(),
        })
    }
}

/// How hpcinit asks the person something.
pub trait Prompter {
    /// A yes/no question; `flag` is what answers it without a terminal.
    fn confirm(&mut self, question: &str, default: bool, flag: &str) -> Result<bool, PromptError>;
    /// A secret typed once and not echoed (a password, a one-time code, a passphrase).
    fn secret(&mut self, prompt: &str) -> Result<Zeroizing<String>, PromptError>;
    /// A server's question whose answer is shown as it is typed (keyboard-interactive with echo
    /// on: Duo's "Passcode or option (1-3):"), with the lines before it (Duo's menu).
    fn answer(&mut self, prompt: &str) -> Result<Zeroizing<String>, PromptError>;
    /// A new secret, typed twice; empty allowed when `optional`.
    fn new_secret(
        &mut self,
        prompt: &str,
        optional: bool,
        flag: &str,
    ) -> Result<Zeroizing<String>, PromptError>;
    /// One of `items` (the list filters as the person types when `filter`); `flag` is what
    /// answers it without a terminal.
    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        default: usize,
        filter: bool,
        flag: &str,
    ) -> Result<usize, PromptError>;
    /// A line of text, offered `default`, asked again until `check` accepts it (its error is
    /// shown); empty is allowed only when `default` is empty and `check` accepts "".
    fn input(
        &mut self,
        prompt: &str,
        default: &str,
        check: &dyn Fn(&str) -> Result<(), String>,
        flag: &str,
    ) -> Result<String, PromptError>;
    /// Whether questions can be asked at all (a terminal on both ends).
    fn interactive(&self) -> bool;
    /// Text that goes with the next question (a server's keyboard-interactive instructions),
    /// shown where the question is asked.
    fn show(&mut self, text: &str);
}
