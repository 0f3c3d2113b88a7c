//! The plan of every built-in profile, as text and as JSON, pinned by snapshots. A change to a
//! profile or to the planner shows up here as a diff to review (`cargo insta review`).

use hpcinit::answers::Answers;
use hpcinit::local::requirements::{ProjectPython, Source};
use hpcinit::plan::{self, LocalFacts};
use hpcinit::profile::ProfileSet;
use hpcinit::ui::{render_plan, Style};

fn answers_for(profile: &hpcinit::profile::Profile) -> Answers {
    Answers {
        user: "alice".into(),
        account: profile.raw.scheduler.account.as_ref().map(|a| a.example.value.clone()),
        project_dir: "/home/alice/projects/demo".into(),
        project_name: "demo".into(),
        python: None,
        check_job: false,
        sync: Default::default(),
    }
}

fn local() -> LocalFacts {
    LocalFacts {
        home: "/home/alice".into(),
        key_chosen: false,
        key_path: "~/.ssh/id_ed25519_hpcinit".into(),
        key_exists: false,
        python: ProjectPython {
            source: Source::RequirementsTxt,
            lines: vec!["numpy>=1.24".into(), "pandas".into()],
            skipped: vec![],
            requires_python: None,
        },
        code: hpcinit::plan::snapshot::CodeFacts {
            root: "/home/alice/projects/demo".into(),
            git: Some(hpcinit::plan::snapshot::GitSummary { short_sha: "1a2b3c4".into(), dirty: false }),
            files: 42,
            bytes: 123_456,
            venvs: vec![".venv".into()],
            problem: None,
        },
    }
}

#[test]
fn plan_text_of_every_builtin_profile() {
    let set = ProfileSet::builtin().expect("built-in profiles load");
    let mut seen = 0;
    for profile in set.iter() {
        let plan =
            plan::build(profile, &answers_for(profile), &local(), None).expect("a plan without remote facts");
        insta::assert_snapshot!(format!("plan_{}", profile.name()), render_plan(&plan, &Style::new(false)));
        seen += 1;
    }
    assert!(seen >= 11, "expected every built-in profile, saw {seen}");
}

#[test]
fn plan_json_of_saga() {
    let set = ProfileSet::builtin().unwrap();
    let saga = set.get("saga").unwrap();
    let plan = plan::build(saga, &answers_for(saga), &local(), None).expect("a plan without remote facts");
    insta::assert_json_snapshot!("plan_saga_json", plan);
}
