"""A bundle's held-out metrics (its model.json) as Markdown tables: the tables the README
quotes, printed by `genscale model show BUNDLE`.

Three tables: grouped cross-validation (the model against the straight line on the size and
the median, with the quantiles' coverage, and what training chose: trees or a ridge line
on the law's residuals, and whether the machine scales the law), the size-extrapolation
test, and the tail classifier. A fourth where the training rows ran some inputs more than
once: how much those runs differed, and the R² that leaves to any model of the input.
A group is `workflow / step`, or whatever the bundle was grouped by. A whole workflow
composed of its steps (`model.compose`) has a second row, `, single law`: the one law on
its makespan that the composition replaced, measured on the same splits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any


def _number(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _millions(value: Any) -> str:
    return "n/a" if value is None else f"{value / 1e6:.2f} M"


def _group_name(key: str) -> str:
    """'dnaseq | bwa_mem' as 'dnaseq bwa_mem'; a whole workflow's group as 'dnaseq
    (workflow)'."""
    return " ".join(part.strip() for part in key.split("|"))


def _fit_name(fit: dict[str, Any] | None) -> str:
    """What training chose for a group: its learner, and where the machine went."""
    if not fit:
        return "n/a"
    chosen = (f" (replay chosen in {fit['composed_splits']} splits)"
              if fit.get("composed_splits") else "")
    if fit.get("composed"):
        return (f"replay of its {len(fit['composed']['steps'])} steps on "
                f"{fit['composed']['cores']} cores{chosen}")
    return (fit["learner"] + (" + machine in law" if fit.get("law_factors") else "")
            + (f" + {fit['law_pilot']} in law" if fit.get("law_pilot") else "")
            + (" + no pilot" if fit.get("pilot") == "none" else "") + chosen)


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    align = ["---"] + ["---:" for _ in header[1:]]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_markdown(meta: dict[str, Any], keep: Callable[[str], bool] = lambda _: True,
                     size_label: str = "read bases") -> str:
    """The three tables of `meta` (a bundle's model.json), for the groups `keep` accepts."""
    metrics = {k: v for k, v in meta["metrics"].items() if keep(k)}
    fits = meta.get("fits", {})
    target = meta["target"]
    cv_rows, ex_rows, tail_rows, noise_rows = [], [], [], []
    entries = []
    for key, result in metrics.items():
        fit = fits.get(key)
        if result.get("composed_splits") and fit:  # the choice, made inside each split
            fit = {**fit, "composed_splits": result["composed_splits"]}
        entries.append((_group_name(key), result, fit))
        if result.get("single_law"):  # a composed workflow: the law it replaced, beside it
            fit = {k: v for k, v in (fits.get(key) or {}).items() if k != "composed"}
            entries.append((f"{_group_name(key)}, single law", result["single_law"], fit))
    for name, result, fit in entries:
        cv = result.get("cross_validation")
        if cv:
            cv_rows.append([
                name, str(cv["model"]["n"]),
                *(_number(cv[m]["r2"], 3) for m in ("model", "line", "median")),
                *(_number(cv[m]["mdape"], 1) for m in ("model", "line")),
                *(_number(cv[m]["mape"], 1) for m in ("model", "line")),
                _number(cv["coverage"]["p90"], 2), _number(cv["coverage"]["p99"], 2),
                _fit_name(fit)])
            tail = cv["tail"]
            tail_rows.append([name, f"{tail['positives']} of {tail['n']}",
                              _number(tail.get("precision"), 2),
                              _number(tail.get("recall"), 2), _number(tail.get("auc"), 2)])
        noise = result.get("noise")
        if noise:
            noise_rows.append([name, str(noise["inputs"]), str(noise["runs"]),
                               _number(noise["run_to_run_sd_percent"], 1),
                               _number(noise["r2_ceiling"], 3),
                               _number(cv["model"]["r2"] if cv else None, 3)])
        ex = result.get("extrapolation")
        if ex:
            ex_rows.append([
                name, f"{ex['n_train']} ({_millions(ex['train_max_size'])})",
                f"{ex['model']['n']} ({_millions(ex['test_min_size'])})",
                *(_number(ex[m]["r2"], 2) for m in ("model", "line", "median")),
                *(_number(ex[m]["mdape"], 1) for m in ("model", "line", "median"))])
    k = meta.get("options", {}).get("tail_k", 1.5)
    parts = [
        f"{target}: grouped {meta.get('options', {}).get('folds', 5)}-fold CV by "
        f"{meta.get('group') or 'row'} (n = held-out rows)",
        _table(["group", "n", "model R²", "line R²", "median R²", "model MdAPE %",
                "line MdAPE %", "model MAPE %", "line MAPE %", "p90 cover", "p99 cover",
                "fit"], cv_rows),
        f"{target}: size extrapolation (train on small inputs, test on >= 5x the largest)",
        _table(["group", f"train rows (max {size_label})", f"test rows (min {size_label})",
                "model R²", "line R²", "median R²", "model MdAPE %", "line MdAPE %",
                "median MdAPE %"], ex_rows),
        f"{target}: tail (above {k} x the typical value for the size: a law of the size and "
        "the machine alone, replayed over the steps for a composed workflow), held-out",
        _table(["group", "tail runs", "precision", "recall", "AUC"], tail_rows),
    ]
    if noise_rows:
        parts += [
            f"{target}: run-to-run noise (inputs run more than once on the same machine)",
            _table(["group", "inputs", "runs", "run-to-run SD %", "R² ceiling",
                    "model R²"], noise_rows)]
    return "\n\n".join(parts) + "\n"
