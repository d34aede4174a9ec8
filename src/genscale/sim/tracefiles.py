"""A synthetic trace directory: `workflows.parquet`, `tasks.parquet` and `series.parquet`
(each task's CPU and memory at a few points of its run; `sim.generate.series`), written
chunk by chunk, so memory stays flat in the number of workflows; with `wfformat`, one WfFormat 1.5
file per workflow under `wfformat/`; with `alibaba` and `swf`, those formats
(`sim.formats`). Everything goes to a temporary directory that is
renamed into place when whole."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genscale.errors import UserError
from genscale.sim.formats import Writers
from genscale.sim.generate import Drawn, series
from genscale.store.wfformat import EPOCH, instance

FORMATS = ("parquet", "wfformat", "alibaba", "swf")


def write_trace(out: Path, chunks: Iterable[Drawn], formats: tuple[str, ...],
                meta: dict[str, Any], node: Any = None, steps: list[str] | None = None,
                shapes: dict[str, Any] | None = None, series_points: int = 0
                ) -> dict[str, int]:
    """Write the chunks under `out` (which must not exist); return rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UserError(f"--format {','.join(unknown)}: expected {', '.join(FORMATS)}")
    if out.exists():
        raise UserError(f"--out {out}: exists already; give a new directory")
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    writers: dict[str, Any] = {}
    counts = {"workflows": 0, "tasks": 0, "series": 0}
    try:
        others = Writers(tmp, formats, node, steps or [])
        for chunk in chunks:
            tables = [("workflows", chunk.workflows), ("tasks", chunk.tasks)]
            if series_points > 0:
                tables.append(("series", series(chunk, shapes or {}, series_points)))
            for name, frame in tables:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(tmp / f"{name}.parquet", table.schema)
                writers[name].write_table(table)
                counts[name] += len(frame)
            if "wfformat" in formats:
                _wfformat(tmp / "wfformat", chunk)
            others.write(chunk.tasks)
        for writer in writers.values():
            writer.close()
        (tmp / "trace.json").write_text(json.dumps({**meta, **counts}, indent=2) + "\n")
        tmp.rename(out)
    except BaseException:
        for writer in writers.values():
            writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def _wfformat(directory: Path, chunk: Drawn) -> None:
    directory.mkdir(exist_ok=True)
    kinds = dict(zip(chunk.workflows["workflow_id"], chunk.workflows["workflow"], strict=True))
    for workflow_id, group in chunk.tasks.groupby("workflow_id", sort=False):
        document = instance(str(workflow_id), group, EPOCH,
                            description=f"a synthetic {kinds[workflow_id]} workflow "
                                        "(genscale synth trace)")
        (directory / f"{workflow_id}.json").write_text(json.dumps(document) + "\n")
