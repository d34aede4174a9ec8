"""The run directory of DESIGN.md: run.json, tasks.csv, samples.csv, Parquet twins, logs.

Samples are appended and flushed as they are taken; tasks.csv and run.json are rewritten
through a temporary file and a rename each time they change, so a crash leaves either the
old file or the new one, never half of one.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

import pandas as pd

from genscale.errors import UserError
from genscale.store.schema import (
    NODE_COLUMNS,
    NODE_FIELDS,
    SAMPLE_COLUMNS,
    SAMPLE_FIELDS,
    TASK_COLUMNS,
    TASK_FIELDS,
    Column,
)

# what a full or read-only disk raises: the run stops cleanly on these (see RunDirectory)
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT})


def is_disk_error(exc: BaseException) -> TypeGuard[OSError]:
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


def disk_message(exc: OSError, path: Path) -> str:
    """One line naming the path and the disk's complaint."""
    return f"{exc.filename or path}: {exc.strerror or exc}"


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    """`atomic_write_bytes` of `text` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), durable)


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace `path` whole: a temporary file renamed over it (and removed if writing it
    fails, so no stray temporary is left). `durable` also waits for the disk (fsync), for
    files that must survive the machine, not only this process."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any, durable: bool = True) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n",
                      durable)


class CsvAppender:
    """Appends rows to a CSV; thread-safe; each call reaches the OS at once. On a full or
    read-only disk it stops writing and keeps the error in `disk_error` instead of raising
    (the sampler thread must not die of it); the rows already written stay."""

    def __init__(self, path: Path, fields: tuple[str, ...]) -> None:
        self.path = path
        self.disk_error: OSError | None = None
        new = not path.exists() or path.stat().st_size == 0
        self._file = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, fieldnames=fields)
        self._lock = threading.Lock()
        if new:
            self([])  # the header, through the same disk-error handling as rows

    def __call__(self, rows: list[dict[str, object]]) -> None:
        with self._lock:
            if self.disk_error is not None:
                return
            try:
                if self._file.tell() == 0:
                    self._writer.writeheader()
                self._writer.writerows(rows)
                self._file.flush()
            except OSError as exc:
                if not is_disk_error(exc):
                    raise
                self.disk_error = exc

    def close(self) -> None:
        with self._lock:
            try:
                self._file.close()
            except OSError as exc:  # the buffer's last flush
                if not is_disk_error(exc):
                    raise
                self.disk_error = self.disk_error or exc


def repair_tail(path: Path) -> bool:
    """Cut a last line that a killed writer left half-written; True if one was cut."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return False
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)
    return True


