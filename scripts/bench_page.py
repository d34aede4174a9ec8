"""Run the benchmarks and write what they print into docs/benchmarks.md, one section each,
with the machine, the commit and the date it was measured on.

    .venv/bin/python scripts/bench_page.py                      # every benchmark, in order
    .venv/bin/python scripts/bench_page.py bench-quality bench-engine   # only these

Each benchmark is its `make` target, run in turn (one sitting, nothing else of ours running).
A section measured again replaces its old one; the others keep theirs, dated. A benchmark
that fails keeps its old section and is listed as failed, with its last lines, at the end.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"
# in the order `make bench` runs them: the quick ones first
BENCHMARKS = {
    "bench-engine": "Dispatch overhead: 1,000 no-op tasks, against Snakemake.",
    "bench-quality": "FASTQ features against FastQC and fastp, one core each.",
    "bench-monitor": "Monitor accuracy against pidstat and a psutil poller.",
    "bench-cpu": "Whole-run CPU totals against the kernel's accounting.",
    "bench-synth": "Read-pair generation throughput and memory.",
    "bench-predict": "`model predict` on one dataset.",
    "bench-production": "`genscale project` against the prototype's GRCh38 run.",
    "bench-sim": "`genscale sim` against SimPy, and against a replayed run.",
    "bench-trace": "`synth trace` against WfCommons' WfGen; synthetic against measured.",
    "bench-workload": "20 dnaseq workflows under every scheduling policy.",
    "bench-train": "Model training time against rows and groups.",
}
HEADER = """# Benchmarks

Every performance figure of these docs comes from this page. It is written by `make bench`
(`scripts/bench_page.py`): each benchmark below is run by its `make` target, in one sitting,
and what it prints is kept here with the machine, the commit and the date. `make bench
BENCH="bench-quality bench-engine"` measures only those again; the other sections keep their
own dates. Targets: each section's benchmark states its peer and its bar.
"""
SECTION = re.compile(r"<!-- bench:(?P<name>[\w-]+) -->\n.*?<!-- /bench -->\n", re.DOTALL)


def machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def commit() -> str:
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                         capture_output=True).stdout.strip() or "?"
    # the page itself changes as the sitting goes: not a change to what is measured
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                            ".", f":!{PAGE.relative_to(ROOT)}"],
                           cwd=ROOT, text=True, capture_output=True).stdout.strip()
    return sha + (" (with uncommitted changes)" if dirty else "")


def run(target: str) -> tuple[int, str, float]:
    start = time.monotonic()
    # what it prints on stdout is its result; its stderr (progress) goes to ours
    proc = subprocess.run(["make", "--no-print-directory", target], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE)
    return proc.returncode, proc.stdout, time.monotonic() - start


def section(target: str, output: str, seconds: float) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!-- bench:{target} -->\n## {target}\n\n{BENCHMARKS[target]}\n\n"
            f"`make {target}`, measured {when} on {machine()}, commit {commit()}, "
            f"{seconds / 60:.1f} min in all.\n\n{output.strip()}\n\n<!-- /bench -->\n")


def main() -> None:
    targets = sys.argv[1:] or list(BENCHMARKS)
    unknown = [t for t in targets if t not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"bench_page: unknown benchmark(s) {', '.join(unknown)} "
                         f"(known: {', '.join(BENCHMARKS)})")
    old = PAGE.read_text(encoding="utf-8") if PAGE.is_file() else HEADER
    sections = {m["name"]: m[0] for m in SECTION.finditer(old)}
    failed = []
    for target in targets:
        print(f"bench_page: {target} ...", file=sys.stderr, flush=True)
        code, output, seconds = run(target)
        if code != 0:
            failed.append(f"{target} (exit {code}): {output.strip()[-300:]}")
            continue
        sections[target] = section(target, output, seconds)
        ordered = [sections[t] for t in BENCHMARKS if t in sections]
        tmp = PAGE.with_name(f".{PAGE.name}.tmp")  # written after each: a stop keeps them
        tmp.write_text(HEADER + "\n" + "\n".join(ordered), encoding="utf-8")
        tmp.replace(PAGE)
    for line in failed:
        print(f"bench_page: failed: {line}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
