//! Job directives from two sources made one list: the profile's, then the course's, where a
//! course value replaces the profile's directive of the same kind instead of repeating it.
//! Repeating is not always harmless: Slurm refuses `--mem` beside `--mem-per-cpu` ("--mem,
//! --mem-per-cpu, and --mem-per-gpu are mutually exclusive"), and LSF's memory is a `-R
//! "rusage[mem=…]"` reservation and a `-M` limit that belong together. Pure.

use crate::profile::raw::SchedulerKind;

/// What a directive sets, where two directives setting it cannot both stand; `None` for one
/// that may repeat (LSF's `-R "span[…]"`, for instance).
fn sets(kind: SchedulerKind, d: &str) -> Option<&'static str> {
    let d = d.trim();
    match kind {
        SchedulerKind::Slurm => {
            let name = d.split(['=', ' ']).next().unwrap_or(d);
            Some(match name {
                "--mem" | "--mem-per-cpu" | "--mem-per-gpu" => "memory",
                "--time" | "-t" => "time",
                "--partition" | "-p" => "partition",
                "--reservation" => "reservation",
                "--cpus-per-task" | "-c" => "cpus",
                "--gpus" | "-G" | "--gres" => "gpus",
                "--qos" | "-q" => "qos",
                _ => return None,
            })
        }
        SchedulerKind::Lsf => {
            if d.starts_with("-M ") || (d.starts_with("-R ") && d.contains("rusage[mem=")) {
                return Some("memory");
            }
            Some(match d.split(' ').next().unwrap_or(d) {
                "-W" => "time",
                "-q" => "queue",
                "-U" => "reservation",
                "-n" => "cpus",
                "-gpu" => "gpus",
                _ => return None,
            })
        }
    }
}

/// The profile's directives, less those the course's set again, then the course's.
pub fn merged<'a>(
    kind: SchedulerKind,
    profile: impl IntoIterator<Item = &'a str>,
    course: &[String],
) -> Vec<String> {
    let replaced: Vec<&str> = course.iter().filter_map(|d| sets(kind, d)).collect();
    profile
        .into_iter()
        .filter(|d| sets(kind, d).is_none_or(|what| !replaced.contains(&what)))
        .map(str::to_string)
        .chain(course.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn a_course_memory_replaces_the_profiles_kind_of_memory() {
        // Saga's profile asks memory per CPU; a course's `memory` is the job's (`--mem`).
        let m = merged(
            SchedulerKind::Slurm,
            ["--mem-per-cpu=4G", "--ntasks=1"],
            &s(&["--time=01:00:00", "--reservation=inf1234", "--mem=8G"]),
        );
        assert_eq!(m, s(&["--ntasks=1", "--time=01:00:00", "--reservation=inf1234", "--mem=8G"]));
    }

    #[test]
    fn without_a_course_the_profiles_stand() {
        let p = ["--mem-per-cpu=4G", "--ntasks=1"];
        assert_eq!(merged(SchedulerKind::Slurm, p, &[]), s(&p));
    }

    #[test]
    fn lsf_memory_is_the_reservation_and_the_limit_together() {
        let m = merged(
            SchedulerKind::Lsf,
            ["-q hpc", "-n 1", "-R \"span[hosts=1]\"", "-R \"rusage[mem=4GB]\"", "-M 5GB"],
            &s(&["-W 1:00", "-n 2", "-R \"rusage[mem=2048MB]\"", "-M 2048MB"]),
        );
        assert_eq!(
            m,
            s(&[
                "-q hpc",
                "-R \"span[hosts=1]\"",
                "-W 1:00",
                "-n 2",
                "-R \"rusage[mem=2048MB]\"",
                "-M 2048MB"
            ])
        );
    }
}
