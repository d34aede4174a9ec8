"""SLURM's accounting, as `sacct -P` (or `-p`) prints it: a cluster's jobs as tasks.

The header names the fields (`sacct -P -o JobID,JobName,State,...`, any order; `JobID`
and `Elapsed` or `ElapsedRaw` needed). Each job allocation (`123`, an array's `123_4`, a
heterogeneous job's `123+0`) is one task; its steps (`123.batch`, `123.extern`, `123.0`)
give what sacct records on steps only:

- `wall_s`: `ElapsedRaw`, else `Elapsed` (`[DD-[HH:]]MM:SS`), whole seconds (so a short
  job's `mean_cores` may pass its CPUs by that rounding: 2.155 s of CPU in 2 s); blank,
  with its start and end, for a job that never ran (`Start` `None` or `Unknown`, or
  `NodeList` `None assigned`: cancelled while it waited);
- `cpu_time_s`: the job's `TotalCPU` (user + system of its steps), else its steps' summed;
- `peak_rss_bytes`: the largest `MaxRSS` of its steps (each step's own peak: steps that
  ran at once may have held more together); SLURM samples these every
  JobAcctGatherFrequency seconds, so a step over before its first sample has none (blank,
  as on this project's SLURM for a job of under a second);
- `read_chars`, `write_chars`: its steps' `MaxDiskRead`, `MaxDiskWrite` summed (SLURM
  counts a step's read() and write() bytes: reading /dev/zero counts, tested on the SLURM
  here), sizes with sacct's suffixes in powers of 1024 (`168396K`, `1.61M`);
- `threads_requested`: `ReqCPUS`, else `AllocCPUS`; `memory_requested_bytes`: `ReqMem`
  (`200M`; before SLURM 21.08 `4000Mc` per CPU and `4Gn` per node, multiplied out);
- `submit_time`, `start_time`, `end_time`: `Submit`, `Start`, `End` (`YYYY-MM-DDTHH:MM:SS`,
  read as UTC: sacct prints the cluster's local time without its zone; or epoch seconds,
  with `SLURM_TIME_FORMAT=%s`);
- `status`: COMPLETED succeeded; FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL,
  DEADLINE failed; CANCELLED (`CANCELLED by 1000`), PREEMPTED, REVOKED cancelled; jobs not
  ended (PENDING, RUNNING, REQUEUED, SUSPENDED, ...) are left out, their number on stderr;
- `exit_code`: `ExitCode`'s code, or minus its signal (`0:15` is -15);
- `host`: `NodeList`; `step`: `JobName`, Snakemake's `snakejob.RULE.N.sh` as RULE and
  Nextflow's `nf-NAME_(TAG)` as NAME; `app` the step's first word, lower case.

Each job is its own workflow (`workflow_id` FILE.JOBID), waiting for no other task (run.json
records no parents for it), so `genscale sim` replays the jobs as they were submitted: each
arrives at its `Submit` time and asks what it requested. A job listed twice (`sacct -D`
shows a requeued job's earlier runs) is one task per run, `attempt` counting them. The
fixed-width table sacct prints without `-P` is refused with a line saying to add it, and so
is `sacct --json` (its layout changes with SLURM's version).
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genscale.errors import UserError
from genscale.store.importers import Rows, read_text, source_stem
from genscale.store.importers.numbers import FieldReader

_DURATION = re.compile(r"^(?:(?:(\d+)-)?(\d+):)?(\d+):(\d+(?:\.\d+)?)$")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMGTP]?)")
_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}
MISSING = {"", "Unknown", "None", "None assigned", "N/A"}

STATUS = {"COMPLETED": "succeeded", "FAILED": "failed", "TIMEOUT": "failed",
          "OUT_OF_MEMORY": "failed", "NODE_FAIL": "failed", "BOOT_FAIL": "failed",
          "DEADLINE": "failed", "CANCELLED": "cancelled", "PREEMPTED": "cancelled",
          "REVOKED": "cancelled"}
NOT_ENDED = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING",
             "SUSPENDED", "SPECIAL_EXIT", "STOPPED", "SIGNALING", "STAGE_OUT", "CONFIGURING",
             "COMPLETING"}


def parse_duration_s(text: str) -> float:
    """sacct's [DD-[HH:]]MM:SS[.mmm] (TotalCPU, Elapsed) in seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a SLURM duration: {text!r}")
    days, hours, minutes, seconds = match.groups()
    return (int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes) * 60
            + float(seconds))


