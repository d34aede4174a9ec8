"""The public Python API (issue 18): `genscale.__all__` names what a user does, each
documented with an example, imported only when used; `run_workflow` from Python draws the
same report as `genscale run`; a `Bundle` trains, saves, loads and predicts."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import genscale

from .conftest import check_run_json, write


def test_every_public_name_is_documented_with_an_example() -> None:
    assert len(genscale.__all__) >= 15
    for name in genscale.__all__[1:]:
        doc = inspect.getdoc(getattr(genscale, name)) or ""
        assert len(doc) > 60, name
        # an example: a call through the public name, after the summary paragraph
        body = doc.split("\n\n", 1)[-1]
        assert re.search(r"genscale\.\w+[.(\[]", body), f"{name}: no example in its docstring"


def test_import_genscale_loads_nothing_heavy() -> None:
    code = ("import sys, genscale; print(sorted(m for m in ('pandas', 'numpy', "
            "'genscale.engine', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_run_workflow_from_python_draws_the_report(tmp_path: Path) -> None:
    spec = write(tmp_path / "one.yaml", """\
name: one
steps:
  - name: work
    app: sh
    outputs: {out: out.txt}
    command: head -c 2000000 /dev/urandom | gzip > {outputs.out}
""")
    result = genscale.run_workflow(str(spec), settings=genscale.RunSettings(
        runs_dir=tmp_path / "runs", interval_s=0.1))
    assert result.outcome.ok
    check_run_json(genscale.RunDirectory(result.run_dir))
    code, _ = genscale.monitor_command(["true"], tmp_path / "monitored", interval_s=0.1)
    assert code == 0
    check_run_json(genscale.RunDirectory(tmp_path / "monitored"))
    assert (result.run_dir / "report.html").is_file()
    assert list((result.run_dir / "plots").glob("*.png"))
    quiet = genscale.run_workflow(str(spec), settings=genscale.RunSettings(
        runs_dir=tmp_path / "runs", interval_s=0.1), plots=False)
    assert not (quiet.run_dir / "report.html").exists()


def test_a_bundle_trains_saves_loads_and_predicts(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 60
    size = np.exp(rng.uniform(np.log(1e6), np.log(1e8), n))
    table = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "step": "align",
                          "input_bytes": size,
                          "wall_s": 3 + 2e-6 * size * np.exp(rng.normal(0, 0.05, n))})
    bundle = genscale.Bundle.train(table, "wall_s", features=["input_bytes"],
                                   evaluate=False)
    assert bundle.target == "wall_s"
    bundle.save(tmp_path / "b")
    again = genscale.Bundle.load(tmp_path / "b")
    rows = pd.DataFrame({"step": ["align"], "input_bytes": [5e7]})
    first = bundle.predict(rows)["predicted_wall_s"].iloc[0]
    assert again.predict(rows)["predicted_wall_s"].iloc[0] == first
    assert abs(first - (3 + 2e-6 * 5e7)) / (3 + 2e-6 * 5e7) < 0.1


def test_every_command_help_shows_one_example() -> None:
    import click

    from genscale.cli.main import cli

    def leaves(command: click.Command, path: list[str]) -> list[tuple[str, click.Command]]:
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            return [leaf for name in command.list_commands(ctx)
                    for leaf in leaves(command.get_command(ctx, name),  # type: ignore[arg-type]
                                       [*path, name])]
        return [(" ".join(path), command)]

    found = leaves(cli, ["genscale"])
    assert len(found) >= 18
    for name, command in found:
        ctx = click.Context(command, info_name=name)
        text = command.get_help(ctx)
        assert text.count("Example:") == 1, name
        example = text.split("Example:")[1].strip().splitlines()[0]
        assert example.startswith(name + " "), (name, example)
