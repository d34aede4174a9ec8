"""One self-contained HTML page: Plotly's library, every figure's data and the tables inline,
so the file alone opens anywhere, offline, and keeps working when moved or mailed."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from genscale.store.rundir import atomic_write_text

CONFIG = {"displaylogo": False, "responsive": True}

# the page around the sections; autoescaped: a task name or a reason is text, never markup
TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    (Path(__file__).parent / "page.html.j2").read_text(encoding="utf-8"))


@dataclass
class Alert:
    text: str
    bad: bool = False  # red rather than amber: something failed or was lost


@dataclass
class Section:
    """A heading, an optional note, and its body (a figure or tables, already HTML)."""

    title: str
    body: str
    note: str = ""
    kind: str = "table"  # "figure" when the body holds a Plotly figure
    anchor: str = field(default="")

    def __post_init__(self) -> None:
        self.anchor = self.anchor or anchor_of(self.title)


def anchor_of(title: str) -> str:
    """A heading's id in the page: its letters and digits, the rest as dashes."""
    return "".join(c if c.isalnum() else "-" for c in title.lower())


def figure_section(title: str, figure: go.Figure, note: str = "") -> Section:
    anchor = anchor_of(title)
    body = pio.to_html(figure, full_html=False, include_plotlyjs=False,
                       div_id=f"fig-{anchor}", config=CONFIG)
    return Section(title, body, note, kind="figure", anchor=anchor)


def number(value: float) -> str:
    """A number as a reader wants it in a table: thousands separated, two decimals from 1
    up, three significant digits below (a rate of 0.00246 is not 0.00)."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def table_html(frame: pd.DataFrame) -> str:
    """A table with blank cells for what is not known (never `<NA>` or `nan`)."""
    plain = frame.copy()
    for column in plain.columns:
        if pd.api.types.is_extension_array_dtype(plain[column].dtype) and \
                pd.api.types.is_numeric_dtype(plain[column].dtype):
            plain[column] = plain[column].astype("float64")  # pd.NA -> NaN, shown blank
    return plain.to_html(index=False, na_rep="", border=0, classes="data", escape=True,
                         float_format=number)


def tables_section(title: str, tables: dict[str, pd.DataFrame], note: str = "") -> Section:
    body = "".join(f"<h3>{html.escape(name)}</h3>{table_html(frame)}" if name else
                   table_html(frame) for name, frame in tables.items())
    return Section(title, body, note)


def write_page(out: Path, title: str, facts: str, sections: list[Section],
               alerts: list[Alert] | None = None) -> Path:
    """Write the page to `out` (through a temporary file, renamed); returns `out`."""
    from genscale import __version__

    page = TEMPLATE.render(title=title, facts=facts, sections=sections, alerts=alerts or [],
                           plotly_js=plotly.offline.get_plotlyjs(), version=__version__)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, page)
    return out
