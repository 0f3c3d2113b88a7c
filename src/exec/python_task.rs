//! The Python environment step. Done when the venv's `.hpcinit-ok` marker holds the hash of
//! the plan's inputs (recipe, modules, requirements). Otherwise one login-shell round trip
//! builds a new environment beside the old one, installs the requirements (pip's lines drive a
//! progress bar), imports every requirement with the same modules loaded, writes the marker and
//! only then swaps the venv link, then re-probes. A failure anywhere leaves the previous
//! environment in place and unmarked work removed. The modules and `pip freeze` are recorded
//! in hpcinit's state directory for the lock file.

use super::probe_task::{take_facts, then_probe};
use super::{Applied, Check, Context, OnExisting, StepError, Task};
use crate::local::state::{self, EnvironmentRecord};
use crate::plan::facts::PathKind;
use crate::plan::facts::ProbePath;
use crate::plan::pins::{self, PinKind, PinMatch};

use crate::exchange::Script;
use crate::exchange::{tagged, tags};
use crate::plan::venv_build::{error_lines, pip_progress};
use crate::plan::venv_build::{BuildAnswer, BuildReport, BuildStage, PHASES};
use crate::plan::PythonPlan;
use crate::remote::{RemoteOutput, Running};

pub struct PythonTask {
    /// The plan this task was made from; [`PythonTask::planned`] prefers the newest.
    plan: PythonPlan,
    /// The person chose to keep what is there.
    kept: Option<String>,
    /// The build, started before its turn: the script's text, the running command, and
    /// whether it replaces what is at the venv's place.
    early: Option<(String, Running, bool)>,
}

/// What is at the venv's place now.
enum Existing {
    Nothing,
    /// hpcinit's, built as planned.
    Planned,
    /// hpcinit's, built from other inputs.
    Older,
    /// Not made by hpcinit.
    Foreign(String),
}

fn existing(cx: &Context, p: &PythonPlan) -> Existing {
    let Some(f) = &cx.facts else { return Existing::Nothing };
    let v = f.path(ProbePath::Venv);
    match (v.kind, &f.venv_marker) {
        (PathKind::Missing, _) => Existing::Nothing,
        (_, Some(m)) if m == &p.inputs_sha && v.is_dir() => Existing::Planned,
        (_, Some(_)) => Existing::Older,
        (PathKind::Link, None) => Existing::Foreign(format!("a link to {}", v.target.unwrap_or_default())),
        (PathKind::Dir, None) => Existing::Foreign("a directory hpcinit did not make".into()),
        (k, None) => Existing::Foreign(format!("a {k:?}").to_lowercase()),
    }
}

impl PythonTask {
    pub fn new(plan: &PythonPlan) -> PythonTask {
        PythonTask { plan: plan.clone(), kept: None, early: None }
    }

    /// The step as the newest plan has it (the probe decides the module).
    fn planned(&self, cx: &Context) -> PythonPlan {
        cx.plan.python().unwrap_or(&self.plan).clone()
    }
}

impl Task for PythonTask {
    fn check(&mut self, cx: &mut Context) -> Result<Check, StepError> {
        if let Some(k) = &self.kept {
            return Ok(Check::Done(k.clone()));
        }
        // A build started early is collected in its turn, even when a later probe already
        // shows the environment it made: its answer is the record of what was built.
        if self.early.is_some() {
            return Ok(Check::Needed("the build started early".into()));
        }
        let p = self.planned(cx);
        Ok(match existing(cx, &p) {
            Existing::Planned => Check::Done(format!(
                "{} (Python {}, {} requirement{}) is built as planned",
                p.venv,
                p.version,
                p.requirements.len(),
                if p.requirements.len() == 1 { "" } else { "s" }
            )),
            Existing::Nothing => Check::Needed(format!("{} does not exist", p.venv)),
            Existing::Older if cx.options.on_existing == Some(OnExisting::Keep) => {
                self.kept =
                    Some(format!("kept {} as it is (--on-existing keep), although the plan changed", p.venv));
                Check::Done(self.kept.clone().unwrap_or_default())
            }
            Existing::Older => {
                Check::Needed(format!("{} was built from other requirements or modules", p.venv))
            }
            Existing::Foreign(what) if cx.options.on_existing == Some(OnExisting::Keep) => {
                self.kept = Some(format!("kept {} ({what}) as it is (--on-existing keep)", p.venv));
                Check::Done(self.kept.clone().unwrap_or_default())
            }
            Existing::Foreign(what) => Check::Needed(format!("{} is {what}", p.venv)),
        })
    }

    /// Right after the probe, when nothing needs asking: the build starts on a channel of its
    /// own (a few minutes of pip on the cluster), while the login shell makes the directories
    /// and writes the templates.
    fn head_start(&mut self, cx: &mut Context) -> bool {
        if cx.facts.is_none() || self.early.is_some() || !matches!(self.check(cx), Ok(Check::Needed(_))) {
            return false;
        }
        let p = self.planned(cx);
        let replace = match existing(cx, &p) {
            Existing::Nothing | Existing::Older => false,
            Existing::Foreign(_) if cx.options.on_existing == Some(OnExisting::Replace) => true,
            _ => return false,
        };
        let script = build(cx, &p, replace);
        match cx.start_script(&script) {
            Some(running) => {
                self.early = Some((script.input(), running, replace));
                true
            }
            None => false,
        }
    }

