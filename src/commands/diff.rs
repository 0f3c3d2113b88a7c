//! `hpcinit diff --site A --site B`: the project's environment on two sites side by side, read
//! live over each site's shared connection (one read-only round trip each): Python, the modules
//! by logical and exact name, and every package whose version differs. With one `--site`, the
//! project's `hpcinit.lock` is the other side. Changes nothing; `--json` for scripts,
//! `--exit-code` to exit 1 when they differ.

use super::inputs::Listing;
use super::Session;
use crate::cli::SetupArgs;
use crate::error::Error;
use crate::exit::Exit;
use crate::local::lock::{self, requested_modules};
use crate::plan::compare::{compare, Comparison, Side};
use crate::prompt::Prompter;
use crate::ui::{Style, Table};
use std::path::PathBuf;

pub struct DiffArgs<'a> {
    pub sites: &'a [String],
    pub project_dir: Option<PathBuf>,
    pub json: bool,
    pub exit_code: bool,
}

pub fn run(s: &mut Session, args: &DiffArgs) -> Result<Exit, Error> {
    let env = s.env;
    if args.sites.len() > 2 {
        return Err(Error::Usage {
            message: format!("hpcinit diff compares two environments; {} sites were given", args.sites.len()),
            hint: "give --site twice (two sites), or once (hpcinit.lock and that site)".into(),
        });
    }
    let dir = super::inputs::project_dir(args.project_dir.as_deref(), env)?;
    let (left, right) = if let [a, b] = args.sites {
        (side(s, a, &dir)?, side(s, b, &dir)?)
    } else {
        let lock = lock::read(&dir)?.ok_or(lock::LockError::Missing { dir: dir.clone() })?;
        let left = Side {
            label: format!("hpcinit.lock ({})", lock.origin.site),
            python: lock.python.version.clone(),
            modules: lock.modules.clone(),
            freeze: lock.packages.clone(),
        };
        (left, side(s, &args.sites[0], &dir)?)
    };
    let c = compare(left, right);
    let p = &mut *s.printer;
    if args.json {
        p.json(&c).map_err(Error::Output)?;
    } else {
        let text = render(&c, &p.style());
        p.out().write_all(text.as_bytes()).map_err(Error::Output)?;
    }
    Ok(if args.exit_code && !c.same { Exit::Failed } else { Exit::Ok })
}

/// The project's environment on `site`, read over the shared connection.
fn side(s: &mut Session, site: &str, dir: &std::path::Path) -> Result<Side, Error> {
    let (set, cli, env) = (s.set, s.cli, s.env);
    let prompter: &mut dyn Prompter = &mut *s.prompter;
    let args = SetupArgs {
        site: Some(site.to_string()),
        project_dir: Some(dir.to_path_buf()),
        no_lock: true,
        ..SetupArgs::default()
    };
    let inputs = super::inputs::Inputs::resolve(set, cli, env, &args, Listing::InTheStep)?;
    let profile = inputs.profile;
    let rec = super::lock::environment_on(&inputs, cli, env, s.printer, prompter)?;
    let prerequisites: Vec<String> =
        profile.raw.python.modules.prerequisites.iter().map(|m| m.to_string()).collect();
    Ok(Side {
        label: profile.name().to_string(),
        python: rec.python.clone(),
        modules: requested_modules(&rec.modules, &crate::plan::python::module_base(profile), &prerequisites),
        freeze: rec.freeze,
    })
}

fn render(c: &Comparison, style: &Style) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut t = Table::new(["", c.left.label.as_str(), c.right.label.as_str(), ""]);
    t.row([
        "Python".to_string(),
        c.left.python.clone(),
        c.right.python.clone(),
        if c.python_same { String::new() } else { style.error("differs") },
    ]);
    for m in &c.modules {
        let what = if m.name == "python" { "module".to_string() } else { format!("toolchain {}", m.name) };
        t.row([what, dash(&m.left), dash(&m.right), String::new()]);
    }
    let mut same = 0;
    for p in &c.packages {
        if p.same {
            same += 1;
            continue;
        }
        let note = match (&p.left, &p.right) {
            (Some(_), Some(_)) => "differs",
            _ => "only one side",
        };
        t.row([p.name.clone(), dash(&p.left), dash(&p.right), style.error(note)]);
    }
    let mut s = t.render();
    let diffs = c.differences();
    s.push('\n');
    if diffs.is_empty() {
        s.push_str(&style.ok(&format!(
            "The same environment: Python {} and the same {same} package versions.",
            c.left.python.split('.').take(2).collect::<Vec<_>>().join(".")
        )));
    } else {
        s.push_str(&format!(
            "{} {}; {same} package version{} the same.",
            style.warn(&format!("{} difference{}:", diffs.len(), if diffs.len() == 1 { "" } else { "s" })),
            diffs.join("; "),
            if same == 1 { " is" } else { "s are" }
        ));
    }
    s.push('\n');
    s
}
