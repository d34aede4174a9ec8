"""Down-sampling a dataset's read pairs, so one sample can be run at several sizes.

Each pair is kept with probability `fraction` (seeded), both mates or neither, in one
streaming pass; the reference and other files are hard-linked (copied across filesystems).
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import dnaio

from genscale.data.manifest import Dataset
from genscale.data.reads import gzipped_pair_writer
from genscale.errors import UserError
from genscale.store.rundir import require_new_or_empty

READ_FILES = ("reads_1", "reads_2")


def subsample(source_dir: Path, fraction: float, out: Path, seed: int = 1) -> Dataset:
    if not 0 < fraction <= 1:
        raise UserError(f"--fraction: expected a number in (0, 1], got {fraction}")
    source = Dataset.load(source_dir)
    missing = [name for name in READ_FILES if name not in source.files]
    if missing:
        raise UserError(f"{source_dir}: the manifest has no {', '.join(missing)}")
    require_new_or_empty(out, "; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, entry in source.files.items():
        rel = entry["path"]
        if name in READ_FILES and not rel.endswith(".gz"):
            rel += ".gz"  # reads are always written gzipped
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        files[name] = rel
        if name in READ_FILES:
            continue
        try:
            os.link(source.file(name), out / rel)
        except OSError:
            shutil.copy2(source.file(name), out / rel)
    rng = random.Random(seed)
    kept = seen = 0
    in1, in2 = source.file("reads_1"), source.file("reads_2")
    out1, out2 = out / files["reads_1"], out / files["reads_2"]
    try:
        with dnaio.open(in1, in2) as reader, gzipped_pair_writer(out1, out2) as writer:
            for r1, r2 in reader:
                seen += 1
                if rng.random() < fraction:
                    writer.write(r1, r2)
                    kept += 1
    except dnaio.exceptions.FileFormatError as exc:
        raise UserError(f"{source_dir}: reads are not valid FASTQ: {exc}") from None
    stats = dict(source.info.get("stats", {}))
    stats.update(pairs=kept)
    info = {**{k: v for k, v in source.info.items() if k != "stats"},
            "subsampled_from": {"path": str(source.path), "fraction": fraction, "seed": seed,
                                "pairs_before": seen},
            "stats": stats}
    return Dataset.build(out.resolve(), source.kind, files, source.params, info)
