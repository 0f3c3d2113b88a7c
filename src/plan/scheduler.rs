//! The scheduler layer's remote half: `scheduler.sh`'s functions (submit, job id, state,
//! where, cancel, final state) for Slurm and LSF, sent before every script that allocates.

pub const SCHEDULER_SH: &str = include_str!("scheduler.sh");

#[cfg(test)]
mod tests {
    use super::SCHEDULER_SH;

    /// `hpcinit_job_where` and friends in a real bash, the scheduler's commands stood in for by
    /// functions printing what Slurm's and LSF 10.1's documentation shows.
    fn run(stubs: &str, call: &str) -> String {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{SCHEDULER_SH}\n{stubs}\n{call}"))
            .output()
            .expect("bash runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    #[cfg_attr(windows, ignore = "runs bash")]
    fn slurm_answers_become_state_reason_estimate_and_node() {
        let pending =
            run("squeue() { echo 'PENDING|Priority|2099-01-01T00:00:00|'; }", "hpcinit_job_where slurm 42");
        let f: Vec<&str> = pending.trim().split('|').collect();
        assert_eq!((f[0], f[1], f[3]), ("PENDING", "Priority", "-"), "{pending}");
        assert!(f[2].parse::<i64>().unwrap() > 1_000_000, "seconds until the estimate: {pending}");
        let running = run("squeue() { echo 'RUNNING|None|N/A|c1-5'; }", "hpcinit_job_where slurm 42");
        assert_eq!(running, "RUNNING|None|-|c1-5\n");
        assert_eq!(run("squeue() { :; }", "hpcinit_job_where slurm 42"), "", "ended: nothing");
        let id = run("", "hpcinit_job_id slurm '1234;cluster'");
        assert_eq!(id, "1234\n");
    }

    #[test]
    #[cfg_attr(windows, ignore = "runs bash")]
    fn lsf_answers_become_the_same_fields() {
        let id = run("", "hpcinit_job_id lsf 'Job <123> is submitted to queue <hpc>.'");
        assert_eq!(id, "123\n");
        let running = run("bjobs() { echo 'RUN|-|-|4*n-62-12-3:2*n-62-12-4'; }", "hpcinit_job_where lsf 123");
        assert_eq!(running, "RUN|-|-|n-62-12-3\n");
        let done = run("bjobs() { echo 'DONE|-|-|n-62-12-3'; }", "hpcinit_job_where lsf 123");
        assert_eq!(done, "", "a finished job has ended");
        // An LSF without the estimate field: asked again without it.
        let older = run(
            "bjobs() { case \"$3\" in *estimated*) return 255 ;; esac; echo 'PEND|Job slot limit reached|'; }",
            "hpcinit_job_where lsf 123",
        );
        assert_eq!(older, "PEND|Job slot limit reached|-|-\n");
    }
}