def parse_size_bytes(text: str) -> int | None:
    """sacct's MaxRSS such as 1234K or 1.5G (powers of 1024); None when empty (never
    sampled)."""
    text = text.strip()
    if not text:
        return None
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a SLURM size: {text!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def _duration(text: str) -> float:
    try:
        return parse_duration_s(text)
    except ValueError:
        raise ValueError("a duration such as 01:02:03 or 1-00:00:00") from None


def _size(text: str) -> int | None:
    try:
        return parse_size_bytes(text)
    except ValueError:
        raise ValueError("a size such as 168396K or 1.5G") from None


def _time(text: str) -> float:
    """sacct's `YYYY-MM-DDTHH:MM:SS`, or epoch seconds (`SLURM_TIME_FORMAT=%s`)."""
    if text.strip().isdigit():
        return float(text)
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError("a time such as 2024-05-02T10:14:03")


def _requested_memory(text: str, cpus: int | None, nodes: int | None) -> int:
    """`ReqMem` in bytes: `200M`, or before SLURM 21.08 `4000Mc` (per CPU) and `4Gn` (per
    node)."""
    per = text[-1] if text and text[-1] in "cn" else ""
    size = _size(text[:-1] if per else text)
    if size is None:
        raise ValueError("a size such as 4000M")
    return size * ((cpus or 1) if per == "c" else (nodes or 1) if per == "n" else 1)


def _step_name(job_name: str) -> str:
    """The workflow step a job ran: Snakemake's `snakejob.RULE.N.sh` gives RULE, Nextflow's
    `nf-NAME_(TAG)` gives NAME."""
    if match := re.fullmatch(r"snakejob\.(.+)\.\d+\.sh", job_name):
        return match[1]
    if job_name.startswith("nf-"):
        return re.sub(r"_\(.*\)$", "", job_name[3:])
    return job_name


def _read(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, fields by the header's names) of `sacct -P` or `-p` output."""
    lines = read_text(path).split("\n")
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise UserError(f"{path}: empty file")
    head_at, head = numbered[0]
    if "|" not in head:
        fixed = len(numbered) > 1 and set(numbered[1][1].replace(" ", "")) == {"-"}
        # sacct --json's layout changes with SLURM's data parser version; -P's does not
        raise UserError(f"{path}:{head_at}: " + (
            "sacct's fixed-width table: run sacct with -P (--parsable2) so that its fields "
            "are separated by '|'" if fixed else
            "sacct's JSON (--json) is not read: export with sacct -P -o ... instead"
            if head.lstrip().startswith("{") else
            "not sacct output: expected a '|'-separated header such as "
            "JobID|JobName|State|Elapsed (sacct -P -o ...)"))
    trailing = head.endswith("|")  # sacct -p ends every line with the separator
    header = [h.strip() for h in (head[:-1] if trailing else head).split("|")]
    if "JobID" not in header or not {"Elapsed", "ElapsedRaw"} & set(header):
        raise UserError(f"{path}:{head_at}: not sacct output: expected the fields JobID and "
                        f"Elapsed or ElapsedRaw, found {', '.join(header)[:300]}")
    rows = []
    for number, line in numbered[1:]:
        if trailing and line.endswith("|"):
            line = line[:-1]
        fields = line.split("|")
        if len(fields) != len(header):
            raise UserError(f"{path}:{number}: {len(fields)} fields where the header has "
                            f"{len(header)}")
        rows.append((number, dict(zip(header, (f.strip() for f in fields), strict=True))))
    return rows


def sacct_rows(path: Path, run_id: str) -> list[Rows]:
    """Each ended job of `sacct -P` output as a task (the module's docstring)."""
    rows = _read(path)
    workflow_id = source_stem(path)
    jobs: list[tuple[FieldReader, dict[str, Any]]] = []
    latest: dict[str, int] = {}  # a job id -> its last job row, which its steps follow
    runs: dict[str, int] = {}
    for line, values in rows:
        row = FieldReader(path, line, values, MISSING)
        job_id = values["JobID"]
        if not job_id:
            raise UserError(f"{path}:{line}: JobID: expected a job id, got ''")
        base, dot, _ = job_id.partition(".")
        if dot:
            if base not in latest:
                raise UserError(f"{path}:{line}: JobID: step {job_id!r} of no job listed "
                                "before it")
            steps = jobs[latest[base]][1]["steps"]
            steps.append(row)
            continue
        runs[base] = runs.get(base, 0) + 1
        latest[base] = len(jobs)
        jobs.append((row, {"id": base, "attempt": runs[base], "steps": []}))
    out: list[Rows] = []
    pending = 0
    for row, job in jobs:
        state_text = row.values.get("State", "COMPLETED") or "COMPLETED"
        state = state_text.split()[0].rstrip("+")
        if state in NOT_ENDED:
            pending += 1
            continue
        if state not in STATUS:
            raise UserError(f"{row.path}:{row.line}: State: expected a SLURM job state such "
                            f"as COMPLETED, FAILED or CANCELLED, got {state_text!r}")
        out.append((_task(row, job, STATUS[state], run_id, workflow_id,
                          runs[job["id"]] > 1), []))
    if pending:
        print(f"{path}: {pending} job(s) not ended yet (pending, running, requeued) left out",
              file=sys.stderr)
    return out


def _task(row: FieldReader, job: dict[str, Any], status: str, run_id: str,
          workflow_id: str, repeated: bool) -> dict[str, object]:
    steps: list[FieldReader] = job["steps"]
    # a job cancelled while it waited has Start = End and no node: it never ran
    started = row.get("Start", _time)
    ran = row.values.get("NodeList") != "None assigned" and (
        started is not None or "Start" not in row.values)
    if not ran:
        started = None
    wall = None
    if ran:
        wall = row.get("ElapsedRaw", float) if "ElapsedRaw" in row.values else None
        if wall is None:
            wall = row.get("Elapsed", _duration)
    cpu = row.get("TotalCPU", _duration) if ran else None
    if cpu is None and ran:
        step_cpus = [c for s in steps if (c := s.get("TotalCPU", _duration)) is not None]
        cpu = sum(step_cpus) if step_cpus else None

    def over_steps(column: str, combine: Any) -> int | None:
        found = [v for r in [row, *steps] if (v := r.get(column, _size)) is not None]
        return combine(found) if found else None

    code = row.values.get("ExitCode", "")
    exit_code = None
    if code:
        match = re.fullmatch(r"(\d+):(\d+)", code)
        if match is None:
            raise UserError(f"{row.path}:{row.line}: ExitCode: expected CODE:SIGNAL such as "
                            f"0:0, got {code!r}")
        exit_code = -int(match[2]) if int(match[2]) else int(match[1])
    cpus = row.get("ReqCPUS", int) or row.get("AllocCPUS", int)
    nodes = row.get("NNodes", int) or row.get("AllocNodes", int)
    memory = row.get("ReqMem", lambda t: _requested_memory(t, cpus, nodes))
    step = _step_name(row.values.get("JobName", "")) or job["id"]
    job_name = f"{workflow_id}.{job['id']}"
    task_id = job_name + (f".a{job['attempt']}" if repeated else "")
    task: dict[str, object | None] = {
        # each job is submitted on its own: its own workflow, waiting for no other task
        "run_id": run_id, "workflow_id": job_name, "workflow": "sacct-import",
        "task_id": task_id, "step": step,
        "app": re.split(r"[^A-Za-z0-9]+", step.lower())[0] or step.lower(),
        "host": row.get("NodeList", str, measured=False),
        "executor": "sacct-import", "status": status, "exit_code": exit_code,
        "submit_time": row.get("Submit", _time), "start_time": started,
        "end_time": row.get("End", _time) if ran else None,
        "wall_s": wall, "cpu_time_s": round(cpu, 3) if cpu is not None else None,
        "mean_cores": round(cpu / wall, 4) if cpu is not None and wall else None,
        "peak_rss_bytes": over_steps("MaxRSS", max),
        "read_chars": over_steps("MaxDiskRead", sum),
        "write_chars": over_steps("MaxDiskWrite", sum),
        "threads_requested": cpus, "memory_requested_bytes": memory,
        "attempt": job["attempt"],
    }
    return {**{k: ("" if v is None else v) for k, v in task.items()}, "parents": []}
