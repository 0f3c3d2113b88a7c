//! The plan of every built-in profile, as text and as JSON, pinned by snapshots. A change to a
//! profile or to the planner shows up here as a diff to review (`cargo insta review`).

use hpcinit::answers::Answers;
use hpcinit::exit::Diagnostic;
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
        lock: Default::default(),
        allow_upgrades: false,
        no_project: false,
        windows_ssh: false,
        job_directives: Vec::new(),
        course_data: None,
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
        lock: None,
        ..Default::default()
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

/// A lock made on Narval (Alliance naming, `+computecanada` wheels), planned on Saga
/// (EasyBuild naming) before signing in: the Python step rebuilds the pins, no lock step.
#[test]
fn plan_text_reproducing_a_narval_lock_on_saga() {
    let set = ProfileSet::builtin().unwrap();
    let lock = hpcinit::local::lock::Lock::parse(
        "hpcinit.lock",
        r#"lock-version: 1
hpcinit: "0.1.0"
origin: {site: narval, name: Narval, venv: ~/venvs/demo}
python: {version: "3.11.5", logical: python 3.11}
modules:
- {logical: stdenv 2023, exact: StdEnv/2023, role: toolchain}
- {logical: python 3.11, exact: python/3.11.5, role: python}
recipe: {kind: virtualenv, pip-no-index: true}
requirements: ["numpy>=1.24", pandas]
packages: [numpy==1.26.4+computecanada, pandas==2.2.1+computecanada, "mine @ file:///home/alice/mine"]
"#,
    )
    .unwrap();
    let saga = set.get("saga").unwrap();
    let mut l = local();
    l.lock = Some(lock);
    let plan = plan::build(saga, &answers_for(saga), &l, None).unwrap();
    assert!(plan.lock().is_none(), "the lock stays Narval's");
    insta::assert_snapshot!("plan_saga_from_narval_lock", render_plan(&plan, &Style::new(false)));
    // The requirements changed since the lock: refused, naming what changed.
    l.python.lines.push("scipy".into());
    let e = plan::build(saga, &answers_for(saga), &l, None).unwrap_err();
    assert!(e.to_string().contains("made on Narval from other requirements"), "{e}");
    let hint = e.hint().unwrap_or_default();
    assert!(hint.starts_with("new: scipy; rebuild on narval first"), "{hint}");
}

/// What a run on Windows plans: hpcinit's own client (no `ssh` command, nothing multiplexed)
/// and code by SFTP, with `~/` paths Windows' OpenSSH reads.
#[test]
fn plan_text_of_saga_on_windows() {
    let set = ProfileSet::builtin().expect("built-in profiles load");
    let profile = set.get("saga").expect("saga is built in");
    let local = LocalFacts {
        home: r"C:\Users\alice".into(),
        key_path: r"~\.ssh\id_ed25519_hpcinit".into(),
        code: hpcinit::plan::snapshot::CodeFacts { root: r"C:\Users\alice\demo".into(), ..local().code },
        windows: true,
        transport: hpcinit::settings::Transport::Ssh2,
        ..local()
    };
    let text =
        render_plan(&plan::build(profile, &answers_for(profile), &local, None).unwrap(), &Style::new(false));
    for absent in ["Control", "$ ssh ", "$ rsync", r"\\?\", r"C:\Users\alice/"] {
        assert!(!text.contains(absent), "{absent:?} in the Windows plan:\n{text}");
    }
    assert!(text.contains("hpcinit's own SSH client") && text.contains("over SFTP"), "{text}");
    assert!(text.contains("UserKnownHostsFile ~/.ssh/known_hosts.d/hpcinit"), "{text}");
    insta::assert_snapshot!("plan_saga_windows", text);
}

/// `hpcinit jupyter --dry-run` for every built-in profile: the interactive job (Slurm's and
/// LSF's directives, the site's defaults and where each came from), the exchanges, the route.
#[test]
fn jupyter_plan_of_every_builtin_profile() {
    let set = ProfileSet::builtin().expect("built-in profiles load");
    for profile in set.iter() {
        let plan =
            plan::build(profile, &answers_for(profile), &local(), None).expect("a plan without remote facts");
        let jp = plan::jupyter::plan(&plan, profile, &Default::default());
        insta::assert_snapshot!(
            format!("jupyter_{}", profile.name()),
            hpcinit::ui::render_jupyter_plan(&jp, &Style::new(false))
        );
    }
}

/// `hpcinit code --dry-run` for every built-in profile, and `hpcinit shell --dry-run` for Saga
/// (no key sign-in: the shell goes through srun): the job, the route to the node and why, the
/// node's ssh entry, the start-up file and the exchanges.
#[test]
fn node_plan_of_every_builtin_profile() {
    use plan::node::{self, Purpose};
    let set = ProfileSet::builtin().expect("built-in profiles load");
    for profile in set.iter() {
        let plan =
            plan::build(profile, &answers_for(profile), &local(), None).expect("a plan without remote facts");
        let np = node::plan(&plan, profile, &Default::default(), Purpose::Code, node::block_of(&plan));
        insta::assert_snapshot!(
            format!("code_{}", profile.name()),
            hpcinit::ui::render_node_plan(&np, &Style::new(false))
        );
    }
    let saga = set.get("saga").unwrap();
    let plan = plan::build(saga, &answers_for(saga), &local(), None).unwrap();
    let np = node::plan(&plan, saga, &Default::default(), Purpose::Shell, node::block_of(&plan));
    assert_eq!(np.route.kind, node::RouteKind::SrunOverlap);
    insta::assert_snapshot!("shell_saga", hpcinit::ui::render_node_plan(&np, &Style::new(false)));
}

/// The flags win over the site's defaults, and the plan says which came from where.
#[test]
fn jupyter_flags_override_the_sites_defaults() {
    let set = ProfileSet::builtin().expect("built-in profiles load");
    let dtu = set.get("dtu").expect("dtu");
    let plan = plan::build(dtu, &answers_for(dtu), &local(), None).expect("a plan");
    let req = plan::jupyter::JupyterRequest {
        time: Some("3:00:00".to_string().try_into().unwrap()),
        memory: Some("8G".to_string().try_into().unwrap()),
        cpus: Some(4),
        gpus: Some(1),
        partition: Some("gpuv100".into()),
        here: true,
        from_course: Vec::new(),
    };
    let jp = plan::jupyter::plan(&plan, dtu, &req);
    for line in [
        "#BSUB -W 03:00",
        "#BSUB -q gpuv100",
        "#BSUB -n 4",
        "#BSUB -R \"rusage[mem=8192MB]\"",
        "#BSUB -gpu \"num=1\"",
    ] {
        assert!(jp.job.contains(line), "{line} in:\n{}", jp.job);
    }
    assert!(jp.job.contains("runtime=\"$PWD/$LSB_JOBID\"\n"), "{}", jp.job);
    assert!(
        jp.job.contains("#BSUB -o ./hpcinit-jupyter-%J.out\n"),
        "the log beside the runtime files: {}",
        jp.job
    );
    assert!(
        jp.job.contains("source \"$HOME\"/sbatch/demo-env.sh\n"),
        "the project's job environment: {}",
        jp.job
    );
    assert!(jp.job.contains("cd -P \"$HOME\"/scratch/demo\n"), "--here: {}", jp.job);
    assert_eq!(jp.resources.memory.from, "flag");
    assert_eq!(jp.scripts.wait.args(), ["lsf", "~/scratch/.hpcinit/jupyter"]);
}
