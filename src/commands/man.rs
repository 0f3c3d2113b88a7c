//! `hpcinit man`: the manual page, in roff, from the same definitions as `--help` (so it never
//! drifts from the binary): the command's own page as clap_mangen renders it, then one section
//! per subcommand (and per subcommand of those) with its description and options. The release
//! script writes it to `hpcinit.1`; `man ./hpcinit.1` reads it.

use clap::Command;
use std::io::{self, Write};

/// The whole page for `cmd` (hpcinit's [`crate::cli::Cli`]).
pub fn render(cmd: &Command, out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    for sub in visible(cmd) {
        section(out, &format!("{} {}", cmd.get_name(), sub.get_name()), sub)?;
    }
    man.render_version_section(out)?;
    Ok(())
}

fn visible(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

/// `.SH "HPCINIT SYNC"`: the subcommand's description, usage and options, then its own
/// subcommands the same way.
fn section(out: &mut dyn Write, path: &str, cmd: &Command) -> io::Result<()> {
    writeln!(out, ".SH \"{}\"", escape(&path.to_uppercase()))?;
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        for para in about.to_string().split("\n\n") {
            writeln!(out, ".PP\n{}", escape(para.trim()))?;
        }
    }
    let mut usage = cmd.clone().bin_name(path);
    writeln!(
        out,
        ".PP\n\\fBUsage:\\fR {}",
        escape(&usage.render_usage().to_string().replace("Usage: ", ""))
    )?;
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let mut head = Vec::new();
        if let Some(s) = arg.get_short() {
            head.push(format!("\\fB\\-{s}\\fR"));
        }
        if let Some(l) = arg.get_long() {
            head.push(format!("\\fB\\-\\-{}\\fR", escape(l)));
        }
        let value =
            arg.get_value_names().map(|v| v.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" "));
        let takes_value = arg.get_action().takes_values();
        let mut line = if head.is_empty() {
            format!("\\fI{}\\fR", escape(&value.unwrap_or_else(|| arg.get_id().to_string().to_uppercase())))
        } else {
            let mut l = head.join(", ");
            if takes_value {
                l.push_str(&format!(
                    " \\fI{}\\fR",
                    escape(&value.unwrap_or_else(|| arg.get_id().to_string().to_uppercase()))
                ));
            }
            l
        };
        if arg.is_global_set() {
            line.push_str(" (any command)");
        }
        writeln!(out, ".TP\n{line}")?;
        if let Some(help) = arg.get_long_help().or(arg.get_help()) {
            writeln!(out, "{}", escape(&help.to_string()))?;
        }
    }
    for sub in visible(cmd) {
        section(out, &format!("{path} {}", sub.get_name()), sub)?;
    }
    Ok(())
}

/// Text safe in roff: backslashes escaped, and no line starting with a control character.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e")
        .lines()
        .map(|l| if l.starts_with('.') || l.starts_with('\'') { format!("\\&{l}") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_subcommand_has_its_section() {
        use clap::CommandFactory;
        let cmd = crate::cli::Cli::command();
        let mut page = Vec::new();
        render(&cmd, &mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{}", &page[..80]);
        for sub in visible(&cmd) {
            let head = format!(".SH \"HPCINIT {}\"", sub.get_name().to_uppercase());
            assert!(page.contains(&head), "{head} missing");
        }
        assert!(page.contains(".SH \"HPCINIT PROFILES LIST\""));
        assert!(page.contains("\\-\\-verify"), "sync's options are listed");
        assert!(!page.contains("HPCINIT REACH"), "hidden commands stay hidden");
        assert!(!page.lines().any(|l| l.starts_with('.') && l.len() > 1 && l.as_bytes()[1] == b' '));
    }
}
