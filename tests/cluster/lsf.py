#!/usr/bin/env python3
"""A STAND-IN for IBM Spectrum LSF 10.1's user commands on hpcinit's test cluster.

LSF cannot run here (it is licensed software), so `bsub`, `bjobs`, `bkill` and `bqueues` are
this one file, installed by tests/cluster/up.sh as symbolic links under $D/lsf/bin, and each job
runs for real as a job of the test cluster's Slurm on its compute node. What a person and
hpcinit see is what LSF 10.1's documentation shows:

  - bsub reads the job script on standard input (`bsub < job.sh`) or takes a command, with
    `#BSUB` lines read up to the first command line; options on the command line win.
    It answers `Job <ID> is submitted to queue <Q>.` (`default queue` when none was asked for),
    or `Q: No such queue. Job not submitted.` with exit 255.
    https://www.ibm.com/docs/en/spectrum-lsf/10.1.0?topic=reference-bsub
  - -o/-e (%J is the job id, %I the array index, 0): without -e, standard error goes to the -o
    file; without -o the output is mailed. With LSB_STDOUT_DIRECT unset (the documented
    default) the output goes to a temporary file and is copied to the -o file after the job
    finishes, after LSF's job report; if the file cannot be written (its directory is missing)
    "the output will not be stored" and is "sent by mail": here the mail is appended to
    $D/lsf/mail/USER. https://www.ibm.com/docs/en/SSWRJV_10.1.0/lsf_command_ref/bsub.o.1.html
  - bjobs -noheader -o "FIELD ... [delimiter='c']" ID, fields of unlimited width separated by a
    space unless a delimiter is given, `-` for an empty value; states PEND, RUN, DONE, EXIT;
    finished jobs stay visible for CLEAN_PERIOD (3600 s), then `Job <ID> is not found`, exit 255.
    https://www.ibm.com/docs/en/SSWRJV_10.1.0/lsf_command_ref/bjobs.o.1.html
  - bkill ID: `Job <ID> is being terminated`; a finished job: `Job <ID>: Job has already
    finished`; an unknown one: `Job <ID>: No matching job found` (exit 255).
  - bqueues: the queues and their state.

Queues (DTU's names) map onto Slurm partitions: hpc, gpuv100, gpua10 -> debug; held -> held
(a queue that accepts jobs and never dispatches them: pending reason "The queue is inactivated
by the administrator"). The job's environment gets LSF's variables (LSB_JOBID, LSB_JOBNAME,
LSB_QUEUE, LSB_DJOB_NUMPROC, LSB_HOSTS, LSB_MCPU_HOSTS) and loses Slurm's.
What it does not do: job arrays, -I interactive jobs, -M enforcement (the limit is recorded
only), GPUs, and messages whose wording the documentation does not give are the stand-in's own.
"""

import json
import os
import pwd
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))
D = os.path.dirname(HERE)
SLURM_CONF = os.path.join(D, "slurm", "slurm.conf")
CLUSTER = "hpcinit-test"
QUEUES = {"hpc": "debug", "gpuv100": "debug", "gpua10": "debug", "held": "held"}
DEFAULT_QUEUE = "hpc"
CLEAN_PERIOD = 3600
WITH_ARG = {"-J", "-q", "-n", "-W", "-R", "-M", "-o", "-oo", "-e", "-eo", "-P", "-cwd", "-u", "-G", "-gpu", "-app"}
FLAGS = {"-N", "-x", "-B", "-r", "-rn", "-H"}


def user():
    return pwd.getpwuid(os.getuid()).pw_name


def spool():
    d = os.path.join(os.path.expanduser("~"), ".lsbatch")
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def conf(key):
    """A parameter of the stand-in's lsf.conf ($LSF_ENVDIR/lsf.conf), or the environment's."""
    if key in os.environ:
        return os.environ[key]
    path = os.path.join(os.environ.get("LSF_ENVDIR", os.path.join(HERE, "conf")), "lsf.conf")
    try:
        for line in open(path):
            k, _, v = line.strip().partition("=")
            if k == key:
                return v.strip().strip('"')
    except OSError:
        pass
    return ""


def slurm(*args, stdin=None):
    env = dict(os.environ, SLURM_CONF=SLURM_CONF)
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, env=env)


