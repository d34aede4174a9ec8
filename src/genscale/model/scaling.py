"""Work laws: how each step's CPU time, peak memory and I/O grow with the dimensions
production changes, and how its wall time follows from its CPU time and threads.

A step's demand `y` (CPU seconds, peak RSS bytes, bytes read or written) is a sum of
terms, each a way a tool's work grows, with a non-negative coefficient:

    y = sum_k c_k * term_k(G, N, L, T),   c_k >= 0

where G is the reference's length (bases), N the read pairs, L the read length, B = 2 N L
the read bases and T the step's threads:

    one               1             a fixed cost (a JVM's start, a small index's load)
    genome            G             walking or loading the reference (CollectWgsMetrics,
                                    faidx, a dictionary; the index an aligner holds)
    genome_log        G log2 G      building an index of it (bwa's suffix-array sort)
    bases             B             work per base read (FastQC, trimming, metrics)
    bases_log_genome  B log2 G      an aligner's work per base, rising as its index
                                    outgrows the caches and repeats offer more candidates
    bases_root_genome B sqrt(G/1e6) the same, rising faster (held-out rows choose)
    pairs_log_pairs   N log2 N      sorting
    threads           T             per-thread buffers (memory only)
    bases_threads     B (T - 1)     per-base overhead of more threads (CPU only)

For each step and demand, every set of at most `MAX_TERMS` of its candidate terms is fitted
(on the log scale with non-negative coefficients, so a 10 s step and a 10,000 s one weigh
alike, and robustly, so an outlying run weighs less), and the set whose held-out
predictions (`FOLDS` folds of whole datasets) have the lowest mean squared log error (each
row's capped at one e-fold) is kept, by the one-standard-error rule: the simplest set
(fewest terms, then the plainest, `COMPLEXITY`) within one standard error of the best. The
p90 is the prediction times the 90th percentile of those held-out ratios (measured /
predicted, at least 1).

Wall time is CPU time over the cores the step keeps busy: `base_cores` (its mean cores at
one thread: below 1 for a step that waits on I/O, above for a JVM's collector threads)
times Amdahl's speed-up `1 / ((1 - p) + p / T)`, with the parallel fraction `p` from the
runs at 2 threads against those at 1 (at most the cores given). Only 1 and 2 threads can be
measured on this project's machines: beyond 2, the same `p` is assumed (see
docs/production.md for how far that holds).

A model file is plain JSON (`save`, `load`): no code, no pickle. It holds, by workflow,
each step's fits (`fit`); by workflow and quality preset each step's quality factor
(`quality_factors`) and the tail left beyond size and quality
(`residual_tail`); each step's CPU and memory
over its run (`model.shapes`); and the corpora it came from.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genscale.errors import UserError
from genscale.model.options import FitOptions
from genscale.store.rundir import atomic_write_json

FORMAT = "genscale-scaling-1"
# the model `genscale project` reads unless told otherwise (`make production-model`)
PACKAGED = Path(__file__).with_name("production-v1.scaling.json")
MAX_TERMS = 3
# how far a term is from a plain count of something: among sets the held-out rows cannot
# tell apart, the plainer wins
COMPLEXITY = {"one": 0, "genome": 1, "bases": 1, "threads": 1, "genome_log": 2,
              "bases_log_genome": 2, "pairs_log_pairs": 2, "bases_threads": 2,
              "bases_root_genome": 3}
MIN_ROWS = 5
LOG_SCALE = 0.25  # log miss beyond which a run weighs less in a fit (`_fit_terms`)
FOLDS = 6  # held-out folds, by dataset, that choose the terms
LOG_ERROR_CAP = 1.0  # a held-out miss counts at most as one of e-fold in choosing terms


@dataclass(frozen=True)
class Inputs:
    """The production dimensions of some rows, as arrays (one value per row)."""

    pairs: np.ndarray
    read_length: np.ndarray
    reference_bases: np.ndarray
    threads: np.ndarray

    @property
    def read_bases(self) -> np.ndarray:
        return 2.0 * self.pairs * self.read_length

    @classmethod
    def of(cls, pairs: float, read_length: float, reference_bases: float,
           threads: float) -> Inputs:
        return cls(*(np.array([float(v)]) for v in (pairs, read_length, reference_bases,
                                                    threads)))

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> Inputs:
        """From a model table (`model.dataset.model_table`): `fastq_1.reads` pairs of
        `fastq_1.length_mean` bases, `reference.bases` (else the design's `genome_bases`),
        `threads_requested`."""
        def column(*names: str) -> np.ndarray:
            for name in names:
                if name in table.columns:
                    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)
            raise UserError(f"the table has no {' or '.join(names)} column")

        reference = column("reference.bases", "genome_bases")
        if "genome_bases" in table.columns:
            reference = np.where(np.isnan(reference), column("genome_bases"), reference)
        return cls(column("fastq_1.reads", "pairs"), column("fastq_1.length_mean"), reference,
                   column("threads_requested"))


def _log2(x: np.ndarray) -> np.ndarray:
    return np.log2(np.maximum(x, 2.0))


TERMS: dict[str, Callable[[Inputs], np.ndarray]] = {
    "one": lambda x: np.ones_like(x.pairs),
    "genome": lambda x: x.reference_bases,
    "genome_log": lambda x: x.reference_bases * _log2(x.reference_bases),
    "bases": lambda x: x.read_bases,
    "bases_log_genome": lambda x: x.read_bases * _log2(x.reference_bases),
    "bases_root_genome": lambda x: x.read_bases * np.sqrt(x.reference_bases / 1e6),
    "pairs_log_pairs": lambda x: x.pairs * _log2(x.pairs),
    "threads": lambda x: x.threads,
    "bases_threads": lambda x: x.read_bases * (x.threads - 1.0),
}
# what each demand may grow with; the I/O columns are the bytes a step asks to read and
# write (`read_chars`, `write_chars`): what a cold node's storage must serve, where the
# block-layer counters of a machine whose page cache holds the inputs read nearly 0
DEMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cpu_time_s": ("cpu_time_s", ("one", "genome", "genome_log", "bases", "bases_log_genome",
                                  "bases_root_genome", "pairs_log_pairs", "bases_threads")),
    "peak_rss_bytes": ("peak_rss_bytes", ("one", "genome", "bases", "threads")),
    "read_bytes": ("read_chars", ("one", "genome", "bases")),
    "write_bytes": ("write_chars", ("one", "genome", "bases")),
}


def term_matrix(inputs: Inputs, names: tuple[str, ...] | list[str]) -> np.ndarray:
    return np.column_stack([TERMS[name](inputs) for name in names])


def _fit_terms(matrix: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative coefficients whose sum of terms misses `y` least on the log scale,
    robustly (soft L1 beyond `LOG_SCALE`): a run whose reads were all trimmed away gives
    its aligner 0.01 s where the law says 70, and must not bend the law for the others.
    Started from the least relative squares (NNLS)."""
    from scipy.optimize import least_squares, nnls

    scale = np.abs(matrix).max(axis=0)
    scale[scale == 0] = 1.0
    a = matrix / scale
    start, _ = nnls(a / y[:, None], np.ones_like(y))
    start = np.maximum(start, 1e-6 * max(float(start.max()), 1e-12))
    log_y = np.log(y)

    def residual(c: np.ndarray) -> np.ndarray:
        return np.asarray(np.log(np.maximum(a @ c, 1e-300)) - log_y)

    def jacobian(c: np.ndarray) -> np.ndarray:
        return np.asarray(a / np.maximum(a @ c, 1e-300)[:, None])

    fitted = least_squares(residual, start, jac=jacobian, bounds=(0.0, np.inf),
                           loss="soft_l1", f_scale=LOG_SCALE)
    return np.asarray(fitted.x / scale)


def _folds(groups: np.ndarray) -> list[np.ndarray]:
    """Up to `FOLDS` held-out masks, each a set of whole datasets (spread by a fixed hash,
    so the same rows always give the same folds)."""
    names = np.unique(groups)
    order = np.argsort([hash_name(str(n)) for n in names])
    fold_of = {names[i]: rank % FOLDS for rank, i in enumerate(order)}
    assigned = np.array([fold_of[g] for g in groups])
    return [assigned == k for k in range(min(FOLDS, len(names)))]


def hash_name(name: str) -> int:
    import zlib

    return zlib.crc32(name.encode())


def _held_out_ratios(matrix: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """measured / predicted for each row, fitted without its fold's datasets."""
    ratios = np.full(len(y), np.nan)
    for test in _folds(groups):
        if test.all() or not test.any():
            continue
        predicted = matrix[test] @ _fit_terms(matrix[~test], y[~test])
        ratios[test] = y[test] / np.maximum(predicted, 1e-12)
    return ratios


def fit_demand(inputs: Inputs, y: np.ndarray, groups: np.ndarray,
               candidates: tuple[str, ...]) -> dict[str, Any]:
    """The chosen terms, their coefficients, and the held-out evidence (module docstring)."""
    tried: list[tuple[float, float, int, list[str], np.ndarray]] = []
    for k in range(1, MAX_TERMS + 1):
        for names in itertools.combinations(candidates, k):
            if "bases_threads" in names and "bases" not in names:
                continue  # threads' overhead comes on top of the work per base
            matrix = term_matrix(inputs, names)
            scaled = matrix / np.maximum(np.abs(matrix).max(axis=0), 1e-300)
            if np.linalg.matrix_rank(scaled) < k:
                continue  # a term the rows cannot tell from another (one G, one thread)
            ratios = _held_out_ratios(matrix, y, groups)
            finite = ratios[np.isfinite(ratios)]
            if finite.size == 0:
                continue
            errors = np.minimum(np.log(np.maximum(finite, 1e-12)) ** 2, LOG_ERROR_CAP)
            # the standard error of the rows the set fits (a run an e-fold off is the
            # tail's, and would make any set look as good as any other)
            body = errors[errors < LOG_ERROR_CAP]
            spread = float(body.std() / np.sqrt(body.size)) if body.size > 1 else 0.0
            tried.append((float(errors.mean()), spread, sum(COMPLEXITY[n] for n in names),
                          list(names), ratios))
    if not tried:
        raise UserError("too few distinct rows to fit any term")
    # the one-standard-error rule: the simplest set whose held-out error is within one
    # standard error of the best's (few runs cannot tell a N log N from a line)
    least = min(tried, key=lambda t: t[0])
    near = [t for t in tried if t[0] <= least[0] + least[1]]
    error, _, _, chosen, ratios = min(near, key=lambda t: (len(t[3]), t[2], t[0]))
    coef = _fit_terms(term_matrix(inputs, chosen), y)
    finite = ratios[np.isfinite(ratios)]
    logs = np.log(np.maximum(finite, 1e-12))
    return {"terms": chosen, "coefficients": [float(c) for c in coef],
            "p90_factor": float(max(np.quantile(finite, 0.9), 1.0)),
            # the spread of the body, robust to the few runs far off (those are the tail)
            "log_sigma": float(1.4826 * np.median(np.abs(logs - np.median(logs)))),
            "held_out_median_error": float(np.median(np.abs(finite - 1.0))),
            "held_out_log_mse": error, "rows": len(y)}


def predict_demand(fit: Mapping[str, Any], inputs: Inputs) -> np.ndarray:
    return np.asarray(term_matrix(inputs, fit["terms"]) @ np.asarray(fit["coefficients"]))


def fit_parallelism(cpu_s: np.ndarray, wall_s: np.ndarray, threads: np.ndarray
                    ) -> dict[str, Any]:
    """`base_cores` (median cores busy at one thread) and the parallel fraction `p` from the
    runs at more threads (None where the step never ran at more than one)."""
    cores = cpu_s / np.maximum(wall_s, 1e-9)
    one = threads <= 1
    base = float(np.median(cores[one])) if one.any() else None
    more = ~one
    fraction = None
    if more.any():
        reference = base if base is not None else 1.0
        speedup = np.maximum(cores[more] / reference, 1e-9)
        t = threads[more]
        fraction = float(np.clip(np.median((1 - 1 / speedup) / (1 - 1 / t)), 0.0, 1.0))
        if base is None:  # no run at one thread: what the others imply of one
            base = float(np.median(cores[more] * ((1 - fraction) + fraction / t)))
    return {"base_cores": base if base is not None else 1.0, "parallel_fraction": fraction,
            "threads_seen": sorted({int(v) for v in threads})}


def busy_cores(parallelism: Mapping[str, Any], threads: float, cores: float) -> float:
    """Cores a step of `threads` keeps busy, given `cores` at most."""
    p = parallelism.get("parallel_fraction") or 0.0
    speedup = 1.0 / ((1.0 - p) + p / max(threads, 1.0))
    return float(min(parallelism["base_cores"] * speedup, cores))


RANGE_COLUMNS = ("pairs", "read_length", "reference_bases", "threads")


GENOME_TERMS = ("genome", "genome_log", "bases_log_genome", "bases_root_genome")


def fit(table: pd.DataFrame, workflow: str, reference_readers: set[str] | None = None
        ) -> dict[str, Any]:
    """The scaling model of `workflow`'s steps, from a model table's rows of it. Only the
    steps in `reference_readers` (None: every step) may grow with the reference's length:
    a step that reads neither the reference nor an index of it does the same work on any
    reference (with few runs, held-out folds can otherwise pick a genome term by chance)."""
    rows = table[(table["workflow"].astype(str) == workflow)
                 & (table["step"].astype(str) != "(workflow)")]
    if rows.empty:
        raise UserError(f"the table has no rows of workflow {workflow}")
    steps: dict[str, Any] = {}
    for step, frame in rows.groupby("step", sort=True):
        inputs = Inputs.from_table(frame)
        groups = (frame["dataset_id"] if "dataset_id" in frame.columns
                  else frame["run_id"]).astype(str).to_numpy()
        demands = {}
        for name, (column, candidates) in DEMANDS.items():
            if column not in frame.columns:
                continue
            if reference_readers is not None and str(step) not in reference_readers:
                candidates = tuple(c for c in candidates if c not in GENOME_TERMS)
            y = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(y) & (y > 0) & np.isfinite(inputs.read_bases) \
                & np.isfinite(inputs.reference_bases)
            if ok.sum() < MIN_ROWS:
                continue
            demands[name] = fit_demand(_subset(inputs, ok), y[ok], groups[ok], candidates)
        if "cpu_time_s" not in demands:
            continue
        cpu = pd.to_numeric(frame["cpu_time_s"], errors="coerce").to_numpy(dtype=float)
        wall = pd.to_numeric(frame["wall_s"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(cpu) & np.isfinite(wall) & (cpu > 0) & (wall > 0)
        values = {"pairs": inputs.pairs, "read_length": inputs.read_length,
                  "reference_bases": inputs.reference_bases, "threads": inputs.threads}
        steps[str(step)] = {
            "app": str(frame["app"].iloc[0]), "demands": demands,
            "heap_overhead_bytes": _over_request(frame),
            "parallelism": fit_parallelism(cpu[ok], wall[ok], inputs.threads[ok]),
            "ranges": {k: [float(np.nanmin(v)), float(np.nanmax(v))]
                       for k, v in values.items()},
            "runs": int(frame["run_id"].nunique())}
    if not steps:
        raise UserError(f"no step of {workflow} has {MIN_ROWS} rows with the production "
                        "dimensions")
    return {"steps": steps}


def _over_request(frame: pd.DataFrame) -> float:
    """The most a run's peak RSS exceeded the memory its step asked for (0 if never):
    for a JVM, what it holds beyond the heap its command sets to that memory."""
    if "memory_requested_bytes" not in frame.columns:
        return 0.0
    over = (pd.to_numeric(frame["peak_rss_bytes"], errors="coerce")
            - pd.to_numeric(frame["memory_requested_bytes"], errors="coerce"))
    return float(max(over.max(skipna=True), 0.0)) if over.notna().any() else 0.0


def _subset(inputs: Inputs, keep: np.ndarray) -> Inputs:
    return Inputs(inputs.pairs[keep], inputs.read_length[keep], inputs.reference_bases[keep],
                  inputs.threads[keep])


def quality_factors(bundle: Any, workflow: str, steps: list[str], quality: pd.DataFrame,
                    typical: pd.DataFrame) -> dict[str, float]:
    """Each step's time on reads of `quality` over its time on reads of `typical` quality,
    as a wall_s bundle by workflow and step predicts them at the same read bases (the
    median over the rows of `quality`, each paired with `typical`'s medians at its size).
    The production corpus runs typical reads: this carries the effect of quality that
    corpus-v1 measured (at a 1 Mb reference) to any reference, as a factor."""
    features = bundle.metadata["features"]
    base = typical[[c for c in features if c in typical.columns]].median(numeric_only=True)
    factors: dict[str, float] = {}
    for step in steps:
        asked = quality.assign(workflow=workflow, step=step)
        plain = asked.copy()
        for column, value in base.items():
            if column not in ("read_bases", "dataset_input_bytes"):
                plain[column] = value
        for frame in (asked, plain):
            for column in features:
                if column not in frame.columns:
                    frame[column] = base.get(column, np.nan)
        ratio = (bundle.predict(asked)["predicted_wall_s"].to_numpy()
                 / bundle.predict(plain)["predicted_wall_s"].to_numpy())
        ratio = ratio[np.isfinite(ratio)]
        if ratio.size:
            factors[step] = float(np.median(ratio))
    return factors


def residual_tail(workflows: pd.DataFrame, k: float) -> dict[str, dict[str, Any]]:
    """By quality preset: how often a run took more than `k` times the median of the runs
    of its size and preset (`rate`), and by how much (`factors`, sorted). Size and quality
    are what the laws and the quality factors already carry; this is what is left.
    `workflows`: a corpus's succeeded `workflows.csv` rows of one workflow."""
    median = workflows.groupby(["pairs", "preset"])["makespan_s"].transform("median")
    ratio = workflows["makespan_s"] / median
    out: dict[str, dict[str, Any]] = {}
    for preset, group in ratio.groupby(workflows["preset"]):
        tail = group[group > k]
        out[str(preset)] = {"rate": float(len(tail) / len(group)),
                            "factors": sorted(round(float(v), 4) for v in tail),
                            "runs": len(group)}
    return out


def fit_file(corpora: list[Path], quality_bundle: Path | None, quality_corpus: Path | None
             ) -> dict[str, Any]:
    """A scaling model file: every workflow of the corpora, each fitted on the first corpus
    (in the order given) that ran it; and, given a wall_s bundle and the corpus it was
    trained on, each preset's quality factors and residual tail."""
    from genscale.data.knobs import PRESETS
    from genscale.model.dataset import model_table, size_features
    from genscale.model.shapes import measure
    from genscale.workflow.shape import reference_readers

    workflows: dict[str, Any] = {}
    sources: dict[str, str] = {}
    shapes: dict[str, Any] = {}
    for corpus_dir in corpora:
        table = model_table(corpus_dir)
        fresh = [str(w) for w in sorted(table["workflow"].dropna().unique())
                 if str(w) not in workflows]
        for workflow in fresh:
            workflows[workflow] = fit(table, workflow, reference_readers(workflow))
            sources[workflow] = corpus_dir.name
        if fresh and (corpus_dir / "samples.parquet").is_file():
            measured = measure(corpus_dir)
            shapes.update({w: measured[w] for w in fresh if w in measured})
    out: dict[str, Any] = {"format": FORMAT, "corpus": sources, "workflows": workflows,
                           "presets": {}, "shapes": shapes}
    if quality_bundle is None or quality_corpus is None:
        return out
    from genscale.model.bundle import Bundle

    bundle = Bundle.load(quality_bundle)
    runs_of = pd.read_csv(quality_corpus / "workflows.csv")
    runs = runs_of[["run_id", "workflow", "preset"]]
    features = size_features(pd.read_csv(quality_corpus / "features.csv"))
    features = features.drop(columns=["workflow"], errors="ignore").merge(runs, on="run_id")
    for workflow, model in workflows.items():
        rows = features[features["workflow"] == workflow]
        typical = rows[rows["preset"] == "typical"]
        if typical.empty:
            continue
        # what --dataset's reads are held against (`quality_factors`' `typical`)
        features_of = bundle.metadata["features"]
        out.setdefault("typical_features", {})[workflow] = {
            k: float(v) for k, v in typical[[c for c in features_of if c in typical.columns]]
            .median(numeric_only=True).items() if np.isfinite(v)}
        ran = runs_of[(runs_of["workflow"] == workflow) & (runs_of["status"] == "succeeded")]
        out.setdefault("tail", {})[workflow] = residual_tail(ran, FitOptions().tail_k)
        out["presets"][workflow] = {
            preset: quality_factors(bundle, workflow, sorted(model["steps"]),
                                    rows[rows["preset"] == preset].drop(columns=["workflow"]),
                                    typical)
            for preset in PRESETS if (rows["preset"] == preset).any()}
    out["quality_corpus"] = quality_corpus.name
    return out


def save(model: Mapping[str, Any], path: Path) -> None:
    atomic_write_json(path, dict(model))


def load(path: Path) -> dict[str, Any]:
    """A scaling model file; UserError naming it when it is not one."""
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such scaling model") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable scaling model ({exc})") from None
    if not isinstance(model, dict) or model.get("format") != FORMAT \
            or not isinstance(model.get("workflows"), dict):
        raise UserError(f"{path}: not a scaling model (expected format {FORMAT})")
    return model


def workflow_model(model: Mapping[str, Any], workflow: str) -> dict[str, Any]:
    """One workflow's part of a scaling model file; UserError naming those it has."""
    try:
        return dict(model["workflows"][workflow])
    except KeyError:
        raise UserError(f"the scaling model has no workflow {workflow} (it has "
                        f"{', '.join(sorted(model['workflows'])) or 'none'})") from None
