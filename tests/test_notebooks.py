"""The notebooks run from the committed corpus without an error (CI executes them)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import ROOT

pytestmark = pytest.mark.slow  # the notebooks, executed from the committed corpus (4 min)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    corpus = os.environ.get("GENSCALE_CORPUS", str(ROOT / "datasets" / "corpus-v1"))
    assert (Path(corpus) / "tasks.csv").is_file(), f"{corpus}: the corpus is missing"
    os.environ["GENSCALE_CORPUS"] = corpus
    NotebookClient(book, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