def fail(msg, code=255):
    print(msg, file=sys.stderr)
    sys.exit(code)


# --- bsub ---------------------------------------------------------------------------------------


def parse_options(words, opts, where):
    """Options from `words` into `opts` (a dict; -R accumulates); returns the rest (the command)."""
    i = 0
    while i < len(words):
        w = words[i]
        if w in WITH_ARG:
            if i + 1 >= len(words):
                fail(f"{w}: option requires an argument. Job not submitted.")
            if w == "-R":
                opts.setdefault("-R", []).append(words[i + 1])
            else:
                opts[w] = words[i + 1]
            i += 2
        elif w in FLAGS:
            opts[w] = True
            i += 1
        elif w.startswith("-") and where == "command line":
            fail(f"bsub: illegal option -- {w.lstrip('-')}\n(the hpcinit LSF stand-in knows {' '.join(sorted(WITH_ARG | FLAGS))})")
        elif w.startswith("-"):
            fail(f"{where}: {w}: Illegal option. Job not submitted.")
        else:
            return words[i:]
    return []


def directives(script):
    """The `#BSUB` lines' words, read until the first command line."""
    words = []
    for line in script.splitlines():
        s = line.strip()
        if not s or (s.startswith("#") and not s.startswith("#BSUB")):
            continue
        if not s.startswith("#BSUB"):
            break
        try:
            words += shlex.split(s[len("#BSUB"):], comments=False)
        except ValueError as e:
            fail(f"#BSUB line `{s}`: {e}. Job not submitted.")
    return words


def minutes(spec):
    m = re.fullmatch(r"(?:(\d+):)?(\d+)", spec)
    if not m:
        fail(f"{spec}: Bad RUNLIMIT specification. Job not submitted.")
    return int(m.group(1) or 0) * 60 + int(m.group(2))


def megabytes(spec):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)B?", spec.strip(), re.I)
    if not m:
        fail(f"{spec}: Bad memory specification. Job not submitted.")
    n, unit = float(m.group(1)), m.group(2).upper()
    return max(1, int(n * {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}[unit]))


def bsub(argv):
    opts = {}
    command = parse_options(argv, opts, "command line")
    if command:
        script = "#!/bin/sh\n" + " ".join(shlex.quote(c) for c in command) + "\n"
    else:
        if sys.stdin.isatty():
            fail("bsub> the hpcinit LSF stand-in takes the job on standard input (bsub < job.sh)")
        script = sys.stdin.read()
    from_script = {}
    parse_options(directives(script), from_script, "#BSUB")
    for k, v in from_script.items():
        if k == "-R":
            opts["-R"] = v + opts.get("-R", [])
        else:
            opts.setdefault(k, v)

    queue = opts.get("-q", "")
    if queue and queue not in QUEUES:
        fail(f"{queue}: No such queue. Job not submitted.")
    slots = int(opts.get("-n", "1"))
    mem_per_slot = None
    span_one = False
    for r in opts.get("-R", []):
        m = re.search(r"rusage\[mem=([^\],:]+)", r)
        if m:
            mem_per_slot = megabytes(m.group(1))
        if re.search(r"span\[hosts=1\]", r):
            span_one = True
    cwd = os.path.expanduser(opts.get("-cwd", os.getcwd()))
    name = opts.get("-J", command[0] if command else "STDIN")
    job = {
        "name": name,
        "queue": queue or DEFAULT_QUEUE,
        "user": user(),
        "from_host": socket.gethostname(),
        "submit_time": time.time(),
        "cwd": cwd,
        "slots": slots,
        "out": opts.get("-o") or opts.get("-oo"),
        "out_overwrite": "-oo" in opts,
        "err": opts.get("-e") or opts.get("-eo"),
        "err_overwrite": "-eo" in opts,
        "project": opts.get("-P", "default"),
        "memlimit_mb": megabytes(opts["-M"]) if "-M" in opts else None,
        "report": "-N" not in opts,
        "direct": conf("LSB_STDOUT_DIRECT").lower() == "y",
    }
    base = os.path.join(spool(), f"{int(time.time() * 1000)}.{os.getpid()}")
    with open(base + ".script", "w") as f:
        f.write(script)
    os.chmod(base + ".script", 0o700)
    job["script"] = base + ".script"
    with open(base + ".job.json", "w") as f:
        json.dump(job, f)
    args = [
        "sbatch", "--parsable", "--job-name", name, "--partition", QUEUES[job["queue"]],
        "--ntasks", str(slots), "--time", str(minutes(opts.get("-W", "15"))),
        "--output", base + ".slurm.out", "--chdir", cwd if os.path.isdir(cwd) else "/tmp",
        "--export", "ALL",
    ]
    if span_one:
        args += ["--nodes", "1"]
    if mem_per_slot:
        args += ["--mem-per-cpu", f"{mem_per_slot}M"]
    runner = f"#!/bin/sh\nexec /usr/bin/python3 {shlex.quote(os.path.realpath(__file__))} _run {shlex.quote(base)}\n"
    r = slurm(*args, stdin=runner)
    if r.returncode != 0:
        fail(f"{r.stderr.strip()}. Job not submitted.")
    jobid = r.stdout.strip().split(";")[0]
    os.symlink(os.path.basename(base), os.path.join(spool(), f"job.{jobid}"))
    where = f"queue <{queue}>" if queue else f"default queue <{DEFAULT_QUEUE}>"
    print(f"Job <{jobid}> is submitted to {where}.")


