//! Every profile file loads and says what sites.md says; bad profiles fail where they are bad.

use hpcinit::profile::{Profile, ProfileError, ProfileSet, ProfileSource, BUILTIN_PROFILES};
use std::path::Path;

#[test]
fn every_file_in_profiles_dir_is_embedded_and_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = BUILTIN_PROFILES.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(on_disk, embedded, "profiles/ holds only .yaml profiles, all embedded");
    for (file, text) in BUILTIN_PROFILES {
        let p = Profile::parse(text, ProfileSource::Builtin(file.to_string()))
            .unwrap_or_else(|e| panic!("{file}: {e}\n{}", e.detail().unwrap_or_default()));
        assert_eq!(format!("{}.yaml", p.name()), *file, "file name matches the profile name");
    }
}

#[test]
fn the_eleven_required_sites_are_built_in() {
    let set = ProfileSet::builtin().unwrap();
    for name in [
        "dtu",
        "saga",
        "betzy",
        "olivia",
        "bigred200",
        "quartz",
        "narval",
        "rorqual",
        "fir",
        "nibi",
        "trillium",
    ] {
        assert!(set.get(name).is_ok(), "{name} missing");
    }
}

#[test]
fn aliases_resolve() {
    let set = ProfileSet::builtin().unwrap();
    for (alias, name) in [
        ("bigred", "bigred200"),
        ("sigma2", "saga"),
        ("calculquebec", "narval"),
        ("gbar", "dtu"),
        ("SAGA", "saga"),
    ] {
        assert_eq!(set.get(alias).unwrap().name().as_str(), name);
    }
}

#[test]
fn retired_systems_name_their_successor() {
    let set = ProfileSet::builtin().unwrap();
    for (old, new) in [
        ("bigred3", "bigred200"),
        ("carbonate", "quartz"),
        ("fram", "olivia"),
        ("cedar", "fir"),
        ("graham", "nibi"),
        ("beluga", "rorqual"),
        ("niagara", "trillium"),
    ] {
        match set.get(old) {
            Err(ProfileError::Retired { successor, .. }) => assert_eq!(successor, new, "{old}"),
            other => panic!("{old}: expected Retired, got {other:?}"),
        }
    }
}

#[test]
fn saga_facts_match_sigma2_docs() {
    let set = ProfileSet::builtin().unwrap();
    let saga = set.get("saga").unwrap();
    assert_eq!(saga.raw.ssh.host.as_str(), "saga.sigma2.no");
    assert!(saga
        .raw
        .ssh
        .host_keys
        .iter()
        .any(|k| k.fingerprint.as_str() == "SHA256:YOkZ1uudXrFmaigdnpZ64z497ZccNhdZe/abFkDXOH8"));
    assert!(saga.raw.scheduler.account.as_ref().unwrap().required);
}

#[test]
fn unverified_values_stay_marked() {
    let set = ProfileSet::builtin().unwrap();
    let dtu = set.get("dtu").unwrap();
    assert!(dtu.unverified("scheduler.max_walltime").is_some());
    assert!(dtu.unverified("storage.scratch.purge").is_some(), "a parent field covers its children");
    let saga = set.get("saga").unwrap();
    assert!(saga.unverified("python.modules.known[0]").is_some());
    assert!(saga.unverified("ssh.host").is_none());
}

fn saga_text() -> String {
    BUILTIN_PROFILES.iter().find(|(f, _)| *f == "saga.yaml").unwrap().1.to_string()
}

fn parse_err(text: &str) -> ProfileError {
    Profile::parse(text, ProfileSource::Explicit("bad.yaml".into())).expect_err("must be rejected")
}

fn line_of(text: &str, needle: &str) -> u64 {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") as u64 + 1
}