    fn apply(&mut self, cx: &mut Context) -> Result<Applied, StepError> {
        let p = self.planned(cx);
        let replace = match &self.early {
            Some((_, _, replace)) => *replace,
            None => match self.replace_what_is_there(cx, &p)? {
                Some(replace) => replace,
                None => return Ok(Applied::Changed(self.kept.clone().unwrap_or_default())),
            },
        };
        let out = self.run_build(cx, &p, replace)?;
        take_result(cx, &p, &out)
    }
}

impl PythonTask {
    /// Whether the build replaces what is at the venv's place (`Some(false)`: nothing to
    /// replace); `None` when the person chose to keep it.
    fn replace_what_is_there(&mut self, cx: &mut Context, p: &PythonPlan) -> Result<Option<bool>, StepError> {
        let mut replace = false;
        match existing(cx, p) {
            Existing::Older | Existing::Foreign(_) if cx.options.on_existing == Some(OnExisting::Fail) => {
                return Err(StepError::NeedsChoice {
                    what: "the Python environment".into(),
                    detail: format!("{} exists and differs from the plan (--on-existing fail)", p.venv),
                    hint:
                        "pass --on-existing replace to rebuild it, or --on-existing keep to use it as it is"
                            .into(),
                });
            }
            Existing::Foreign(what) => {
                replace = cx.options.on_existing == Some(OnExisting::Replace)
                    || {
                        let q = format!(
                        "{} on the cluster is {what}. Build hpcinit's environment and replace it once it works?",
                        p.venv
                    );
                        cx.prompter.confirm(&q, false, "--on-existing replace|keep")?
                    };
                if !replace {
                    self.kept = Some(format!("kept {} ({what}) as it is, as you chose", p.venv));
                    return Ok(None);
                }
            }
            _ => {}
        }
        Ok(Some(replace))
    }

    /// Runs the build (or collects the one started early), its lines driving the progress bar.
    fn run_build(
        &mut self,
        cx: &mut Context,
        p: &PythonPlan,
        replace: bool,
    ) -> Result<RemoteOutput, StepError> {
        let script = build(cx, p, replace);
        let stages: Vec<BuildStage> =
            PHASES.iter().copied().filter(|s| *s != BuildStage::Match || p.from_lock.is_some()).collect();
        let mut bar = cx.reporter.progress(&format!("building {}", p.venv), stages.len() as u64);
        let mut stage = 0u64;
        let mut trace: Vec<String> = Vec::new();
        let mut show = |line: &str| {
            if let Some(BuildReport::Phase(now)) = tags::<BuildReport>(line).pop() {
                stage = stages.iter().position(|s| *s == now).map(|i| i as u64 + 1).unwrap_or(stage);
                bar.stage(stage, now.label());
            } else if tagged(line).is_none() && stage >= 3 {
                if let Some(l) = pip_progress(line) {
                    bar.update(&format!(
                        "{}: {}",
                        stages[(stage as usize).saturating_sub(1).min(stages.len() - 1)].label(),
                        truncate(l, 70)
                    ));
                }
                trace.push(line.to_string());
            }
        };
        let out = match self.early.take() {
            Some((text, running, _)) if text == script.input() => {
                cx.finish_script(running, &script.purpose, &mut show)?
            }
            Some((_, running, _)) => {
                // The plan changed since it started (new facts): let that build end (it
                // leaves a complete environment or nothing), then build the planned one.
                let _ = running.wait(&mut |_| {});
                cx.run_script(&script, &mut show)?
            }
            None => cx.run_script(&script, &mut show)?,
        };
        drop(bar);
        for l in &trace {
            cx.reporter.trace(l);
        }
        Ok(out)
    }
}

