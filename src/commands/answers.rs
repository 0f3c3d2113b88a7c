//! The answers of a run, resolved in one place by one rule: a flag on the command line wins
//! over the answers file (`--answers FILE`), which wins over the course file
//! (`hpcinit-course.yaml`), which wins over what hpcinit remembered for the site after its last
//! bootstrap (username, account, project name), which wins over a question. The wizard (`wizard.rs`) asks only for what is still missing, or, in its first
//! pass in a terminal, offers each answer with these as its default. Reads the answers file
//! and hpcinit's state; writes nothing.

use crate::answers_file::AnswersFile;
use crate::cli::{Cli, SetupArgs};
use crate::env::Env;
use crate::error::Error;
use crate::local::state::{self, SiteAnswers};
use crate::profile::Profile;

/// The command line with the answers file's answers where flags left gaps (flags win).
pub fn with_file(mut cli: Cli, env: &Env) -> Result<Cli, Error> {
    let Some(path) = cli.answers.clone() else { return Ok(cli) };
    let path = if path.is_relative() { env.cwd.join(path) } else { path };
    let file = AnswersFile::read(&path)?;
    let base = path.parent().map(std::path::Path::to_path_buf).unwrap_or_else(|| env.cwd.clone());
    cli.setup = cli.setup.or(&file.setup_args(&base));
    file.fill_run(&mut cli.run);
    Ok(cli)
}

/// `args` with what was remembered for `profile`'s site where they leave gaps (after a
/// bootstrap, `--site` alone is enough), and the remembered answers themselves.
pub fn with_remembered(args: &SetupArgs, env: &Env, profile: &Profile) -> (SetupArgs, Option<SiteAnswers>) {
    let remembered = state::remembered(env, profile.name().as_str());
    let from_state = SetupArgs {
        user: remembered.as_ref().map(|r| r.user.clone()).filter(|u| !u.is_empty()),
        account: remembered.as_ref().and_then(|r| r.account.clone()),
        ..Default::default()
    };
    (args.or(&from_state), remembered)
}