# --- the job itself, as a Slurm batch job -------------------------------------------------------


def expand(path, jobid, cwd):
    p = path.replace("%J", jobid).replace("%I", "0")
    return p if os.path.isabs(p) else os.path.join(cwd, p)


def mail(job, subject, body):
    box = os.path.join(D, "lsf", "mail", job["user"])
    with open(box, "a") as f:
        f.write(f"From lsfadmin {time.ctime()}\nSubject: {subject}\n\n{body}\n")


def run(base):
    job = json.load(open(base + ".job.json"))
    jobid = os.environ["SLURM_JOB_ID"]
    host = socket.gethostname()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(
        LSB_JOBID=jobid, LSB_JOBNAME=job["name"], LSB_QUEUE=job["queue"], LSB_JOBINDEX="0",
        LSB_DJOB_NUMPROC=str(job["slots"]), LSB_MAX_NUM_PROCESSORS=str(job["slots"]),
        LSB_HOSTS=" ".join([host] * job["slots"]), LSB_MCPU_HOSTS=f"{host} {job['slots']}",
        LSB_SUB_HOST=job["from_host"], LSB_JOBFILENAME=job["script"],
    )
    cwd = job["cwd"] if os.path.isdir(job["cwd"]) else "/tmp"
    out_path = expand(job["out"], jobid, cwd) if job["out"] else None
    err_path = expand(job["err"], jobid, cwd) if job["err"] else None
    direct = job["direct"] and out_path
    tmp_out, tmp_err = base + ".out", base + ".err"
    try:
        out = open(out_path, "w" if job["out_overwrite"] else "a") if direct else open(tmp_out, "w")
    except OSError:
        out = open(tmp_out, "w")
        direct = False
    err = out if not err_path else open(tmp_err, "w")
    started = time.time()
    with open(job["script"]) as f:
        first = f.readline()
    cmd = [job["script"]] if first.startswith("#!") else ["/bin/sh", job["script"]]
    child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)
    killed = []

    def on_term(sig, _frame):
        killed.append(sig)
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    while True:
        try:
            rc = child.wait()
            break
        except InterruptedError:
            continue
    for f in {out, err}:
        f.close()
    ended = time.time()
    if killed:
        verdict, stat = "TERM_OWNER: job killed by owner.\nExited with signal termination: Terminated.", "EXIT"
        rc = 128 + signal.SIGTERM
    elif rc == 0:
        verdict, stat = "Successfully completed.", "DONE"
    else:
        verdict, stat = f"Exited with exit code {rc if rc > 0 else 128 - rc}.", "EXIT"
    subject = f"Job {jobid}: <{job['name']}> in cluster <{CLUSTER}> {'Done' if stat == 'DONE' else 'Exited'}"
    report = "\n".join([
        f"Sender: LSF System <lsfadmin@{host}>",
        f"Subject: {subject}",
        "",
        f"Job <{job['name']}> was submitted from host <{job['from_host']}> by user <{job['user']}> in cluster <{CLUSTER}> at {time.ctime(job['submit_time'])}",
        f"Job was executed on host(s) <{host}>, in queue <{job['queue']}>, as user <{job['user']}> in cluster <{CLUSTER}> at {time.ctime(started)}",
        f"<{os.path.expanduser('~')}> was used as the home directory.",
        f"<{cwd}> was used as the working directory.",
        f"Started at {time.ctime(started)}",
        f"Terminated at {time.ctime(ended)}",
        f"Results reported at {time.ctime(ended)}",
        "",
        "Your job looked like:",
        "",
        "-" * 60,
        "# LSBATCH: User input",
        open(job["script"]).read().rstrip("\n"),
        "-" * 60,
        "",
        verdict,
        "",
        "Resource usage summary:",
        "",
        f"    Run time :                                   {int(ended - started)} sec.",
        "",
        "The output (if any) follows:",
        "",
    ])
    if direct:
        body = report + "\n(the output was written directly to the output file)\n"
    else:
        body = report + "\n" + open(tmp_out).read()
    if err_path:
        body += f"\n\nPS:\n\nRead file <{err_path}> for stderr output of this job.\n\n"
    stored = False
    if direct:
        stored = True
    elif out_path:
        try:
            with open(out_path, "w" if job["out_overwrite"] else "a") as f:
                f.write(body if job["report"] else open(tmp_out).read())
            stored = True
        except OSError:
            stored = False
    if not stored:
        mail(job, subject, body)
    if err_path:
        try:
            with open(err_path, "w" if job["err_overwrite"] else "a") as f:
                f.write(open(tmp_err).read())
        except OSError:
            mail(job, subject + " (standard error)", open(tmp_err).read())
    final = {"stat": stat, "exit_code": rc, "host": host, "start": started, "end": ended}
    with open(base + ".final.json.tmp", "w") as f:
        json.dump(final, f)
    os.rename(base + ".final.json.tmp", base + ".final.json")
    for p in (tmp_out, tmp_err):
        if os.path.exists(p):
            os.remove(p)
    sys.exit(rc if 0 <= rc < 256 else 1)


