//! The directories on the cluster: `~/sbatch`, `~/scratch` (a link to the site's scratch when
//! that is not under home), `~/scratch/logs` and `~/scratch/code-snapshots`. With the probe's
//! facts the plan knows the real scratch (the site's variable, such as `$USERWORK`, wins over
//! the profile's path), what `~/scratch` already is, and the absolute log directory job
//! scripts must name. An existing `~/scratch` is never replaced.

use super::error::PlanError;
use super::facts::ProbePath;
use super::facts::{PathKind, RemoteFacts};
use super::{Action, RemoteDir, RemoteLayoutPlan, Step};
use crate::exchange::Script;
use crate::profile::Profile;

#[derive(Debug)]
pub struct Layout {
    pub step: Step,
    /// The absolute directory for job logs.
    pub log_dir: String,
}

/// The layout step. `scratch` is the profile's scratch path, filled in for the user.
pub fn step(
    profile: &Profile,
    scratch: &str,
    remote: Option<&RemoteFacts>,
    data: Option<&crate::answers::CourseData>,
) -> Result<Layout, PlanError> {
    let st = &profile.raw.storage.scratch;
    let mut notes: Vec<String> = Vec::new();
    // Where scratch really is, and what ~/scratch is now.
    let (target, home_scratch, log_dir) = match remote {
        None => (scratch.to_string(), PathKind::Missing, format!("{scratch}/logs")),
        Some(f) => found(profile, scratch, f, &mut notes)?,
    };
    let mut dirs = dirs(profile, &target);
    let script = script(home_scratch, &target, data);
    let mut summary = format!(
        "Create ~/sbatch and ~/scratch → {target} with logs/ and code-snapshots/ (one remote command); an existing ~/scratch is kept."
    );
    if let Some(d) = data {
        dirs.push(RemoteDir {
            path: d.link.clone(),
            link_to: Some(d.target.clone()),
            note: Some("the course's shared data (its course file)".into()),
        });
        summary.push_str(&format!(" Link {} → {} (the course's data).", d.link, d.target));
    }
    for n in &notes {
        summary.push_str(&format!(" Note: {n}."));
    }
    Ok(Layout {
        step: Step::new(
            "Directories",
            summary,
            Action::RemoteLayout(RemoteLayoutPlan {
                dirs,
                script,
                purge: st.purge.clone(),
                scratch: target,
                log_dir: log_dir.clone(),
                notes,
                course_data: data.cloned(),
            }),
        ),
        log_dir,
    })
}

/// Where scratch really is on the cluster, what `~/scratch` is now, and where logs go; notes
/// where they differ from the profile.
fn found(
    profile: &Profile,
    scratch: &str,
    f: &RemoteFacts,
    notes: &mut Vec<String>,
) -> Result<(String, PathKind, String), PlanError> {
    let st = &profile.raw.storage.scratch;
    let site = &profile.raw.display_name;
    let env = f.path(ProbePath::EnvScratch);
    let path = f.path(ProbePath::SiteScratch);
    let target = env.real.clone().or(path.real.clone()).ok_or_else(|| PlanError::ScratchMissing {
        site: site.clone(),
        tried: match &st.env {
            Some(v) => format!(
                "${v} is {}, and {scratch} does not exist",
                f.env.get(v).map(|s| format!("`{s}`")).unwrap_or("not set".into())
            ),
            None => format!("{scratch} does not exist"),
        },
    })?;
    if env.real.is_some() && path.real.is_some() && env.real != path.real {
        notes.push(format!(
            "${} is {target}, not the profile's {scratch}: using ${}",
            st.env.as_deref().unwrap_or(""),
            st.env.as_deref().unwrap_or("")
        ));
    }
    let hs = f.path(ProbePath::HomeScratch);
    match (hs.kind, &hs.real) {
        (PathKind::Missing, _) => {}
        (PathKind::Link | PathKind::Dir, Some(real)) => {
            if real != &target {
                notes.push(format!(
                    "~/scratch is {} {real}, not {site}'s scratch {target}: hpcinit keeps it and uses it",
                    if hs.kind == PathKind::Link { "a link to" } else { "a directory of its own at" }
                ));
            }
        }
        (PathKind::Link, None) => {
            return Err(PlanError::ScratchBlocked {
                site: site.clone(),
                kind: format!("link to {}, which does not exist", hs.target.unwrap_or_default()),
            })
        }
        (kind, _) => {
            return Err(PlanError::ScratchBlocked {
                site: site.clone(),
                kind: format!("{kind:?}").to_lowercase(),
            })
        }
    }
    let logs = f.path(ProbePath::Logs);
    let base = hs.real.clone().unwrap_or_else(|| target.clone());
    let log_dir = logs.real.clone().unwrap_or(format!("{base}/logs"));
    Ok((target, hs.kind, log_dir))
}

/// The directories, as the plan shows them.
fn dirs(profile: &Profile, target: &str) -> Vec<RemoteDir> {
    let st = &profile.raw.storage.scratch;
    let site = &profile.raw.display_name;
    let link_note = st.site_link.as_ref().map(|l| {
        if l.as_str() == "~/scratch" {
            format!("{site} creates this link itself; hpcinit reuses it")
        } else {
            format!("{site} also links it at {l}")
        }
    });
    vec![
        RemoteDir { path: "~/sbatch".into(), link_to: None, note: Some("job scripts".into()) },
        RemoteDir { path: "~/scratch".into(), link_to: Some(target.to_string()), note: link_note },
        RemoteDir {
            path: "~/scratch/logs".into(),
            link_to: None,
            note: Some("job output and errors".into()),
        },
        RemoteDir {
            path: "~/scratch/code-snapshots".into(),
            link_to: None,
            note: Some("frozen copies of your code".into()),
        },
    ]
}

