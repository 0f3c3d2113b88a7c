//! `hpcinit.lock` against the test cluster: a lock made on the Alliance-style node
//! (`StdEnv/2023` + `python/3.11`) rebuilt on the EasyBuild-style second-factor node
//! (`Python/3.11.x-GCCcore-…`), whose wheelhouse offers a newer `hpcinit_demo` it must not
//! take; the same versions import on both, `hpcinit diff` says so. A pin the second node
//! cannot provide (`hpcinit_stats 1.2`; it has 1.0 and 1.3) is reported with the closest
//! version and stops the run until `--allow-upgrades`. `hpcinit lock` refreshes the file from
//! the environment as it is.

use super::remote_steps::{base, cleanup, ok, on_cluster, stamped_dirs};
use super::ssh_steps::{Laptop, LogWindow};
use super::SERIAL;

/// `module load …` and a Python one-liner in the project's venv on `site`.
fn run_in_venv(l: &Laptop, site: &str, loads: &str, project: &str, code: &str) -> String {
    let (rc, out) = on_cluster(
        l,
        site,
        &format!("module purge && module load {loads} && ~/venvs/{project}/bin/python -c '{code}'"),
    );
    assert_eq!(rc, 0, "{site}: {out}");
    out.lines().last().unwrap_or_default().to_string()
}

