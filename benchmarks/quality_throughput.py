"""FASTQ feature throughput: `genscale quality fastq` against FastQC and fastp, one core each.

Every tool reads the same paired FASTQ, pinned to one core (`taskset -c 0`), under
`genscale monitor` (exact wall time, CPU and peak memory of its whole process tree). GenScale
also runs on a quarter of the data, to show that its memory does not grow with file size.

    .venv/bin/python benchmarks/quality_throughput.py R1.fastq R2.fastq
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from genscale.store.rundir import RunDirectory

MIB = 2**20


def measure(name: str, argv: list[str], work: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak memory bytes) of `argv` on core 0."""
    genscale = str(Path(sys.executable).with_name("genscale"))
    out = work / f"mon-{name}"
    subprocess.run([genscale, "monitor", "--interval", "0.5", "--out", str(out), "--",
                    "taskset", "-c", "0", *argv], check=True, stdout=subprocess.DEVNULL)
    task = RunDirectory(out).tasks().iloc[0]
    if task["exit_code"] != 0:
        raise SystemExit(f"{name} failed: see {out}/logs")
    return float(task["wall_s"]), float(task["cpu_time_s"]), float(task["peak_rss_bytes"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reads_1", type=Path)
    parser.add_argument("reads_2", type=Path)
    args = parser.parse_args()
    genscale = str(Path(sys.executable).with_name("genscale"))
    size = args.reads_1.stat().st_size + args.reads_2.stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        quarter = [work / "q1.fq", work / "q2.fq"]
        for src, dst in zip((args.reads_1, args.reads_2), quarter, strict=True):
            with open(src, "rb") as fin:
                lines = sum(1 for _ in fin)
            keep = (lines // 4 // 4) * 4  # a quarter of the records, whole records
            with open(src, "rb") as fin, open(dst, "wb") as fout:
                fout.writelines(itertools.islice(fin, keep))
        quarter_size = sum(p.stat().st_size for p in quarter)
        # the first use after an install compiles the per-base kernel (about 2 s, then
        # cached): not what a user waits for on every file, so it is not measured
        with open(args.reads_1, "rb") as fin, open(work / "warm.fq", "wb") as fout:
            fout.writelines(itertools.islice(fin, 4000))
        subprocess.run([genscale, "quality", "fastq", "--json", str(work / "warm.fq")],
                       check=True, stdout=subprocess.DEVNULL)
        (work / "fastqc").mkdir()
        runs = [
            ("FastQC 0.11.9 (-t 1)", size,
             ["fastqc", "-t", "1", "--quiet", "--outdir", str(work / "fastqc"),
              str(args.reads_1), str(args.reads_2)]),
            ("fastp (-w 1, no output reads)", size,
             ["fastp", "-w", "1", "-i", str(args.reads_1), "-I", str(args.reads_2),
              "-j", str(work / "fastp.json"), "-h", str(work / "fastp.html")]),
            ("genscale quality fastq", size,
             [genscale, "quality", "fastq", "--json", str(args.reads_1), str(args.reads_2)]),
            ("genscale quality fastq, quarter of the data", quarter_size,
             [genscale, "quality", "fastq", "--json", *map(str, quarter)]),
        ]
        print(f"Paired FASTQ, {size / 1e9:.2f} GB in all (plain text), one core each.\n")
        print("| tool | input (MB) | wall (s) | MB/s | CPU (s) | peak memory (MiB) |")
        print("|---|---:|---:|---:|---:|---:|")
        speeds = {}
        for i, (name, nbytes, argv) in enumerate(runs):
            wall, cpu, peak = measure(f"t{i}", argv, work)
            speeds[name] = nbytes / wall
            print(f"| {name} | {nbytes / 1e6:,.0f} | {wall:.1f} | {nbytes / 1e6 / wall:,.1f} | "
                  f"{cpu:.1f} | {peak / MIB:,.0f} |", flush=True)
        ratio = speeds["genscale quality fastq"] / speeds["FastQC 0.11.9 (-t 1)"]
        print(f"\ngenscale quality fastq: {ratio:.1f}x FastQC's throughput on one core.")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
