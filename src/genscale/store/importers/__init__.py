"""Bringing measurements made elsewhere into the run-directory schema."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from genscale import __version__
from genscale.errors import UserError
from genscale.store.rundir import RunDirectory, require_new_or_empty
from genscale.textfiles import INFLATE_ERRORS, open_inflated, unix_newlines

Rows = tuple[dict[str, object], list[dict[str, object]]]
# what one trace or log may hold once decompressed: a gzip bomb stops here, not in memory
MAX_TEXT_BYTES = 2 * 2**30


def pop_parents(tasks: list[dict[str, object]]) -> list[list[str] | None]:
    """Each task row's `parents` (task ids; None where its source records none), taken out
    of the row: tasks.csv has no such column, run.json's `task_parents` keeps them."""
    out: list[list[str] | None] = []
    for task in tasks:
        given = task.pop("parents", None)
        out.append([str(p) for p in given] if isinstance(given, list) else None)
    return out


def source_stem(path: Path) -> str:
    """A source file's name for the ids it gives: without its suffix, nor `.gz` before it
    (`trace.txt.gz` -> `trace`)."""
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


def read_text(path: Path, errors: str = "strict") -> str:
    """A trace's or log's text: UTF-8 (a byte-order mark dropped; `errors` as `bytes.decode`'s),
    CRLF read as LF, gzipped or not (told by its first bytes). UserError naming the file
    when it cannot be read, is not text (NUL bytes in its start: a BAM given by mistake is
    not read on), or inflates past MAX_TEXT_BYTES."""
    try:
        with open_inflated(path) as f:
            data = f.read(8192)
            if b"\x00" in data:
                raise UserError(f"{path}: not a text file (holds NUL bytes)")
            data += f.read(MAX_TEXT_BYTES + 1 - len(data))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: a directory; give the files in it") from None
    except INFLATE_ERRORS as exc:
        raise UserError(f"{path}: a corrupt or truncated gzip file ({exc})") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_TEXT_BYTES:
        raise UserError(f"{path}: more than {MAX_TEXT_BYTES // 2**30} GiB of text: not a "
                        "trace this reads")
    try:
        text = data.decode("utf-8-sig", errors=errors)
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file") from None
    return unix_newlines(text)


def import_run(files: list[Path], out: Path, source: str,
               convert: Callable[[Path, str], list[Rows]]) -> RunDirectory:
    """Convert every file (each one task or more) into a new run directory `out`. All files
    are read before anything is written, and the directory is written under a temporary
    name and renamed when whole, so a bad file or a crash leaves nothing half-imported."""
    require_new_or_empty(out)
    run_id = out.resolve().name
    converted = [rows for path in files for rows in convert(path, run_id)]
    if not converted:
        raise UserError(f"{', '.join(map(str, files))}: no task in the files")
    ids = [task["task_id"] for task, _ in converted]
    if len(set(ids)) != len(ids):
        raise UserError(f"two files give the same task id ({', '.join(map(str, ids))}); "
                        "rename one")
    # a task's `parents` (task ids), where its source records them, go to run.json
    recorded = pop_parents([task for task, _ in converted])
    parents = {str(task["task_id"]): given for (task, _), given
               in zip(converted, recorded, strict=True) if given is not None}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    try:
        (tmp / "logs").mkdir()
        run = RunDirectory(tmp)
        info: dict[str, object] = {
            "run_id": run_id, "genscale_version": __version__, "status": "imported",
            "executor": source, "imported_from": [str(p.resolve()) for p in files],
            "imported_at": time.time(),
            "sample_interval_s": converted[0][0].get("sample_interval_s") or None,
        }
        if parents:
            info["task_parents"] = parents
        run.write_run_info(info)
        writer = run.sample_writer()
        for task, samples in converted:
            writer(samples)
            run.record_task(task)
        writer.close()
        run.finish_tasks()
        run.write_parquet()
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RunDirectory(out)
