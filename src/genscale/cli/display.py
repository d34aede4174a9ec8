"""Terminal output shared by the commands: the task summary table and progress lines."""

from __future__ import annotations

import sys

import pandas as pd
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


def progress(kind: str, text: str) -> None:
    """One progress line on stderr: plain writes, so thousands of tasks cost nothing."""
    style = STATUS_STYLE.get(kind, "cyan" if kind == "started" else "yellow")
    label = f"{kind:<9}"
    if sys.stderr.isatty():
        label = f"\033[{COLORS.get(style, '0')}m{label}\033[0m"
    sys.stderr.write(f"  {label} {text}\n")


def print_summary(tasks: pd.DataFrame, title: str) -> None:
    if len(tasks) > MAX_TASK_ROWS:
        _print_by_app(tasks, title)
        return
    frame = summary_table(tasks)
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(frame.columns):
        table.add_column(col, justify="left" if i < 3 else "right")
    for row in frame.itertuples(index=False):
        cells = []
        for i, value in enumerate(row):
            if pd.isna(value):
                cells.append("")
            elif i == 2:
                cells.append(f"[{STATUS_STYLE.get(str(value), '')}]{value}[/]")
            elif isinstance(value, float):
                cells.append(f"{value:,.2f}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    stderr.print(table)


def _print_by_app(tasks: pd.DataFrame, title: str) -> None:
    ran = tasks[tasks["wall_s"].notna()]
    table = Table(title=f"{title}: {len(tasks)} tasks, by application", title_justify="left")
    for i, col in enumerate(("app", "tasks", "succeeded", "wall s (sum)", "mean cores",
                             "peak MiB (max)", "storage read MiB", "storage written MiB",
                             "read() MiB", "write() MiB")):
        table.add_column(col, justify="left" if i == 0 else "right")
    for app, group in tasks.groupby("app", sort=True):
        done = ran[ran["app"] == app]
        wall = float(done["wall_s"].sum())
        table.add_row(str(app), str(len(group)), str(int((group["status"] == "succeeded").sum())),
                      f"{wall:,.2f}",
                      f"{float(done['cpu_time_s'].sum()) / wall:,.2f}" if wall else "",
                      f"{float(done['peak_rss_bytes'].max()) / 2**20:,.1f}" if len(done) else "",
                      *(_mib_sum(done, column) for column in
                        ("read_bytes", "write_bytes", "read_chars", "write_chars")))
    stderr.print(table)


def _mib_sum(tasks: pd.DataFrame, column: str) -> str:
    """The column's sum in MiB, blank where no task has the counter."""
    values = pd.to_numeric(tasks[column], errors="coerce") if column in tasks else None
    if values is None or values.isna().all():
        return ""
    return f"{float(values.sum()) / 2**20:,.1f}"