# --- bjobs --------------------------------------------------------------------------------------

SLURM_STATE = {"PENDING": "PEND", "CONFIGURING": "PEND", "RUNNING": "RUN", "COMPLETING": "RUN",
               "SUSPENDED": "USUSP", "COMPLETED": "DONE"}
REASONS = {"PartitionDown": "The queue is inactivated by the administrator",
           "PartitionInactive": "The queue is inactivated by the administrator",
           "Resources": "Not enough job slot(s)"}


def job_of(jobid):
    """What LSF would know of the job: its submission, Slurm's view, the final record."""
    link = os.path.join(spool(), f"job.{jobid}")
    if not os.path.islink(link):
        return None
    base = os.path.join(spool(), os.readlink(link))
    job = json.load(open(base + ".job.json"))
    job["jobid"] = jobid
    final = None
    if os.path.exists(base + ".final.json"):
        final = json.load(open(base + ".final.json"))
    r = slurm("scontrol", "show", "job", "-o", jobid)
    s = dict(re.findall(r"(\w+)=(\S*)", r.stdout)) if r.returncode == 0 else {}
    state = s.get("JobState", "")
    if final and state in ("", "COMPLETED", "FAILED", "COMPLETING"):
        if time.time() - final["end"] > CLEAN_PERIOD:
            return None
        job.update(stat=final["stat"], exit_code=final["exit_code"], exec_host=final["host"],
                   start_time=final["start"], finish_time=final["end"], pend_reason="")
        return job
    if not s:
        return None
    stat = SLURM_STATE.get(state, "EXIT")
    job["stat"] = stat
    job["pend_reason"] = REASONS.get(s.get("Reason", ""), "New job is waiting for scheduling") if stat == "PEND" else ""
    nodes = s.get("NodeList", "")
    job["exec_host"] = "" if stat == "PEND" or nodes in ("", "(null)") else (
        nodes if job["slots"] == 1 else f"{job['slots']}*{nodes}")
    job["exit_code"] = "" if stat != "EXIT" else s.get("ExitCode", "0:0").split(":")[0]
    job["start_time"] = None
    job["finish_time"] = None
    return job


