//! The scheduler layer's remote half: `scheduler.sh`'s functions (submit, job id, state,
//! where, cancel, final state) for Slurm and LSF, sent before every script that allocates.

pub const SCHEDULER_SH: &str = include_str!("scheduler.sh");
