//! The shell hpcinit sends to clusters lives in `.sh` files; shellcheck reads each of them as
//! bash and must find nothing of warning level. `tests/run.sh` installs shellcheck; elsewhere,
//! without it, this test says so and checks nothing.

use std::path::Path;
use std::process::Command;

const SCRIPTS: &[&str] = &[
    "src/plan/check_job.sh",
    "src/plan/course_probe.sh",
    "src/plan/doctor.sh",
    "src/plan/environment.sh",
    "src/plan/jupyter.sh",
    "src/plan/layout.sh",
    "src/plan/node.sh",
    "src/plan/probe.sh",
    "src/plan/register_key.sh",
    "src/plan/scheduler.sh",
    "src/plan/snapshot.sh",
    "src/plan/templates.sh",
    "src/plan/uninstall.sh",
    "src/plan/venv_build.sh",
    "src/exchange/prelude.sh",
];

#[test]
fn remote_scripts_are_shellcheck_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = Command::new("shellcheck").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("HPCINIT_REQUIRE_CLUSTER").as_deref() != Ok("1"),
            "shellcheck is not installed (apt-get install shellcheck; tests/run.sh does)"
        );
        eprintln!("skipped: shellcheck is not installed (apt-get install shellcheck)");
        return;
    }
    for script in SCRIPTS {
        let out = Command::new("shellcheck")
            .args(["--shell=bash", "--severity=warning"])
            .arg(root.join(script))
            .output()
            .expect("run shellcheck");
        assert!(out.status.success(), "{script}:\n{}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn every_remote_script_file_is_checked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut on_disk = Vec::new();
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).expect("source dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "sh") {
                on_disk.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = SCRIPTS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "a new .sh file belongs in SCRIPTS");
}

/// `hpcinit_js` makes JSON strings the same way with and without its shortcut: every string
/// below, as bash prints it, parses back to the string (control characters dropped).
#[test]
fn json_strings_from_the_prelude_parse_back() {
    let prelude = include_str!("../src/exchange/prelude.sh");
    let samples = ["plain/path x", "a\"b", "back\\slash", "tab\there", "ünï", "", "[x]*?$HOME", "new\nline"];
    for s in samples {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{prelude}\nhpcinit_js \"$1\""))
            .arg("bash")
            .arg(s)
            .output()
            .expect("bash runs");
        let text = String::from_utf8(out.stdout).expect("UTF-8");
        let parsed: String = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{s:?} → {text}: {e}"));
        let want: String = s.chars().filter(|c| !c.is_control()).collect();
        assert_eq!(parsed, want, "{s:?} → {text}");
    }
}