/// Reads the build's answer: a failure with its stage, else the record of what was built.
fn take_result(cx: &mut Context, p: &PythonPlan, out: &RemoteOutput) -> Result<Applied, StepError> {
    let answer = BuildAnswer::parse(&out.stdout);
    let upgrades = p.from_lock.as_ref().is_some_and(|l| l.upgrades);
    let pins = answer.pins.clone();
    if let Some(fail) = answer.fail {
        if fail == Some(BuildStage::Match) && !pins.is_empty() {
            return Err(unmet_pins(cx, p, &pins));
        }
        return Err(failure(p, fail, &out.stdout, &answer.import_errors));
    }
    let Some(built) = answer.done.clone() else {
        return Err(failure(p, None, &out.stdout, &[]));
    };
    take_venv_facts(cx, out)?;
    let BuildAnswer { python, modules, freeze, imports, .. } = answer;
    let rec = EnvironmentRecord {
        site: cx.plan.site.clone(),
        project: cx.plan.project.clone(),
        python: python.clone(),
        venv: p.venv.clone(),
        built,
        modules,
        requirements: p.requirements.clone(),
        freeze,
        inputs_sha: p.inputs_sha.clone(),
    };
    let file = state::record(cx.env, &rec).map_err(|e| StepError::Write {
        path: state::environment_file(cx.env, &rec.site, &rec.project),
        source: e,
    })?;
    cx.reporter.trace(&format!("recorded modules and pip freeze in {}", cx.env.tilde(&file)));
    let names: Vec<&str> = imports.iter().filter_map(|i| i.split_whitespace().next()).collect();
    let mut origin = String::new();
    if let Some(l) = &p.from_lock {
        let changed = pins::changed(&pins, upgrades);
        for c in &changed {
            cx.reporter.detail(&format!("not as locked: {c}"));
        }
        origin = format!(
            " from hpcinit.lock ({}): {} of {} pinned versions exactly{}",
            l.origin_name,
            pins.len() - changed.len(),
            pins.len(),
            if changed.is_empty() { String::new() } else { format!(", {} as shown", changed.len()) }
        );
    }
    Ok(Applied::Changed(format!(
        "built {} with Python {python}{origin}{}",
        p.venv,
        if names.is_empty() { String::new() } else { format!("; imports {}", names.join(", ")) }
    )))
}

/// The build script, followed by a probe (the check after it costs no round trip).
fn build(cx: &Context, p: &PythonPlan, replace: bool) -> Script {
    let args = if replace { vec!["replace".to_string()] } else { Vec::new() };
    then_probe(cx, &p.script).and_args(args)
}

/// The build's probe, for the venv alone: other steps may have changed the cluster while a
/// build started early ran, and their facts are newer than this probe's.
fn take_venv_facts(cx: &mut Context, out: &crate::remote::RemoteOutput) -> Result<(), StepError> {
    let before = cx.facts.clone();
    take_facts(cx, out, "building the Python environment")?;
    if let (Some(mut facts), Some(newer)) = (before, cx.facts.clone()) {
        match newer.paths.get(&ProbePath::Venv) {
            Some(v) => facts.paths.insert(ProbePath::Venv, v.clone()),
            None => facts.paths.remove(&ProbePath::Venv),
        };
        facts.venv_marker = newer.venv_marker;
        cx.set_facts(facts)?;
    }
    Ok(())
}

/// The lock pins versions this site cannot provide: each, with the closest it has.
fn unmet_pins(cx: &Context, p: &PythonPlan, all: &[PinMatch]) -> StepError {
    let upgrades = p.from_lock.as_ref().is_some_and(|l| l.upgrades);
    let unmet = pins::unmet(all, upgrades);
    let site = &cx.plan.display_name;
    let origin = p.from_lock.as_ref().map(|l| (l.origin.clone(), l.origin_name.clone())).unwrap_or_default();
    let upgradable = all.iter().any(|m| m.kind == PinKind::Upgrade);
    let mut hint = format!("nothing was installed and {} was left as it was; ", p.venv);
    if upgradable && !upgrades {
        hint.push_str("--allow-upgrades installs the closest newer versions (each reported); ");
    }
    hint.push_str(&format!(
        "or pin versions both sites have in the requirements and rebuild on {} (`hpcinit --site {}`) to refresh the lock; --no-lock builds from the requirements here",
        origin.1, origin.0
    ));
    StepError::Cluster {
        what: "matching hpcinit.lock".into(),
        detail: format!(
            "{} of the {} versions pinned in hpcinit.lock (made on {}) cannot be installed on {site}:\n  {}",
            unmet.len(),
            all.len(),
            origin.1,
            unmet.join("\n  ")
        ),
        hint,
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn failure(p: &PythonPlan, stage: Option<BuildStage>, stdout: &str, import_errors: &[String]) -> StepError {
    let errors = error_lines(stdout);
    let mut detail = match stage {
        Some(BuildStage::Modules) => "the modules did not load".to_string(),
        Some(BuildStage::Create) => "the environment could not be created".to_string(),
        Some(BuildStage::Pip) => "pip could not be updated".to_string(),
        Some(BuildStage::Install) => "pip could not install the requirements".to_string(),
        Some(BuildStage::Match) => {
            "the lock's versions could not be matched against this site's pip".to_string()
        }
        Some(BuildStage::Verify) => {
            format!("the requirements installed but do not import: {}", import_errors.join("; "))
        }
        Some(BuildStage::Exists) => format!("{} exists and is not hpcinit's", p.venv),
        Some(other) => format!("the build stopped while {}", other.label()),
        None => "the build stopped without saying where".to_string(),
    };
    if !errors.is_empty() {
        detail.push_str(&format!(
            "\n  cluster said: {}",
            errors.iter().take(6).copied().collect::<Vec<_>>().join("\n  cluster said: ")
        ));
    }
    StepError::Cluster {
        what: "building the Python environment".into(),
        detail,
        hint: format!(
            "{} was left as it was (a previous environment still works); fix the requirement named above and run hpcinit again (-v shows pip's whole output)",
            p.venv
        ),
    }
}