def require_new_or_empty(path: Path, hint: str = "") -> None:
    """UserError unless `path` is absent or an empty directory (output never mixes with
    what was there)."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"{path}: exists and is not an empty directory{hint}")


class RunDirectory:
    """One run's directory. Create with `RunDirectory.create`, open with `RunDirectory(path)`;
    its tables come back typed as `store.schema` declares them (units in the names).

        run = genscale.RunDirectory(Path("runs/dnaseq-20261203T101500Z-ab12"))
        run.tasks()[["task_id", "wall_s", "cpu_time_s", "peak_rss_bytes"]]
        run.samples(), run.node(), run.read_run_info()["status"]

    While a run goes, each finished task's row is appended to tasks.csv and flushed (a
    killed manager leaves every finished task on disk, at worst with a torn last line that
    `repair_tail` cuts); `finish_tasks` then rewrites the table whole, in order, through a
    temporary file and a rename."""

    RESERVE_BYTES = 8 * 2**20  # room kept to close the run when its disk fills

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tasks: dict[str, dict[str, object]] = {}
        self._lock = threading.Lock()
        self._appender: CsvAppender | None = None
        self._appenders: list[CsvAppender] = []
        self._disk_error: OSError | None = None

    # -- a full or read-only disk ----------------------------------------------------------
    @property
    def disk_error(self) -> OSError | None:
        """The first full-disk or read-only error any write of this run met, or None. Rows
        are then kept in memory (tasks) or dropped (samples) instead of raising; the engine
        stops the run, and `release_reserve` makes room to close it."""
        return self._disk_error or next((a.disk_error for a in self._appenders
                                         if a.disk_error is not None), None)

    def note_disk_error(self, exc: OSError) -> None:
        self._disk_error = self._disk_error or exc

    @property
    def _reserve(self) -> Path:
        return self.path / ".disk-reserve"

    def reserve(self) -> None:
        """Set aside RESERVE_BYTES on the run's disk, so that a run whose disk fills can
        still write its tasks.csv and run.json; UserError naming the path if there is no
        room for it now."""
        try:
            with open(self._reserve, "wb") as f:
                os.posix_fallocate(f.fileno(), 0, self.RESERVE_BYTES)
        except OSError as exc:
            self._reserve.unlink(missing_ok=True)
            if not is_disk_error(exc):
                raise
            raise UserError(f"{disk_message(exc, self.path)}: no room for the run; free some "
                            "space first") from None

    def release_reserve(self) -> None:
        self._reserve.unlink(missing_ok=True)

    @classmethod
    def create(cls, path: Path) -> RunDirectory:
        path.mkdir(parents=True, exist_ok=False)
        (path / "logs").mkdir()
        return cls(path)

    run_json = property(lambda self: self.path / "run.json")
    tasks_csv = property(lambda self: self.path / "tasks.csv")
    samples_csv = property(lambda self: self.path / "samples.csv")
    node_csv = property(lambda self: self.path / "node.csv")
    logs = property(lambda self: self.path / "logs")
    work = property(lambda self: self.path / "work")

    def log_paths(self, task_id: str) -> tuple[Path, Path]:
        return self.logs / f"{task_id}.out", self.logs / f"{task_id}.err"

    def keep_attempt_logs(self, task_id: str, attempt: int) -> None:
        """Set an attempt's logs aside as `TASK.attemptN.out/.err`, before the task runs
        again (its samples carry the attempt number)."""
        for log in self.log_paths(task_id):
            if log.exists():
                log.rename(log.with_name(f"{task_id}.attempt{attempt}{log.suffix}"))

    def sample_writer(self) -> CsvAppender:
        return self._track(CsvAppender(self.samples_csv, SAMPLE_FIELDS))

    def node_writer(self) -> CsvAppender:
        return self._track(CsvAppender(self.node_csv, NODE_FIELDS))

    def write_run_info(self, info: Mapping[str, Any]) -> None:
        atomic_write_json(self.run_json, info)

    def read_run_info(self) -> dict[str, Any]:
        """run.json as a dict; UserError naming the file where it is not one."""
        try:
            data = json.loads(self.run_json.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{self.path}: not a run directory (no run.json)") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"{self.run_json}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise UserError(f"{self.run_json}: expected a JSON object")
        return data

    def load_tasks(self) -> dict[str, dict[str, object]]:
        """The rows already in tasks.csv (to resume a run), torn last line cut first."""
        repair_tail(self.tasks_csv)
        with self._lock:
            if self.tasks_csv.exists():
                with open(self.tasks_csv, newline="", encoding="utf-8") as f:
                    for row in csv.DictReader(f):
                        self._tasks[row["task_id"]] = {k: row.get(k, "") for k in TASK_FIELDS}
            return dict(self._tasks)

    def record_task(self, row: Mapping[str, object]) -> None:
        """Add a finished task's row: appended to tasks.csv and flushed at once."""
        with self._lock:
            clean = {k: row.get(k, "") for k in TASK_FIELDS}
            replacing = str(row["task_id"]) in self._tasks
            self._tasks[str(row["task_id"])] = clean
            if replacing:  # rare (a resumed task that had a row): rewrite whole
                self._rewrite()
                return
            if self._appender is None:
                self._appender = self._track(CsvAppender(self.tasks_csv, TASK_FIELDS))
            self._appender([clean])

    def finish_tasks(self, order: list[str] | None = None) -> None:
        """Rewrite tasks.csv whole, in `order` (task ids) where given, atomically."""
        with self._lock:
            if self._appender is not None:
                self._appender.close()
                self._appender = None
            if order is not None:
                rank = {t: i for i, t in enumerate(order)}
                self._tasks = dict(sorted(self._tasks.items(),
                                          key=lambda kv: rank.get(kv[0], len(rank))))
            self._rewrite()

    def _rewrite(self) -> None:
        if self._appender is not None:
            self._appender.close()
            self._appender = None
        try:
            atomic_write_text(self.tasks_csv, _csv_text(TASK_FIELDS, self._tasks.values()))
        except OSError as exc:  # the rows stay in memory, for the rewrite that closes the run
            if not is_disk_error(exc):
                raise
            self.note_disk_error(exc)

    def _track(self, appender: CsvAppender) -> CsvAppender:
        self._appenders.append(appender)
        return appender

    def task_rows(self) -> list[dict[str, object]]:
        with self._lock:
            return list(self._tasks.values())

    def write_parquet(self) -> None:
        """Typed twins of tasks.csv and samples.csv."""
        for csv_path, columns in ((self.tasks_csv, TASK_COLUMNS),
                                  (self.samples_csv, SAMPLE_COLUMNS),
                                  (self.node_csv, NODE_COLUMNS)):
            if not csv_path.exists():
                continue
            frame = read_table(csv_path, columns)
            tmp = csv_path.with_name(f".{csv_path.stem}.parquet.tmp")
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, csv_path.with_suffix(".parquet"))

    def tasks(self) -> pd.DataFrame:
        return read_table(self.tasks_csv, TASK_COLUMNS)

    def samples(self) -> pd.DataFrame:
        return read_table(self.samples_csv, SAMPLE_COLUMNS)

    def node(self) -> pd.DataFrame:
        return read_table(self.node_csv, NODE_COLUMNS)


def read_table(path: Path, columns: tuple[Column, ...]) -> pd.DataFrame:
    """Read one of our CSVs with the contract's types."""
    types = {c.name: c.dtype for c in columns}
    frame = pd.read_csv(path, dtype={k: ("string" if v == "string" else "float64")
                                     for k, v in types.items()}, keep_default_na=False,
                        na_values=[""])
    for name, dtype in types.items():
        if name not in frame.columns:
            frame[name] = pd.Series(dtype=dtype)
        elif dtype == "Int64":
            frame[name] = frame[name].round().astype("Int64")
    return frame[[c.name for c in columns]]


def _csv_text(fields: tuple[str, ...], rows: Iterable[Mapping[str, object]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
