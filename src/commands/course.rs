//! `hpcinit course check [FILE] [--handout FILE.md]`: a teaching assistant's check of a course
//! file before a class uses it, against the built-in profiles and signing in nowhere, one row
//! per check (✓, or ✗ with the place in the file and the fix), and the one-page handout for the
//! students. Reads the course file and its requirements file; writes only the handout, whole
//! (atomically).

use super::Session;
use crate::course_file::{CheckRow, CourseFile, FILE_NAME};
use crate::error::Error;
use crate::exit::Exit;
use crate::profile::raw::RegistrationMode;
use crate::profile::ProfileSet;
use std::path::Path;

pub struct CheckArgs<'a> {
    pub file: Option<&'a Path>,
    pub handout: Option<&'a Path>,
    pub json: bool,
    /// Sign in to the site these answers name and check there too.
    pub probe: Option<crate::cli::SetupArgs>,
}

pub fn check(s: &mut Session, args: &CheckArgs) -> Result<Exit, Error> {
    let (file, handout, json) = (args.file, args.handout, args.json);
    let env = s.env;
    let path = match file {
        Some(f) if f.is_relative() => env.cwd.join(f),
        Some(f) => f.to_path_buf(),
        None => env.cwd.join(FILE_NAME),
    };
    let course = CourseFile::read(&path)?;
    let mut rows = course.check(s.set);
    if let Err(e) = course.current(&crate::course_file::today_utc()) {
        rows.insert(
            0,
            CheckRow { site: None, ok: false, what: e.to_string(), fix: crate::exit::Diagnostic::hint(&e) },
        );
    }
    if let Some(setup) = &args.probe {
        rows.extend(probe(s, &course, setup)?);
    }
    let failed = rows.iter().filter(|r| !r.ok).count();
    let p = &mut *s.printer;
    if json {
        p.json(
            &serde_json::json!({ "course": course.course, "file": path, "rows": rows, "ok": failed == 0 }),
        )
        .map_err(Error::Output)?;
    } else {
        let style = p.style();
        let mut text =
            format!("{} ({}), checked against hpcinit's profiles:\n", course.course, env.tilde(&path));
        for r in &rows {
            let mark = if r.ok { style.ok("✓") } else { style.error("✗") };
            let site = r.site.as_deref().map(|s| format!("{s}: ")).unwrap_or_default();
            text.push_str(&format!("  {mark} {site}{}\n", r.what));
            if let Some(fix) = &r.fix {
                text.push_str(&format!("      fix: {fix}\n"));
            }
        }
        text.push_str(&if failed == 0 {
            format!("All {} checks pass. What needs a sign-in (the account exists, the reservation, the module loads, each requirement resolves) is not checked here.\n", rows.len())
        } else {
            format!("{failed} of {} checks fail.\n", rows.len())
        });
        p.out().write_all(text.as_bytes()).map_err(Error::Output)?;
    }
    if let Some(out) = handout {
        let out = if out.is_relative() { env.cwd.join(out) } else { out.to_path_buf() };
        let text = render_handout(&course, s.set);
        crate::local::atomic::write(&out, text.as_bytes(), 0o644).map_err(|e| Error::Usage {
            message: format!("cannot write the handout {}: {e}", out.display()),
            hint: "give --handout a path in a directory you may write to".into(),
        })?;
        if !json {
            p.line(&format!("Wrote the handout: {}", env.tilde(&out))).map_err(Error::Output)?;
        }
    }
    Ok(if failed == 0 { Exit::Ok } else { Exit::Failed })
}

