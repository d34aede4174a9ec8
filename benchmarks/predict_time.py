"""How long `genscale model predict BUNDLE --dataset DS` takes, against 0.10.0's bundle layout.

The same model (corpus-v1-wall_s) in both layouts, side by side in one run: this version's
`model.groups.json.gz` (plain data) and 0.10.0's `model.skops` (scikit-learn estimators
through skops, read from git history at the commit before the change). Each is timed as a
user runs it, a fresh process per prediction, `--repeat` times; the dataset is synthesised
once (`data synth --pairs 20000`). The predictions of the two must be identical.

    .venv/bin/python benchmarks/predict_time.py [--repeat 5]
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

ROOT = Path(__file__).resolve().parents[1]
GENSCALE = [sys.executable, "-m", "genscale.cli.main"]
BUNDLE = "models/corpus-v1-wall_s"
LEGACY_COMMIT = "4f36a97"  # main before bundles became plain data


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        subprocess.run([*GENSCALE, "data", "synth", "--kind", "dna", "--genome-bases",
                        "1000000", "--pairs", "20000", "--seed", "3", "--out",
                        str(tmp / "ds")], check=True, capture_output=True)
        legacy = tmp / "legacy"
        legacy.mkdir()
        shutil.copy(ROOT / BUNDLE / "model.json", legacy / "model.json")
        try:
            blob = subprocess.run(["git", "-C", str(ROOT), "show",
                                   f"{LEGACY_COMMIT}:{BUNDLE}/model.skops"],
                                  check=True, capture_output=True).stdout
        except subprocess.CalledProcessError:
            sys.exit(f"predict_time: needs git history with {LEGACY_COMMIT} (a full clone)")
        (legacy / "model.skops").write_bytes(blob)
        rows = []
        outputs = {}
        for label, bundle in (("0.10.0 layout: model.skops", legacy),
                              ("this version: model.groups.json.gz", ROOT / BUNDLE)):
            out = tmp / f"{bundle.name}.csv"
            times = [timed([*GENSCALE, "model", "predict", str(bundle), "--dataset",
                            str(tmp / "ds"), "--out", str(out)])
                     for _ in range(args.repeat)]
            outputs[label] = out.read_text()
            size = sum(p.stat().st_size for p in bundle.iterdir() if p.name != "model.json")
            rows.append((label, statistics.median(times), min(times), size))
        same = len(set(outputs.values())) == 1
    print(f"`model predict {BUNDLE} --dataset` (20,000 pairs), {args.repeat} runs each\n")
    print("| bundle | median s | best s | groups file MB |")
    print("|---|---:|---:|---:|")
    for label, median, best, size in rows:
        print(f"| {label} | {median:.2f} | {best:.2f} | {size / 1e6:.1f} |")
    print(f"\npredictions identical: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
