//! One function per command; each reads the world through `Env` and writes to `out`.

pub mod check_job;
pub mod plan;
pub mod profiles;
pub mod setup;
pub mod sync;

use crate::cli::Cli;
use crate::env::Env;
use crate::error::Error;
use crate::profile::ProfileSet;

/// Built-ins, the user's profile directory, then `--profile` files.
pub fn load_profiles(cli: &Cli, env: &Env) -> Result<ProfileSet, Error> {
    Ok(ProfileSet::load(Some(&env.user_profiles_dir()), &cli.profiles)?)
}
