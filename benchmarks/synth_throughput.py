"""Generation throughput and peak memory of `genscale data synth`, by number of pairs.

Each size runs under `genscale monitor` (exact CPU and peak memory of the whole tree: ART
and the knob pass). Flat memory shows as a peak that does not grow with the pair count.

    .venv/bin/python benchmarks/synth_throughput.py [--preset P] PAIRS [PAIRS ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from genscale.store.rundir import RunDirectory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", type=int)
    parser.add_argument("--preset", default="typical")
    parser.add_argument("--genome-bases", type=int, default=1_000_000)
    args = parser.parse_args()
    genscale = str(Path(sys.executable).with_name("genscale"))
    print(f"preset {args.preset}, {args.genome_bases:,} bp reference, 100 bp reads")
    print("| pairs | wall (s) | pairs/s | CPU (s) | peak memory (MiB) | output (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for pairs in args.pairs:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "data"
            subprocess.run([genscale, "monitor", "--interval", "1", "--out", f"{tmp}/mon",
                            "--", genscale, "data", "synth", "--preset", args.preset,
                            "--pairs", str(pairs), "--genome-bases", str(args.genome_bases),
                            "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
            task = RunDirectory(Path(tmp) / "mon").tasks().iloc[0]
            size = sum(p.stat().st_size for p in out.glob("reads_*.fq.gz")) / 2**20
            print(f"| {pairs:,} | {task.wall_s:.1f} | {pairs / task.wall_s:,.0f} | "
                  f"{task.cpu_time_s:.1f} | {task.peak_rss_bytes / 2**20:,.0f} | {size:,.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