#[test]
fn misspelled_field_is_located() {
    let text = saga_text().replace("  control_persist: 10m", "  control_persits: 10m");
    match parse_err(&text) {
        ProfileError::Invalid { file, line, message, .. } => {
            assert_eq!(file, "bad.yaml");
            assert_eq!(line, line_of(&text, "control_persits"));
            assert!(message.contains("unknown field `control_persits`"), "{message}");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn bad_values_are_located() {
    let cases = [
        (
            "fingerprint: SHA256:YOkZ1uudXrFmaigdnpZ64z497ZccNhdZe/abFkDXOH8",
            "fingerprint: MD5:ab:cd",
            "SHA256",
        ),
        ("  max_walltime: 7-00:00:00", "  max_walltime: a week", "walltime"),
        ("    example: nn1234k", "    example: nn12k", "does not match"),
        (
            "    location: ~/venvs/{project}",
            "    location: /cluster/work/users/{user}/venv-{project}",
            "purged",
        ),
        ("  default_version: \"3.12\"", "  default_version: \"3.9\"", "matches none"),
        ("  submit: sbatch", "  submit: bsub <", "does not fit"),
        ("  - field: python.modules.known[0]", "  - field: python.modules.knwon[0]", "names no field"),
        ("  kind: slurm", "  kind: pbs", "unknown variant"),
        ("  patterns: [\"c?-*\", \"c??-*\"]", "  patterns: [\"c*\"]", "too broad"),
        ("  patterns: [\"c?-*\", \"c??-*\"]", "  patterns: [\"c1 c2\"]", "not an ssh Host pattern"),
        ("  patterns: [\"c?-*\", \"c??-*\"]", "  patterns: []", "`nodes.patterns` is empty"),
        ("  login_vscode: allowed", "  login_vscode: forbidden", "unknown variant"),
    ];
    for (from, to, expect) in cases {
        let text = saga_text().replacen(from, to, 1);
        assert_ne!(text, saga_text(), "{from:?} must be in saga.yaml");
        match parse_err(&text) {
            ProfileError::Invalid { line, message, .. } => {
                assert!(message.contains(expect), "{to:?}: {message}");
                assert_eq!(line, line_of(&text, to.trim()), "{to:?}: {message}");
            }
            e => panic!("{to:?}: {e:?}"),
        }
    }
}

#[test]
fn yes_no_are_not_booleans() {
    // YAML 1.1 reads `no` (Norway's country code) as false; profiles use YAML 1.2 booleans only.
    let text = saga_text().replace("  enabled: true", "  enabled: yes");
    assert!(matches!(parse_err(&text), ProfileError::Invalid { .. }));
}

#[test]
fn user_profile_overrides_builtin_and_alias_clash_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = saga_text().replace("display_name: Saga", "display_name: My Saga");
    std::fs::write(dir.path().join("saga.yaml"), &text).unwrap();
    let set = ProfileSet::load(Some(dir.path()), &[]).unwrap();
    assert_eq!(set.get("saga").unwrap().raw.display_name, "My Saga");

    let clash = saga_text()
        .replace("name: saga", "name: mysaga")
        .replace("aliases: [sigma2, nris]", "aliases: [betzy]");
    std::fs::write(dir.path().join("mysaga.yaml"), clash).unwrap();
    assert!(matches!(ProfileSet::load(Some(dir.path()), &[]), Err(ProfileError::Conflict { .. })));
}

#[test]
fn every_built_in_site_has_its_page() {
    let set = ProfileSet::builtin().unwrap();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sites");
    let mut missing = Vec::new();
    for p in set.iter().filter(|p| !p.is_test()) {
        let page = docs.join(format!("{}.md", p.name()));
        let Ok(text) = std::fs::read_to_string(&page) else {
            missing.push(format!("{} (write it: docs/adding-a-site.md, step 5)", page.display()));
            continue;
        };
        for needle in [p.raw.ssh.host.as_str(), p.raw.docs.as_str(), &format!("hpcinit --site {}", p.name())]
        {
            assert!(text.contains(needle), "{} does not mention {needle}", page.display());
        }
    }
    assert!(missing.is_empty(), "built-in sites without a page: {missing:?}");
    // No page for a site that has no profile.
    for e in std::fs::read_dir(&docs).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().trim_end_matches(".md").to_string();
        assert!(set.get(&name).is_ok(), "docs/sites/{name}.md has no profile");
    }
}