/// One command: `~/sbatch`, the `~/scratch` link (never over anything), logs and snapshots;
/// the scratch to link to is its argument, given only when nothing is at `~/scratch` yet.
fn script(home_scratch: PathKind, target: &str, data: Option<&crate::answers::CourseData>) -> Script {
    // Nothing there yet (or not probed): link it, never over anything.
    let mut args = if home_scratch == PathKind::Missing { vec![target.to_string()] } else { Vec::new() };
    if let Some(d) = data {
        // `""`: ~/scratch is kept as it is.
        if args.is_empty() {
            args.push(String::new());
        }
        args.push(d.link.trim_start_matches("~/").to_string());
        args.push(d.target.clone());
    }
    // A failure ends the script there: the re-probe after it must not hide it.
    Script::new("create the directories", format!("{LAYOUT_SH}hpcinit_layout \"$@\" || return 1\n"))
        .with_args(args)
}

/// The function that makes the directories.
pub const LAYOUT_SH: &str = include_str!("layout.sh");

/// Whether the layout stands, from the facts: `Ok(what is there)` or `Err(what is missing)`.
pub fn check(facts: &RemoteFacts, data: Option<&crate::answers::CourseData>) -> Result<String, String> {
    let mut wanted = vec![
        (ProbePath::Sbatch, "~/sbatch"),
        (ProbePath::HomeScratch, "~/scratch"),
        (ProbePath::Logs, "~/scratch/logs"),
        (ProbePath::Snapshots, "~/scratch/code-snapshots"),
    ];
    if let Some(d) = data {
        wanted.push((ProbePath::CourseData, d.link.as_str()));
    }
    let missing: Vec<&str> =
        wanted.iter().filter(|(k, _)| !facts.path(*k).is_dir()).map(|(_, p)| *p).collect();
    if missing.is_empty() {
        let hs = facts.path(ProbePath::HomeScratch);
        let arrow = match hs.kind {
            PathKind::Link => format!(" → {}", hs.real.unwrap_or_default()),
            _ => String::new(),
        };
        let data = data.map(|d| format!("; {} → {}", d.link, d.target)).unwrap_or_default();
        Ok(format!("~/sbatch, ~/scratch{arrow} with logs/ and code-snapshots/{data}"))
    } else {
        Err(format!("missing: {}", missing.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::facts::PathState;
    use crate::profile::ProfileSet;

    fn dir(real: &str) -> PathState {
        PathState { path: real.into(), kind: PathKind::Dir, real: Some(real.into()), ..Default::default() }
    }

    fn facts(home_scratch: PathState) -> RemoteFacts {
        let mut f = RemoteFacts::default();
        f.paths.insert(ProbePath::SiteScratch, dir("/cluster/work/users/alice"));
        f.paths.insert(ProbePath::EnvScratch, dir("/cluster/work/users/alice"));
        f.paths.insert(ProbePath::HomeScratch, home_scratch);
        f
    }

    #[test]
    fn scratch_link_is_made_only_where_nothing_is() {
        let set = ProfileSet::builtin().unwrap();
        let saga = set.get("saga").unwrap();
        let s = "/cluster/work/users/alice";
        let missing = step(saga, s, Some(&facts(PathState::default())), None).unwrap();
        let Action::RemoteLayout(RemoteLayoutPlan { script, log_dir, .. }) = &missing.step.action else {
            panic!()
        };
        assert_eq!(script.args(), ["/cluster/work/users/alice"]);
        assert_eq!(log_dir, "/cluster/work/users/alice/logs");

        let own = step(saga, s, Some(&facts(dir("/cluster/home/alice/scratch"))), None).unwrap();
        let Action::RemoteLayout(RemoteLayoutPlan { script, notes, log_dir, .. }) = &own.step.action else {
            panic!()
        };
        assert!(
            script.args().is_empty() && script.body().ends_with("\nhpcinit_layout \"$@\" || return 1\n"),
            "no link over a directory of its own: {script:?}"
        );
        assert!(notes[0].contains("a directory of its own"), "{notes:?}");
        assert_eq!(log_dir, "/cluster/home/alice/scratch/logs", "logs go where ~/scratch really is");

        let file = PathState { kind: PathKind::File, ..Default::default() };
        assert!(matches!(step(saga, s, Some(&facts(file)), None), Err(PlanError::ScratchBlocked { .. })));
        let dangling = PathState { kind: PathKind::Link, target: Some("/gone".into()), ..Default::default() };
        assert!(matches!(step(saga, s, Some(&facts(dangling)), None), Err(PlanError::ScratchBlocked { .. })));
    }

    #[test]
    fn a_missing_scratch_is_an_error_naming_the_variable() {
        let set = ProfileSet::builtin().unwrap();
        let saga = set.get("saga").unwrap();
        let mut f = RemoteFacts::default();
        f.env.insert("USERWORK".into(), "/cluster/work/users/alice".into());
        let e = step(saga, "/cluster/work/users/alice", Some(&f), None).unwrap_err().to_string();
        assert!(e.contains("$USERWORK is `/cluster/work/users/alice`"), "{e}");
    }
}
