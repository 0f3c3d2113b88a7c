//! `hpcinit profiles list | show | validate`.

use crate::error::Error;
use crate::profile::{read_file, ProfileSet, ProfileSource};
use crate::ui::{Printer, Table};
use std::path::PathBuf;

pub fn list(set: &ProfileSet, json: bool, printer: &mut Printer) -> Result<(), Error> {
    printer.set_json(json);
    if json {
        let rows: Vec<_> = set
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name(),
                    "aliases": p.aliases().collect::<Vec<_>>(),
                    "site": p.raw.display_name,
                    "organisation": p.raw.organisation,
                    "scheduler": p.raw.scheduler.kind,
                    "auth": p.auth_summary(),
                    "key_registration": p.raw.key_registration.mode.value,
                    "kind": p.raw.kind,
                    "source": p.source,
                })
            })
            .collect();
        return printer.json(&rows).map_err(Error::Output);
    }
    let mut t = Table::new(["NAME", "SITE", "SCHEDULER", "SIGN-IN", "KEY", "ALIASES", "FROM"]);
    for p in set.iter() {
        let key = match p.raw.key_registration.mode.value {
            crate::profile::raw::RegistrationMode::AuthorizedKeys => "authorized_keys",
            crate::profile::raw::RegistrationMode::Portal => "web portal",
            crate::profile::raw::RegistrationMode::NotForLogin => "not for login",
        };
        let site =
            if p.is_test() { format!("{} (test)", p.raw.display_name) } else { p.raw.display_name.clone() };
        t.row([
            p.name().to_string(),
            site,
            p.raw.scheduler.kind.human().to_string(),
            p.auth_summary(),
            key.to_string(),
            p.aliases().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
            p.source.label().to_string(),
        ]);
    }
    write!(printer.out(), "{}", t.render()).map_err(Error::Output)
}

pub fn show(set: &ProfileSet, name: &str, printer: &mut Printer) -> Result<(), Error> {
    let p = set.get(name)?;
    let out = printer.out();
    writeln!(out, "# {} ({})", p.source, p.source.label()).map_err(Error::Output)?;
    write!(out, "{}", p.text).map_err(Error::Output)?;
    if !p.text.ends_with('\n') {
        writeln!(out).map_err(Error::Output)?;
    }
    Ok(())
}

/// Checks each file; prints `ok` lines and the first error of each bad file. Exit 2 if any fails.
pub fn validate(files: &[PathBuf], printer: &mut Printer) -> Result<bool, Error> {
    let mut all_ok = true;
    for f in files {
        match read_file(f, ProfileSource::Explicit(f.clone())) {
            Ok(p) => {
                let unverified = p.unverified_fields().count();
                let extra = if unverified > 0 {
                    format!(", {unverified} value(s) marked unverified")
                } else {
                    String::new()
                };
                printer
                    .line(&format!("ok: {} (profile `{}`{extra})", f.display(), p.name()))
                    .map_err(Error::Output)?;
            }
            Err(e) => {
                all_ok = false;
                let text = Error::from(e).render(&printer.style());
                write!(printer.err(), "{text}").map_err(Error::Output)?;
            }
        }
    }
    Ok(all_ok)
}