/// `--probe`: one sign-in to the site (as the teaching assistant), one script, a row per check.
fn probe(
    s: &mut Session,
    course: &CourseFile,
    setup: &crate::cli::SetupArgs,
) -> Result<Vec<CheckRow>, Error> {
    let (set, cli, env) = (s.set, s.cli, s.env);
    let args = crate::cli::SetupArgs { course: Some(course.path.clone()), ..setup.clone() };
    let inputs = super::inputs::Inputs::resolve(set, cli, env, &args, super::inputs::Listing::InTheStep)?;
    let site = inputs.profile.name().to_string();
    let entry = course.site(&site).ok_or_else(|| Error::Usage {
        message: format!("{} is not one of the course's sites", inputs.profile.raw.display_name),
        hint: format!(
            "probe one of: {}",
            course.sites.iter().map(|s| s.site.as_str()).collect::<Vec<_>>().join(", ")
        ),
    })?;
    let requirements = match course.python()? {
        Some(p) => p.lines,
        None => inputs.local.python.lines.clone(),
    };
    let needs = crate::plan::course_probe::CourseNeeds {
        python: course.python.as_ref().map(|p| p.to_string()),
        account: entry.account.as_ref().map(|a| a.0.as_str()),
        reservation: entry.reservation.as_deref(),
        requirements: &requirements,
    };
    let script = crate::plan::course_probe::script(inputs.profile, &needs);
    let prompter: &mut dyn crate::prompt::Prompter = &mut *s.prompter;
    let out = super::with_context(&inputs, cli, env, s.printer, prompter, |cx| {
        crate::exec::run(cx, &[crate::plan::StepId::Connect])?;
        let out = cx.remote().script(&script, &mut |_| {}).map_err(|e| {
            let hint = cx.connect_hint(&e);
            Error::Step {
                title: "Course check".into(),
                error: Box::new(crate::exec::StepError::Remote { error: e, hint }),
            }
        })?;
        Ok(out)
    })?;
    let rows: Vec<crate::plan::course_probe::ProbeRow> = crate::exchange::tags(&out.stdout);
    if rows.is_empty() {
        return Err(Error::Usage {
            message: format!("the check on {site} printed nothing hpcinit reads"),
            hint: "run it again with -v to see the cluster's output".into(),
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| CheckRow {
            site: Some(format!("{site} (signed in)")),
            ok: r.verdict != "fail",
            what: if r.verdict == "skip" { format!("{} (not checked)", r.what) } else { r.what },
            fix: (r.verdict == "fail").then_some(r.fix),
        })
        .collect())
}

/// The students' page: the command, what they will be asked, and each site's manual steps.
pub fn render_handout(course: &CourseFile, set: &ProfileSet) -> String {
    let mut t = format!("# {}: your cluster account, set up with hpcinit\n\n", course.course);
    t.push_str(&format!("Questions: {}.", course.contact));
    if let Some(until) = &course.valid_until {
        t.push_str(&format!(" This setup is meant for the course until {until}."));
    }
    t.push_str(
        "\n\n## 1. Install hpcinit\n\nSee <docs/install.md> (Linux, macOS, WSL; Windows: `hpcinit.exe`).\n\n",
    );
    t.push_str("## 2. In the course's repository, run\n\n```sh\nhpcinit\n```\n\n");
    let names: Vec<String> = course
        .sites
        .iter()
        .map(|s| {
            set.get(&s.site)
                .map(|p| format!("{} (`{}`)", p.raw.display_name, s.site))
                .unwrap_or(s.site.clone())
        })
        .collect();
    t.push_str("It reads `hpcinit-course.yaml` and asks only what the course cannot know:\n\n");
    if course.sites.len() > 1 {
        t.push_str(&format!("- which cluster: {};\n", names.join(", ")));
    }
    t.push_str("- your username on the cluster;\n- a passphrase for your new SSH key (it protects the key on your laptop);\n");
    t.push_str("- then your password and second factor at the cluster's own prompt, once.\n\n");
    t.push_str("The course's account, Python, requirements and job settings come from the file.\n\n");
    t.push_str("## 3. Before the first run, on each cluster you use\n\n");
    for s in &course.sites {
        let Ok(p) = set.get(&s.site) else { continue };
        let r = &p.raw;
        t.push_str(&format!("### {}\n\n", r.display_name));
        t.push_str(&format!(
            "- Sign-in: {}\n",
            r.auth.description.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
        match r.key_registration.mode.value {
            RegistrationMode::Portal => t.push_str(&format!(
                "- Your SSH key is registered on a web page: hpcinit shows the key and the address ({}); paste it there.\n",
                r.key_registration.portal_url.as_ref().map_or("the site's portal", |u| u.as_str())
            )),
            RegistrationMode::NotForLogin => {
                t.push_str("- Keys are not used to sign in here: every run asks for the password and the code, once.\n")
            }
            _ => t.push_str("- hpcinit installs your key on the cluster during the first sign-in.\n"),
        }
        if let Some(pre) = &r.key_registration.prerequisite {
            t.push_str(&format!("- First: {}.\n", pre.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
        t.push_str(&format!("- The site's own guide: <{}>\n\n", r.docs));
    }
    t.push_str("## 4. Then\n\n");
    t.push_str("- `hpcinit check-job` submits a test job and finds its line in the log.\n");
    t.push_str(
        "- `hpcinit sync` sends your changed code; `hpcinit jupyter` opens Jupyter Lab on a compute node.\n",
    );
    t.push_str("- `hpcinit doctor` checks everything if something stops working.\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handout_names_the_command_the_questions_and_each_sites_manual_steps() {
        let text = "course-version: 1\ncourse: INF-1234\ncontact: ta@example.edu\nsites:\n  saga:\n    account: nn1234k\n  narval:\n    account: def-someprof\n";
        let c = CourseFile::parse(Path::new("hpcinit-course.yaml"), text).unwrap();
        let h = render_handout(&c, &ProfileSet::builtin().unwrap());
        assert!(h.starts_with("# INF-1234: your cluster account, set up with hpcinit\n"), "{h}");
        assert!(h.contains("```sh\nhpcinit\n```"), "{h}");
        assert!(h.contains("- which cluster: Narval (`narval`), Saga (`saga`);"), "{h}");
        assert!(h.contains("https://ccdb.alliancecan.ca/ssh_authorized_keys"), "the CCDB step: {h}");
        assert!(h.contains("Keys are not used to sign in here"), "Saga's password and code: {h}");
    }
}
