"""Monitor accuracy: GenScale against pidstat at 1 s (the prototype's sidecar) and a psutil
tree poller at 1 s (Snakemake's benchmark directive), on workloads whose truth is known.

Every tool measures every workload in this one run. The truth is the kernel's: the CPU of
all the workload's processes as this process reaps them (getrusage of children), the
memory high-water mark the spiking process reads from its own /proc/self/status, and the
bytes written by construction (512 MiB, fsync'd).

- pidstat runs as the prototype ran it, inside the workload's "pod": a PID namespace of its
  own (`unshare --pid --mount-proc`), `pidstat -h -u -t -d -r 1`, its log read by
  `genscale import pidstat` (processes summed, threads once, pidstat itself left out).
- the psutil poller walks the tree every 1 s and keeps each process's last seen counters,
  as Snakemake's benchmark does.
- GenScale runs as `genscale run` does: launcher, per-task cgroup, 1 s sampling.

Then the monitor's own CPU: the sampler thread's CPU time over a 10 s, 6-process task, at
1 s and 0.1 s.

    .venv/bin/python benchmarks/monitor_accuracy.py
"""

from __future__ import annotations

import os
import random
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from genscale.data.synth import SynthOptions, synthesize
from genscale.monitor.process import run_monitored
from genscale.monitor.session import MonitorSession
from genscale.store.importers.pidstat import to_rows
from genscale.store.rundir import RunDirectory

MIB = 2**20
PY = sys.executable
PHASE = random.Random(7)  # seeded, so a rerun draws the same phases


@dataclass
class Measured:
    cpu_s: float
    peak_rss_bytes: float
    write_bytes: float


@dataclass
class Truth:
    cpu_s: float
    peak_rss_bytes: float | None = None
    write_bytes: float | None = None


def reaped_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


SPIKE_TRIALS = 5  # whether a 1 s sampler catches a 300 ms spike is luck: average it


def workloads(work: Path) -> dict[str, tuple[str, Callable[[], Truth]]]:
    """name -> (bash script, how to read its non-CPU truth afterwards)."""
    data = synthesize(SynthOptions(genome_bases=1_000_000, pairs=100_000, seed=5),
                      work / "data")
    ref = work / "ref.fa"
    shutil.copy(data.file("reference"), ref)
    subprocess.run(["bwa", "index", str(ref)], check=True, capture_output=True)
    hwm = work / "vmhwm.txt"
    spike = (f"{PY} -c 'import time\nb=bytearray(2**30)\nb[::4096]=b\"x\"*len(b[::4096])\n"
             f"time.sleep(0.3)\ndel b\ntime.sleep(1.6)\n"
             f"open(\"{hwm}\",\"w\").write([l for l in open(\"/proc/self/status\") "
             f"if l.startswith(\"VmHWM\")][0].split()[1])'")
    bursts = (f"{PY} -c 'import hashlib, threading, time\nb=bytes(8*2**20)\n"
              "def w():\n t=time.time()\n while time.time()-t<0.15: hashlib.sha256(b)\n"
              "for _ in range(8):\n ts=[threading.Thread(target=w) for _ in range(8)]\n"
              " [t.start() for t in ts]; [t.join() for t in ts]; time.sleep(0.3)'")
    written = work / "written.bin"
    return {
        "bwa mem piped into samtools view": (
            f"bwa mem -t 2 {ref} {data.file('reads_1')} {data.file('reads_2')} 2>/dev/null"
            f" | samtools view -b -o {work}/out.bam -", lambda: Truth(0.0)),
        "200 children of ~20 ms": (
            "for i in $(seq 200); do /bin/sh -c 'x=0; while [ $x -lt 2500 ]; do "
            "x=$((x+1)); done'; done", lambda: Truth(0.0)),
        f"300 ms spike to 1 GiB (mean of {SPIKE_TRIALS} runs)": (
            spike, lambda: Truth(0.0, float(hwm.read_text()) * 1024)),
        "many-threaded CPU bursts": (bursts, lambda: Truth(0.0)),
        "512 MiB written with fsync": (
            f"dd if=/dev/zero of={written} bs=1M count=512 conv=fsync status=none; "
            f"rm -f {written}", lambda: Truth(0.0, None, 512 * MIB)),
    }


def with_genscale(script: str, work: Path, interval_s: float = 1.0) -> tuple[Measured, float]:
    """(measurement, sampler CPU seconds)."""
    out = Path(tempfile.mkdtemp(dir=work))
    run = RunDirectory.create(out / "run")
    session = MonitorSession(run, "bench", interval_s, cgroups=True)
    with session:
        totals = run_monitored(["/bin/bash", "-c", script], sampler=session.sampler,
                               run_id="bench", task_id="w", app="w", cwd=work,
                               stdout_path=out / "o", stderr_path=out / "e",
                               cgroup=session.task_cgroup("w"))
    return (Measured(totals.cpu_time_s, totals.peak_rss_bytes, totals.write_bytes),
            session.sampler.busy_s)


