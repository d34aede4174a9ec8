"""Terminal output shared by the commands: the task summary table and progress lines."""

from __future__ import annotations

import sys

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from genscale.report.summary import summary_table

stderr = Console(stderr=True, highlight=False)
if not stderr.is_terminal:  # logs and CI: wide enough for the summary table
    stderr = Console(stderr=True, highlight=False, width=120)

STATUS_STYLE = {"succeeded": "green", "failed": "bold red", "skipped": "yellow",
                "cancelled": "magenta"}


COLORS = {"green": "32", "bold red": "1;31", "yellow": "33", "magenta": "35", "cyan": "36"}
MAX_TASK_ROWS = 40  # one screen; beyond it the summary is per application


def progress(kind: str, text: str, counter: str = "") -> None:
    """One progress line on stderr: plain writes, so thousands of tasks cost nothing;
    colour only on a terminal. `counter`, such as "[ 3/18]", goes first."""
    style = STATUS_STYLE.get(kind, "cyan" if kind == "started" else "yellow")
    label = f"{kind:<9}"
    if sys.stderr.isatty():
        label = f"\033[{COLORS.get(style, '0')}m{label}\033[0m"
    sys.stderr.write(f"  {counter + ' ' if counter else ''}{label} {text}\n")


WIDE = 120  # below this many columns, the summary keeps the columns that matter most
NARROW = {"task": "task", "status": "status", "wall s": "wall s", "mean cores": "cores",
          "peak MiB": "peak", "storage read MiB": "read", "storage written MiB": "written"}
SIZED = ("peak", "read", "written")  # narrow columns of MiB shown with their own unit


def size(mib: float) -> str:
    """MiB as at most five characters with a binary unit: 5.3M, 890M, 25G, 3.0T."""
    value = mib * 2**20
    for unit in ("B", "K", "M", "G", "T", "P"):
        if abs(value) < 999.5 or unit == "P":
            return f"{value:.1f}{unit}" if 0 < abs(value) < 9.95 and unit != "B" \
                else f"{value:.0f}{unit}"
        value /= 1024
    return f"{value:.0f}P"


def _cell(value: object, column: str) -> str:
    if pd.isna(value):  # type: ignore[call-overload]
        return ""
    if column == "status":
        return f"[{STATUS_STYLE.get(str(value), '')}]{value}[/]"
    if column in SIZED:
        return size(float(value))  # type: ignore[arg-type]
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:,.2f}"
    return str(value)


def summary_view(tasks: pd.DataFrame, title: str, width: int) -> Table:
    """The per-task table for a terminal `width` columns wide: every counter from 120
    columns, else task, status, wall time, cores, peak memory and storage bytes, which
    fit 80 columns without cutting a task's name (tests/test_progress.py)."""
    frame = summary_table(tasks)
    narrow = width < WIDE
    if narrow:
        frame = frame[list(NARROW)].rename(columns=NARROW)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for col in frame.columns:
        text = col in ("task", "app", "status")  # never cut or folded: the reader's key
        table.add_column(col, justify="left" if text else "right", no_wrap=text,
                         min_width=int(frame[col].astype(str).str.len().max()) if text
                         and len(frame) else None)
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v, c) for v, c in zip(row, frame.columns, strict=True)))
    return table


def print_summary(tasks: pd.DataFrame, title: str) -> None:
    view = by_app_view if len(tasks) > MAX_TASK_ROWS else summary_view
    stderr.print(view(tasks, title, stderr.width))


def by_app_view(tasks: pd.DataFrame, title: str, width: int) -> Table:
    """The summary per application, for runs of more than `MAX_TASK_ROWS` tasks; below 120
    columns without the read()/write() counters, so that it fits 80."""
    ran = tasks[tasks["wall_s"].notna()]
    counters = ("read_bytes", "write_bytes") if width < WIDE else (
        "read_bytes", "write_bytes", "read_chars", "write_chars")
    names = {"read_bytes": "read", "write_bytes": "written", "read_chars": "read()",
             "write_chars": "write()"}
    table = Table(title=f"{title}: {len(tasks)} tasks, by application", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for i, col in enumerate(("app", "tasks", "succeeded", "wall s (sum)", "cores",
                             "peak", *(names[c] for c in counters))):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for app, group in tasks.groupby("app", sort=True):
        done = ran[ran["app"] == app]
        wall = float(done["wall_s"].sum())
        table.add_row(str(app), str(len(group)), str(int((group["status"] == "succeeded").sum())),
                      f"{wall:,.0f}" if wall >= 10_000 else f"{wall:,.2f}",
                      f"{float(done['cpu_time_s'].sum()) / wall:,.2f}" if wall else "",
                      size(float(done["peak_rss_bytes"].max()) / 2**20) if len(done) else "",
                      *(_mib_sum(done, column) for column in counters))
    return table


def _mib_sum(tasks: pd.DataFrame, column: str) -> str:
    """The column's sum with its unit, blank where no task has the counter."""
    values = pd.to_numeric(tasks[column], errors="coerce") if column in tasks else None
    if values is None or values.isna().all():
        return ""
    return size(float(values.sum()) / 2**20)
