//! Colours, off with `NO_COLOR` or when output is not a terminal.

/// Whether standard error is a terminal (spinners are drawn there).
pub fn stderr_is_term() -> bool {
    console::Term::stderr().is_term()
}

/// Colours that are switched off with `NO_COLOR` or when output is not a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn new(color: bool) -> Style {
        Style { color }
    }

    fn paint(&self, s: &str, style: console::Style) -> String {
        style.force_styling(self.color).apply_to(s).to_string()
    }

    pub fn error(&self, s: &str) -> String {
        self.paint(s, console::Style::new().red().bold())
    }
    pub fn hint(&self, s: &str) -> String {
        self.paint(s, console::Style::new().cyan().bold())
    }
    pub fn heading(&self, s: &str) -> String {
        self.paint(s, console::Style::new().bold())
    }
    pub fn ok(&self, s: &str) -> String {
        self.paint(s, console::Style::new().green().bold())
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint(s, console::Style::new().yellow().bold())
    }
}
