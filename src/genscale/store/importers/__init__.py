"""Bringing measurements made elsewhere into the run-directory schema."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from genscale import __version__
from genscale.errors import UserError
from genscale.store.rundir import RunDirectory

Rows = tuple[dict[str, object], list[dict[str, object]]]


def import_run(files: list[Path], out: Path, source: str,
               convert: Callable[[Path, str], list[Rows]]) -> RunDirectory:
    """Convert every file (each one task or more) into a new run directory `out`. All files
    are read before anything is written, so a bad file leaves nothing half-imported."""
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: directory exists and is not empty")
    run_id = out.resolve().name
    converted = [rows for path in files for rows in convert(path, run_id)]
    if not converted:
        raise UserError(f"{', '.join(map(str, files))}: no task in the files")
    ids = [task["task_id"] for task, _ in converted]
    if len(set(ids)) != len(ids):
        raise UserError(f"two files give the same task id ({', '.join(map(str, ids))}); "
                        "rename one")
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir()
    run = RunDirectory(out)
    run.write_run_info({
        "run_id": run_id, "genscale_version": __version__, "status": "imported",
        "executor": source, "imported_from": [str(p.resolve()) for p in files],
        "imported_at": time.time(),
        "sample_interval_s": converted[0][0].get("sample_interval_s") or None,
    })
    writer = run.sample_writer()
    for task, samples in converted:
        writer(samples)
        run.record_task(task)
    writer.close()
    run.write_parquet()
    return run
