"""The one-screen summary of a run (a table per task), and the report of a run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genscale.store.rundir import RunDirectory

SUMMARY_COLUMNS = {
    "task_id": "task", "app": "app", "status": "status", "wall_s": "wall s",
    "mean_cores": "mean cores", "peak_rss_mib": "peak MiB",
    "read_mib": "storage read MiB", "write_mib": "storage written MiB",
    "read_chars_mib": "read() MiB", "write_chars_mib": "write() MiB",
}


def summary_table(tasks: pd.DataFrame) -> pd.DataFrame:
    """Per task: wall time, mean cores, peak memory, and bytes in MiB of each kind, each
    column one counter: read from and written to storage (`read_bytes`, `write_bytes`),
    and through read and write calls (`read_chars`, `write_chars`; small inputs are served
    from the page cache, so storage reads can be 0 where read calls are not). A counter a
    source does not have stays blank.
    """
    out = tasks.copy()
    for column, source in (("peak_rss_mib", "peak_rss_bytes"), ("read_mib", "read_bytes"),
                           ("write_mib", "write_bytes"), ("read_chars_mib", "read_chars"),
                           ("write_chars_mib", "write_chars")):
        values = out[source] if source in out else pd.Series(pd.NA, index=out.index)
        out[column] = pd.to_numeric(values, errors="coerce").astype("Float64") / 2**20
    out = out.sort_values("start_time", na_position="last")
    return out[list(SUMMARY_COLUMNS)].rename(columns=SUMMARY_COLUMNS)


def build_report(run_dir: Path, model: Path | None = None) -> Path:
    """The PNG figures (`plots/`, for papers) and the interactive `report.html` of a run
    directory; returns the HTML path. `model`: predicted against measured per step."""
    from genscale.report.html import run_report  # Plotly only when writing a report
    from genscale.report.plots import plot_run  # matplotlib only when drawing

    run = RunDirectory(run_dir)
    samples = run.samples()  # read once, for both
    plot_run(run_dir, samples, run.read_run_info().get("run_id", run_dir.name))
    return run_report(run_dir, model, samples)