def with_pidstat(script: str, work: Path) -> tuple[Measured, float]:
    """(measurement, pidstat's own CPU seconds, to take out of the truth)."""
    log = Path(tempfile.mkstemp(dir=work, suffix=".pidstat")[1])
    # a sidecar's reports fall at any phase of the workload: start it at a random one
    pod = (f"pidstat -h -u -t -d -r 1 > {log} & P=$!; sleep {PHASE.uniform(0.1, 1.1):.3f}; "
           f"bash -c {shlex.quote(script)}; sleep 1.1; kill -INT $P; wait $P")
    subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "bash", "-c", pod],
                   check=True)
    task, _ = to_rows(log, "pidstat", exclude=frozenset({"pidstat"}))
    own, _ = to_rows(log, "pidstat-only", exclude=frozenset(_commands(log) - {"pidstat"}))
    return (Measured(float(str(task["cpu_time_s"])), float(str(task["peak_rss_bytes"])),
                     float(str(task["write_bytes"]))), float(str(own["cpu_time_s"])))


def _commands(log: Path) -> set[str]:
    names = set()
    for line in log.read_text().splitlines():
        if line[:2].strip().isdigit():
            names.add(line.split()[-1].removeprefix("|__"))
    return names


def with_psutil(script: str, interval_s: float = 1.0) -> Measured:
    """Snakemake's way: poll the tree, keep each process's last seen counters."""
    proc = subprocess.Popen(["/bin/bash", "-c", script])
    root = psutil.Process(proc.pid)
    last: dict[int, tuple[float, int]] = {}  # pid -> (cpu s, write bytes)
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            rss = 0
            for p in procs:
                try:
                    with p.oneshot():
                        t = p.cpu_times()
                        rss += p.memory_info().rss
                        last[p.pid] = (t.user + t.system, p.io_counters().write_bytes)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            peak = max(peak, rss)
            done.wait(interval_s)

    poller = threading.Thread(target=poll)
    done.wait(PHASE.uniform(0.0, interval_s))  # polls fall at any phase of the workload
    poller.start()
    proc.wait()
    done.set()
    poller.join()
    return Measured(sum(c for c, _ in last.values()), peak, sum(w for _, w in last.values()))


TOOLS = ("genscale", "pidstat", "psutil")


def measure(tool: str, script: str, work: Path,
            truth_of: Callable[[], Truth]) -> tuple[Measured, Truth]:
    """One tool on one run of the workload, and that run's truth."""
    before = reaped_cpu_s()
    own = 0.0
    if tool == "genscale":
        measured, _ = with_genscale(script, work)
    elif tool == "pidstat":
        measured, own = with_pidstat(script, work)
    else:
        measured = with_psutil(script)
    truth = truth_of()
    truth.cpu_s = reaped_cpu_s() - before - own
    return measured, truth


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="genscale-bench-"))
    try:
        loads = workloads(work)
        print("Error of each tool against the kernel's truth (measured in this run; "
              "— where the workload has no truth for that metric).\n")
        print("| workload | metric | truth | GenScale (1 s) | pidstat (1 s) "
              "| psutil poller (1 s) |")
        print("|---|---|---:|---:|---:|---:|")
        for name, (script, truth_of) in loads.items():
            trials = SPIKE_TRIALS if "spike" in name else 1
            errors: dict[tuple[str, str], list[float]] = {}
            truths: list[Truth] = []
            for _ in range(trials):
                for tool in TOOLS:
                    measured, truth = measure(tool, script, work, truth_of)
                    truths.append(truth)
                    for field in ("cpu_s", "peak_rss_bytes", "write_bytes"):
                        real = getattr(truth, field)
                        if real:
                            errors.setdefault((tool, field), []).append(
                                (getattr(measured, field) - real) / real)
            first = truths[0]
            rows = [("CPU time", "cpu_s", f"{first.cpu_s:.2f} s")]
            if first.peak_rss_bytes is not None:
                rows.append(("peak memory", "peak_rss_bytes",
                             f"{first.peak_rss_bytes / MIB:,.0f} MiB"))
            if first.write_bytes is not None:
                rows.append(("bytes written", "write_bytes",
                             f"{first.write_bytes / MIB:,.0f} MiB"))
            for label, field, shown in rows:
                cells = [f"{100 * sum(e) / len(e):+.1f}%" if (e := errors.get((t, field)))
                         else "—" for t in TOOLS]
                print(f"| {name} | {label} | {shown} | " + " | ".join(cells) + " |", flush=True)

        print("\nMonitor overhead: the sampler thread's CPU over a 10 s task of 6 processes "
              "(4 sleeping, 1 busy, its shell), as a share of one core.\n")
        print("| interval | sampler CPU (s) | wall (s) | overhead (% of one core) |")
        print("|---:|---:|---:|---:|")
        steady = (f"for i in 1 2 3 4; do sleep 10 & done; {PY} -c 'import time\n"
                  "t=time.time()\nwhile time.time()-t<10: pass'; wait")
        for interval in (1.0, 0.1):
            start = time.monotonic()
            _, busy = with_genscale(steady, work, interval)
            wall = time.monotonic() - start
            print(f"| {interval:g} s | {busy:.3f} | {wall:.1f} | {100 * busy / wall:.2f}% |",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("LC_ALL", "C")  # pidstat prints decimal points, not commas
    main()
