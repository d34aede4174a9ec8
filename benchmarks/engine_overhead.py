"""Dispatch overhead: 1,000 no-op tasks through GenScale's local executor against the same
DAG in Snakemake, measured in one run on the same cores.

The DAG: N independent tasks that each touch one file, and one task that needs them all.
Each engine's overhead per task is its wall time divided by N (a no-op does next to no
work). GenScale runs as `genscale run` does: every task launched, in its own cgroup, and
sampled.

    .venv/bin/python benchmarks/engine_overhead.py [--tasks N] [--snakemake PATH]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def genscale_spec(n: int) -> str:
    lines = ["name: noop", "steps:"]
    for i in range(n):
        lines += [f"  - name: t{i}", "    app: touch", f"    outputs: {{o: out/{i}.txt}}",
                  "    command: touch {outputs.o}"]
    inputs = ", ".join(f"i{i}: out/{i}.txt" for i in range(n))
    lines += ["  - name: gather", "    app: cat", f"    inputs: {{{inputs}}}",
              "    outputs: {o: all.txt}", "    command: cat out/*.txt > {outputs.o}"]
    return "\n".join(lines) + "\n"


def snakefile(n: int) -> str:
    return f"""rule all:
    input: "all.txt"

rule gather:
    input: expand("out/{{i}}.txt", i=range({n}))
    output: "all.txt"
    shell: "cat out/*.txt > {{output}}"

rule noop:
    output: "out/{{i}}.txt"
    shell: "touch {{output}}"
"""


def timed(argv: list[str], cwd: Path) -> float:
    start = time.monotonic()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def _executable(path: str) -> str:
    """An absolute path to `path` (the benchmark runs Snakemake from another directory, so
    a relative path given on the command line would no longer name it)."""
    found = shutil.which(path)
    return str(Path(found).resolve()) if found else str(Path(path).resolve())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (the median is shown)")
    parser.add_argument("--snakemake", default=shutil.which("snakemake") or "snakemake",
                        type=_executable)
    args = parser.parse_args()
    n = args.tasks
    genscale = str(Path(sys.executable).with_name("genscale"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "gs").mkdir()
        (work / "gs" / "noop.yaml").write_text(genscale_spec(n))
        (work / "smk").mkdir()
        (work / "smk" / "Snakefile").write_text(snakefile(n))
        runs = {
            "GenScale (local executor, cgroups, 1 s sampling)": (
                [genscale, "run", "noop.yaml", "--runs-dir", "runs", "--cores", "2",
                 "--no-plots"], work / "gs", work / "gs" / "runs"),
            "GenScale (--no-cgroups)": (
                [genscale, "run", "noop.yaml", "--runs-dir", "runs2", "--cores", "2",
                 "--no-plots", "--no-cgroups"], work / "gs", work / "gs" / "runs2"),
            "Snakemake": ([args.snakemake, "--cores", "2", "--quiet"], work / "smk",
                          work / "smk" / "out"),
        }
        # rounds in turn, each engine once per round: what the machine does meanwhile
        # falls on all of them alike
        walls: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, (argv, cwd, output) in runs.items():
                shutil.rmtree(output, ignore_errors=True)
                (cwd / "all.txt").unlink(missing_ok=True)
                walls[name].append(timed(argv, cwd))
        results = {name: statistics.median(w) for name, w in walls.items()}
        version = subprocess.run([args.snakemake, "--version"], capture_output=True,
                                 text=True).stdout.strip()
    snake = results["Snakemake"]
    print(f"{n:,} no-op tasks and one gather, 2 cores (Snakemake {version}); the median "
          f"of {args.repeat} rounds, each engine once a round.\n")
    print("| engine | wall (s) | per task (ms) | per task, each round (ms) | against Snakemake |")
    print("|---|---:|---:|---:|---:|")
    for name, wall in results.items():
        each = ", ".join(f"{1000 * w / (n + 1):.2f}" for w in walls[name])
        print(f"| {name} | {wall:.1f} | {1000 * wall / (n + 1):.2f} | {each} | "
              f"{wall / snake:.2f}x |")


if __name__ == "__main__":
    main()
