"""A mix file: what platform `genscale synth trace` makes a workload of.

    span_days: 30
    node: {cores: 64, memory_bytes: 512G}             # what Alibaba's and SWF's relative
                                                     # columns refer to
    arrivals: {process: diurnal, peak_to_trough: 3}   # or poisson; bursts (burst_size);
                                                      # replay (replay_csv, replay_column)
    workflows:
      - workflow: dnaseq
        share: 0.6
        pairs: {median: 50M, sigma: 1.2}     # lognormal read pairs
        read_lengths: {100: 0.7, 150: 0.3}   # shares
        reference_bases: 3.1G
        threads: 8
        quality: {typical: 0.8, clean: 0.1, degraded: 0.08, pathological: 0.02}

The defaults (`DEFAULT`) are GDC's, as REFERENCE.md gives them: ISB-CGC's mirror of GDC lists
73,487 DNA-Seq BAMs of about 19 GB each (1 MB to about 1 TB) and 47,818 RNA-Seq BAMs of about
4.5 GB each; at about 190 bytes of BAM per 100 bp read pair (HG00096: 24 million pairs in
1.9 + 1.8 GB of gzipped FASTQ), that is a mean of 100 million DNA-Seq pairs (a lognormal of
median 50 million and sigma 1.2 has that mean) and 24 million RNA-Seq pairs (median 17
million, sigma 0.8); GRCh38; bwa mem with 8 threads as GDC runs it. (About 2% of a
production platform's workflows take up to 15x the median: with sizes this spread, size alone
puts 2% of workflows above 11.7x the median, exp(2.05 x 1.2).)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from genscale.errors import UserError


def _count(value: object) -> float:
    """24M, 3.1G, 150: a count (decimal suffixes)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    scale = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(text[-1:].upper(), 1.0)
    try:
        return float(text[:-1] if scale != 1.0 else text) * scale
    except ValueError:
        raise ValueError(f"expected a count such as 24M, got {value!r}") from None


def _bytes(value: object) -> float:
    """512G, 4096M: binary units, as `--memory` takes them."""
    from genscale.workflow.spec import parse_bytes

    return float(parse_bytes(value))


class Pairs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    median: Annotated[float, BeforeValidator(_count), Field(gt=0, lt=1e13)]
    sigma: Annotated[float, Field(ge=0, le=5)] = 1.0


class WorkflowMix(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: str
    share: Annotated[float, Field(gt=0)]
    pairs: Pairs
    read_lengths: dict[int, Annotated[float, Field(gt=0)]] = {100: 1.0}
    reference_bases: Annotated[float, BeforeValidator(_count), Field(gt=0, lt=1e12)] = 3.1e9
    threads: Annotated[int, Field(ge=1, le=4096)] = 8
    quality: dict[Literal["clean", "typical", "degraded", "pathological"],
                  Annotated[float, Field(ge=0)]] = {"typical": 1.0}


class Arrivals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    process: Literal["poisson", "diurnal", "bursts", "replay"] = "poisson"
    # diurnal: the busiest hour's rate over the quietest's (a cosine over the day)
    peak_to_trough: Annotated[float, Field(ge=1, le=100)] = 3.0
    # bursts: this many workflows at once, the bursts evenly spread over the span
    burst_size: Annotated[int, Field(ge=1)] = 100
    # replay: real arrival times, a CSV column of seconds (relative to the mix file), used
    # in order from the first (repeated after its last if N is larger)
    replay_csv: Path | None = None
    replay_column: str = "submit_s"


class Node(BaseModel):
    """The node the trace's relative columns refer to (Alibaba's plan_mem, SWF's
    MaxProcs): not a limit on what is drawn."""

    model_config = ConfigDict(extra="forbid")

    cores: Annotated[int, Field(ge=1, le=1_000_000)] = 64
    memory_bytes: Annotated[float, BeforeValidator(_bytes), Field(gt=0)] = 512 * 2**30


class Mix(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node: Node = Node()
    span_days: Annotated[float, Field(gt=0, le=3650)] = 30.0
    arrivals: Arrivals = Arrivals()
    workflows: Annotated[list[WorkflowMix], Field(min_length=1)]


DEFAULT = Mix(workflows=[
    WorkflowMix(workflow="dnaseq", share=0.6, pairs=Pairs(median=50e6, sigma=1.2),
                read_lengths={100: 1.0}, reference_bases=3.1e9, threads=8,
                quality={"typical": 0.8, "clean": 0.1, "degraded": 0.08,
                         "pathological": 0.02}),
    WorkflowMix(workflow="rnaseq", share=0.4, pairs=Pairs(median=17e6, sigma=0.8),
                read_lengths={100: 1.0}, reference_bases=3.1e9, threads=8,
                quality={"typical": 0.8, "clean": 0.1, "degraded": 0.08,
                         "pathological": 0.02}),
])


def load_mix(path: Path | None) -> Mix:
    """The mix file at `path` (the defaults when None); one line for what is wrong."""
    if path is None:
        return DEFAULT
    from genscale.workflow.loader import load_model, read_spec_text

    if not path.is_file():
        raise UserError(f"{path}: no such mix file")
    mix, source = load_model(str(path), read_spec_text(path), Mix, "a mix file")
    replay = mix.arrivals.replay_csv
    if mix.arrivals.process == "replay":
        if replay is None:
            raise UserError(source.problem(("arrivals",), "process replay needs replay_csv"))
        mix.arrivals.replay_csv = replay if replay.is_absolute() else path.parent / replay
    return mix
