//! Unit tests of the Python step's planning: module choice, versions, the build script.
use super::*;
use crate::plan::facts::{ModuleSystem, ProbePath};
use crate::plan::facts::{ModuleSystemFound, RemoteFacts};
use crate::profile::ProfileSet;

fn facts(lines: &[&str]) -> RemoteFacts {
    RemoteFacts {
        module_system: ModuleSystemFound { kind: ModuleSystem::Lmod, version: "8.7".into() },
        module_lines: Some(lines.iter().map(|l| l.to_string()).collect()),
        ..Default::default()
    }
}

fn local(spec: Option<&str>) -> LocalFacts {
    let mut l = LocalFacts::default();
    l.python.requires_python = spec.map(String::from);
    l
}

/// The build's watchdog, in a real bash leading its process group as under sshd: once the
/// reader of its output is gone, the build (here a silent `sleep 30`) and its children end
/// within seconds, not when they next print.
#[test]
#[cfg(unix)] // the cluster side: bash in its own process group
fn a_build_whose_connection_is_gone_stops_within_seconds() {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{}hpcinit_venv_watchdog\nsleep 30; echo finished",
            super::super::venv_build::VENV_BUILD_SH
        ))
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "@@hpcinit:alive\n");
    drop(out);
    let t = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(!status.success(), "ended by the watchdog, not finished: {status:?}");
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "took {:?}", t.elapsed());
    let left = || {
        let group =
            std::process::Command::new("pgrep").args(["-g", &child.id().to_string()]).output().unwrap();
        String::from_utf8_lossy(&group.stdout).into_owned()
    };
    let mut tries = 0;
    while !left().is_empty() && tries < 40 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        tries += 1;
    }
    assert_eq!(left(), "", "its children ended too");
}

#[test]
fn the_probe_listing_decides_once_signed_in() {
    let set = ProfileSet::builtin().unwrap();
    let narval = set.get("narval").unwrap();
    let f = facts(&["/cvmfs/x/Core:", "python/3.10.13", "python/3.11.5", "python/3.12.4", "python/3.13.2"]);
    let want = |v: &str| Wanted::new(narval, Some(&v.parse().unwrap()), &local(None), None);
    assert_eq!(
        choose(narval, &want("3.12"), Some(&f)).unwrap(),
        ModuleChoice::Found { name: "python/3.12.4".into() }
    );
    match choose(narval, &want("3.9"), Some(&f)).unwrap_err() {
        PlanError::PythonMissing { available, suggest, .. } => {
            assert!(available.starts_with("3.10.13 (python/3.10.13), 3.11.5"), "{available}");
            assert_eq!(suggest.as_deref(), Some("3.13"));
        }
        e => panic!("{e}"),
    }
}

#[test]
fn requires_python_prefers_the_sites_default_then_the_newest_that_fits() {
    let set = ProfileSet::builtin().unwrap();
    let narval = set.get("narval").unwrap(); // default 3.11
    let f = facts(&["python/3.10.13", "python/3.11.5", "python/3.12.4", "python/3.13.2"]);
    let pick =
        |spec: &str| choose(narval, &Wanted::new(narval, None, &local(Some(spec)), None), Some(&f)).unwrap();
    assert_eq!(pick(">=3.10"), ModuleChoice::Found { name: "python/3.11.5".into() });
    assert_eq!(pick(">=3.12"), ModuleChoice::Found { name: "python/3.13.2".into() });
    assert_eq!(pick(">=3.10,<3.11"), ModuleChoice::Found { name: "python/3.10.13".into() });
}

#[test]
fn no_module_system_is_an_error_naming_the_shell() {
    let set = ProfileSet::builtin().unwrap();
    let saga = set.get("saga").unwrap();
    let mut f = facts(&[]);
    f.module_system.kind = ModuleSystem::None;
    f.shell = "/bin/tcsh".into();
    let w = Wanted::new(saga, None, &local(None), None);
    assert!(matches!(choose(saga, &w, Some(&f)), Err(PlanError::NoModules { .. })));
}

#[test]
fn a_venv_that_would_land_on_scratch_is_refused() {
    let set = ProfileSet::builtin().unwrap();
    let saga = set.get("saga").unwrap();
    let mut f = facts(&["Python/3.12.3-GCCcore-13.3.0"]);
    let dir = |p: &str| crate::plan::facts::PathState {
        path: p.into(),
        kind: crate::plan::facts::PathKind::Dir,
        real: Some(p.into()),
        ..Default::default()
    };
    // ~/venvs is a link into $USERWORK, which is purged.
    f.paths.insert(ProbePath::VenvParent, dir("/cluster/work/users/alice/venvs"));
    f.paths.insert(ProbePath::EnvScratch, dir("/cluster/work/users/alice"));
    let w = Wanted::new(saga, None, &local(None), None);
    let m = choose(saga, &w, Some(&f)).unwrap();
    let e = step(saga, &w, &m, "~/venvs/demo", &local(None), Some(&f), None).err().unwrap();
    assert!(matches!(e, PlanError::VenvInScratch { .. }), "{e}");
}
