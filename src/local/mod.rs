//! Files on the person's machine: the SSH key, hpcinit's ssh config file and the one line in
//! `~/.ssh/config`, hpcinit's known_hosts file, its state directory, and `hpcinit.lock` in the
//! project. Every write is atomic; nothing outside hpcinit's own files changes except that one
//! line.

pub mod atomic;
pub mod control_dir;
pub mod git;
pub mod host;
pub mod include;
pub mod key;
pub mod known_hosts;
pub mod lock;
pub mod manifest;
pub mod project;
mod project_error;
pub mod requirements;
pub mod run_lock;
pub mod servers;
pub mod state;
pub mod sync_index;
pub mod user_config;
pub mod vscode;
pub mod wsl;