def field(job, name):
    v = {
        "jobid": job["jobid"], "id": job["jobid"], "stat": job["stat"], "user": job["user"],
        "queue": job["queue"], "job_name": job["name"], "name": job["name"],
        "from_host": job["from_host"], "exec_host": job.get("exec_host", ""),
        "pend_reason": job.get("pend_reason", ""), "exit_code": job.get("exit_code", ""),
        "submit_time": time.strftime("%b %d %H:%M", time.localtime(job["submit_time"])),
        "estimated_sim_start_time": "", "project": job["project"], "slots": job["slots"],
        "nalloc_slot": job["slots"],
    }
    if name not in v:
        fail(f"{name}: Illegal field name")
    s = "" if v[name] is None else str(v[name])
    if name == "exit_code" and job["stat"] == "DONE":
        s = ""
    return s or "-"


def bjobs(argv):
    fmt, ids, header, who, show_all = None, [], True, user(), False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-o":
            fmt = argv[i + 1]
            i += 2
        elif a == "-noheader":
            header = False
            i += 1
        elif a == "-u":
            who = argv[i + 1]
            i += 2
        elif a in ("-a", "-d"):
            show_all = True
            i += 1
        elif a.startswith("-"):
            fail(f"bjobs: the hpcinit LSF stand-in does not know {a}")
        else:
            ids.append(a)
            i += 1
    delim = " "
    fields = ["jobid", "user", "stat", "queue", "from_host", "exec_host", "job_name", "submit_time"]
    if fmt:
        m = re.search(r"delimiter='(.)'", fmt)
        if m:
            delim = m.group(1)
            fmt = fmt[: m.start()] + fmt[m.end():]
        fields = [f.split(":")[0].lower() for f in fmt.split()]
    jobs, missing = [], []
    if ids:
        for j in ids:
            job = job_of(j)
            (jobs if job else missing).append(job or j)
    else:
        for n in sorted(os.listdir(spool())):
            if n.startswith("job."):
                job = job_of(n[4:])
                if job and job["user"] == who and (show_all or job["stat"] not in ("DONE", "EXIT")):
                    jobs.append(job)
    if header and jobs:
        print(delim.join(f.upper() for f in fields))
    for job in jobs:
        print(delim.join(field(job, f) for f in fields))
    for j in missing:
        print(f"Job <{j}> is not found", file=sys.stderr)
    if not ids and not jobs:
        print("No unfinished job found", file=sys.stderr)
    sys.exit(255 if missing else 0)


# --- bkill, bqueues -----------------------------------------------------------------------------


def bkill(argv):
    rc = 0
    for j in [a for a in argv if not a.startswith("-")]:
        job = job_of(j)
        if job is None:
            print(f"Job <{j}>: No matching job found", file=sys.stderr)
            rc = 255
        elif job["stat"] in ("DONE", "EXIT"):
            print(f"Job <{j}>: Job has already finished", file=sys.stderr)
            rc = 255
        else:
            slurm("scancel", j)
            print(f"Job <{j}> is being terminated")
    sys.exit(rc)


def bqueues(argv):
    r = slurm("sinfo", "-h", "-o", "%P %a")
    up = {p.rstrip("*"): a for p, a in (line.split() for line in r.stdout.splitlines() if line.strip())}
    print(f"{'QUEUE_NAME':<15} {'PRIO':>4} {'STATUS':<15} {'MAX':>4} {'JL/U':>4} {'JL/P':>4} {'JL/H':>4} {'NJOBS':>5} {'PEND':>5} {'RUN':>5} {'SUSP':>5}")
    for q, p in QUEUES.items():
        if argv and q not in argv:
            continue
        status = "Open:Active" if up.get(p) == "up" else "Open:Inact"
        print(f"{q:<15} {30:>4} {status:<15} {'-':>4} {'-':>4} {'-':>4} {'-':>4} {0:>5} {0:>5} {0:>5} {0:>5}")


def main():
    cmd = os.path.basename(sys.argv[0])
    if len(sys.argv) > 2 and sys.argv[1] == "_run":
        return run(sys.argv[2])
    {"bsub": bsub, "bjobs": bjobs, "bkill": bkill, "bqueues": bqueues}.get(
        cmd, lambda _a: fail(f"lsf.py: run as bsub, bjobs, bkill or bqueues, not {cmd}", 2)
    )(sys.argv[1:])


if __name__ == "__main__":
    main()