fn mtime(p: &std::path::Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_lock_made_with_alliance_names_is_rebuilt_with_easybuild_names_at_the_same_versions() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let (a, b) = ("lock-alliance", "lock-easybuild");
    let (_ca, _cb) = (cleanup(&l, a), cleanup(&l, b));
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\nhpcinit-extra\n").unwrap();
    let lock_path = l.project.join("hpcinit.lock");
    let alliance = "StdEnv/2023 python/3.11";
    let easybuild = l.c.var("HPCINIT_MODULE_EASYBUILD");

    // On the Alliance-style node: built from requirements.txt, then the lock is written.
    let r = l.hpcinit(&base("sandbox", a, &[]), &[]);
    ok(&r, "bootstrap on sandbox");
    assert!(r.stdout.contains("Lock file") && r.stdout.contains("wrote ~/demo/hpcinit.lock"), "{}", r.stdout);
    let text = std::fs::read_to_string(&lock_path).unwrap();
    let lock: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(lock["origin"]["site"], "sandbox");
    assert_eq!(lock["python"]["version"], l.c.var("HPCINIT_PYTHON_VERSION").as_str());
    assert_eq!(lock["python"]["logical"], "python 3.11");
    assert_eq!(lock["recipe"]["kind"], "venv");
    let modules = lock["modules"].as_array().unwrap();
    assert_eq!(modules[0]["exact"], "StdEnv/2023");
    assert_eq!(
        (&modules[1]["exact"], &modules[1]["logical"]),
        (&"python/3.11".into(), &"python 3.11".into())
    );
    assert_eq!(lock["requirements"], serde_json::json!(["hpcinit-demo", "hpcinit-extra"]));
    assert_eq!(lock["packages"], serde_json::json!(["hpcinit-demo==1.0", "hpcinit-extra==1.0"]));
    // The build writes `pip freeze`'s lines itself when it can be sure of them: the same as
    // pip's, line for line.
    let (rc, freeze) = on_cluster(
        &l,
        "sandbox",
        &format!("module purge && module load {alliance} && ~/venvs/{a}/bin/python -m pip freeze"),
    );
    assert_eq!(rc, 0, "{freeze}");
    let pip: Vec<&str> = freeze.lines().filter(|l| l.contains("==") || l.contains(" @ ")).collect();
    assert_eq!(lock["packages"], serde_json::json!(pip), "the lock's packages are pip freeze's");

    // Re-running changes nothing, the lock included (same bytes, not rewritten).
    let before = mtime(&lock_path);
    let r = l.hpcinit(&base("sandbox", a, &[]), &[]);
    ok(&r, "second bootstrap on sandbox");
    assert!(r.stdout.contains("unchanged: ~/demo/hpcinit.lock describes this environment"), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), text);
    assert_eq!(mtime(&lock_path), before);

    // On the EasyBuild-style second-factor node, whose wheelhouse also has hpcinit_demo 2.0
    // (what requirements.txt alone would install there): the lock's 1.0 is installed.
    assert!(l.c.dir.join("wheelhouse-easybuild/hpcinit_demo-2.0-py3-none-any.whl").is_file());
    let log = LogWindow::open(&l.c, true);
    let r = l.hpcinit(&base("sandbox-mfa", b, &[]), &[]);
    ok(&r, "bootstrap on sandbox-mfa from the lock");
    assert!(r.stdout.contains("version from: hpcinit.lock"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("Python from {easybuild}")) || r.stdout.contains(&format!("({easybuild}")),
        "the lock's python/3.11 mapped to the EasyBuild module: {}",
        r.stdout
    );
    assert!(r.stdout.contains("from hpcinit.lock (Sandbox): 2 of 2 pinned versions exactly"), "{}", r.stdout);
    assert!(r.stdout.contains("Reproduced:    hpcinit.lock from Sandbox"), "{}", r.stdout);
    assert_eq!(log.accepted(), 1, "one authentication on the second-factor node: {}", log.text());
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), text, "the lock stays Sandbox's");

    // The same versions import on both.
    let code = "import hpcinit_demo, hpcinit_extra; print(hpcinit_demo.VERSION, hpcinit_extra.VALUE)";
    assert_eq!(run_in_venv(&l, "sandbox", alliance, a, code), "1.0 42");
    assert_eq!(run_in_venv(&l, "sandbox-mfa", &easybuild, b, code), "1.0 42");

    // hpcinit diff: the same environment under two naming schemes.
    let r = l.hpcinit(&["diff", "--site", "sandbox", "--site", "sandbox-mfa", "--exit-code"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("The same environment: Python 3.11 and the same 2 package versions."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("python/3.11") && r.stdout.contains(&easybuild), "{}", r.stdout);
    let r = l.hpcinit(&["diff", "--site", "sandbox-mfa", "--json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (v["same"].as_bool(), v["left"]["label"].as_str()),
        (Some(true), Some("hpcinit.lock (sandbox)"))
    );

    // Someone installs a package by hand: `hpcinit lock` records the environment as it is.
    let (rc, out) = on_cluster(
        &l,
        "sandbox",
        &format!("module purge && module load {alliance} && ~/venvs/{a}/bin/python -m pip install -q hpcinit-broken"),
    );
    assert_eq!(rc, 0, "{out}");
    let r = l.hpcinit(&["lock"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("wrote ~/demo/hpcinit.lock from ~/venvs/lock-alliance on Sandbox"),
        "{}",
        r.stdout
    );
    let lock: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    assert_eq!(
        lock["packages"],
        serde_json::json!(["hpcinit-broken==1.0", "hpcinit-demo==1.0", "hpcinit-extra==1.0"])
    );
    let r = l.hpcinit(&["diff", "--site", "sandbox", "--site", "sandbox-mfa", "--exit-code"], &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("hpcinit-broken 1.0: only in sandbox"), "{}", r.stdout);
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_pin_the_target_cannot_provide_stops_the_run_until_upgrades_are_allowed() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let (a, b) = ("lock-stats-a", "lock-stats-b");
    let (_ca, _cb) = (cleanup(&l, a), cleanup(&l, b));
    let reqs = l.project.join("requirements.txt");
    std::fs::write(&reqs, "hpcinit-stats\n").unwrap();
    ok(&l.hpcinit(&base("sandbox", a, &[]), &[]), "bootstrap on sandbox");
    let text = std::fs::read_to_string(l.project.join("hpcinit.lock")).unwrap();
    assert!(text.contains("- hpcinit-stats==1.2\n"), "{text}");

    // The second node has hpcinit_stats 1.0 and 1.3, not 1.2.
    let r = l.hpcinit(&base("sandbox-mfa", b, &[]), &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "1 of the 1 versions pinned in hpcinit.lock (made on Sandbox) cannot be installed on Sandbox MFA"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hpcinit-stats 1.2: not available; closest newer 1.3 (available: 1.0, 1.3)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("in step: Python environment"), "{}", r.stderr);
    assert!(
        r.stderr.contains("hint: nothing was installed") && r.stderr.contains("--allow-upgrades"),
        "{}",
        r.stderr
    );
    let home = l.c.dir.join("home/hpcuser");
    assert!(!home.join("venvs").join(b).exists(), "no environment was put in place");
    assert!(stamped_dirs(&l, b).is_empty(), "the attempt left nothing behind");
    assert!(
        home.join(format!("scratch/code-snapshots/{b}/latest")).symlink_metadata().is_err(),
        "the run stopped at the failed step: no snapshot"
    );

    // --allow-upgrades: the closest newer version, said so.
    let r = l.hpcinit(&base("sandbox-mfa", b, &["--allow-upgrades"]), &[]);
    ok(&r, "with --allow-upgrades");
    assert!(
        r.stdout
            .contains("not as locked: hpcinit-stats 1.2 → 1.3: the closest newer version (--allow-upgrades)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("0 of 1 pinned versions exactly, 1 as shown"), "{}", r.stdout);
    let easybuild = l.c.var("HPCINIT_MODULE_EASYBUILD");
    assert_eq!(
        run_in_venv(&l, "sandbox-mfa", &easybuild, b, "import hpcinit_stats; print(hpcinit_stats.VERSION)"),
        "1.3"
    );
    let r = l.hpcinit(&["diff", "--site", "sandbox", "--site", "sandbox-mfa", "--exit-code"], &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 difference: hpcinit-stats 1.2 ≠ 1.3"), "{}", r.stdout);

    // The requirements changed since the lock was made: refused before anything happens.
    std::fs::write(&reqs, "hpcinit-stats\nhpcinit-demo\n").unwrap();
    let r = l.hpcinit(&base("sandbox-mfa", b, &["--allow-upgrades"]), &[]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("hpcinit.lock was made on Sandbox from other requirements"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: new: hpcinit-demo; rebuild on sandbox first"), "{}", r.stderr);
}

/// A requirement installed from a URL: `pip freeze` prints `name @ url`, which the build does
/// not guess: pip freeze itself runs, and the lock holds its line.
#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_requirement_from_a_url_is_locked_as_pip_freeze_prints_it() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let p = "lock-url";
    let _c = cleanup(&l, p);
    let wheel = l.c.dir.join("wheelhouse/hpcinit_extra-1.0-py3-none-any.whl");
    let line = format!("hpcinit-extra @ file://{}", wheel.display());
    std::fs::write(l.project.join("requirements.txt"), format!("hpcinit-demo\n{line}\n")).unwrap();
    ok(&l.hpcinit(&base("sandbox", p, &[]), &[]), "bootstrap with a URL requirement");
    let lock: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(l.project.join("hpcinit.lock")).unwrap()).unwrap();
    let (rc, freeze) = on_cluster(
        &l,
        "sandbox",
        &format!(
            "module purge && module load StdEnv/2023 python/3.11 && ~/venvs/{p}/bin/python -m pip freeze"
        ),
    );
    assert_eq!(rc, 0, "{freeze}");
    let pip: Vec<&str> = freeze.lines().filter(|l| l.contains("==") || l.contains(" @ ")).collect();
    assert_eq!(pip, ["hpcinit-demo==1.0", line.as_str()], "{freeze}");
    assert_eq!(lock["packages"], serde_json::json!(pip));
}
