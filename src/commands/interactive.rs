//! What `hpcinit jupyter`, `hpcinit code` and `hpcinit shell` share on this machine: the site a
//! `--stop`/`--job` means when no `--site` is given (the record of the job), which job a bare
//! `--stop` means, and the rows `--list` prints.

use crate::cli::SetupArgs;
use crate::error::Error;
use crate::local::servers::Server;

/// `setup` with the site of the one recorded job `--stop ID`/`--job ID` names (or, for a bare
/// `--stop`, of the one job recorded), where no `--site` was given.
pub fn with_recorded_site(
    setup: &SetupArgs,
    recorded: &[Server],
    stop: &Option<String>,
    job: &Option<String>,
) -> SetupArgs {
    let mut setup = setup.clone();
    let wanted = stop.as_deref().filter(|id| !id.is_empty()).or(job.as_deref());
    if setup.site.is_none() {
        let mine: Vec<&Server> = match wanted {
            Some(id) => recorded.iter().filter(|r| r.job == id).collect(),
            None if stop.is_some() => recorded.iter().collect(),
            None => Vec::new(),
        };
        if let [only] = mine.as_slice() {
            setup.site = Some(only.site.clone());
        }
    }
    setup
}

/// The job `--stop` means at `site`: the one given, or the only one recorded there. `what`
/// names the kind of session ("Jupyter server"), `cmd` the subcommand.
pub fn stop_id(
    recorded: &[Server],
    site: &str,
    stop: &Option<String>,
    cmd: &str,
    what: &str,
) -> Result<Option<String>, Error> {
    match stop {
        None => Ok(None),
        Some(id) if !id.is_empty() => Ok(Some(id.clone())),
        Some(_) => {
            let here: Vec<&Server> = recorded.iter().filter(|r| r.site == site).collect();
            match here.as_slice() {
                [only] => Ok(Some(only.job.clone())),
                [] => Err(Error::Usage {
                    message: format!("no {what} of hpcinit's is recorded for {site} on this machine"),
                    hint: format!("give the job's ID: `hpcinit {cmd} --stop ID` (squeue -u $USER shows it)"),
                }),
                many => {
                    let ids: Vec<&str> = many.iter().map(|r| r.job.as_str()).collect();
                    Err(Error::Usage {
                        message: format!("several {what}s are recorded for {site}: {}", ids.join(", ")),
                        hint: format!("say which: `hpcinit {cmd} --stop ID`"),
                    })
                }
            }
        }
    }
}

/// One `--list` row per record: site, job, project, node, time left, kept or not, and the state
/// asked of the cluster where it was.
pub fn rows(recorded: &[Server], states: Vec<Option<String>>) -> Vec<String> {
    let now = crate::exec::interactive_now();
    recorded
        .iter()
        .zip(states)
        .map(|(r, state)| {
            let end = r.submitted + u64::from(r.minutes) * 60;
            let left = if end > now {
                format!("at most {} min left", (end - now) / 60)
            } else {
                "past its time limit".into()
            };
            format!(
                "{:<10} job {:<10} {:<16} {}{}{}{}",
                r.site,
                r.job,
                r.project,
                r.node
                    .as_deref()
                    .filter(|_| r.kind != "jupyter")
                    .map(|n| format!("{n}, "))
                    .unwrap_or_default(),
                left,
                if r.persist { ", kept (--persist)" } else { "" },
                state.map(|st| format!(": {st}")).unwrap_or_default()
            )
        })
        .collect()
}
