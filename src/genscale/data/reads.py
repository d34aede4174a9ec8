"""Applying the quality knobs to simulated read pairs, streaming, in flat memory.

ART's pairs come in; each pair is kept, or replaced by a contaminant pair, an adapter
read-through pair or a duplicate of an earlier pair; then reads get low-complexity
sequence, poly-G tails and N calls. Every read is renamed Illumina-style
(`SIM:1:FC:lane:tile:x:y`), so Picard can tell optical duplicates (neighbours on a tile) from
PCR duplicates. Duplicates are drawn from a bounded reservoir of earlier pairs, so memory
does not grow with the number of pairs.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import dnaio
import numpy as np

from genscale.data.knobs import QualityKnobs

# TruSeq adapters as read through into read 1 and read 2; their common prefix
# AGATCGGAAGAGC is what FastQC calls the Illumina Universal Adapter
ADAPTER_1 = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCACATCACGATCTCGTATGCCGTCTTCTGCTTG"
ADAPTER_2 = "AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGTAGATCTCGGTGGTCGCCGTATCATTAAAAAA"
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
RESERVOIR_PAIRS = 20_000
OPTICAL_PIXELS = 50  # well inside Picard's default OPTICAL_DUPLICATE_PIXEL_DISTANCE of 100


@contextmanager
def gzipped_pair_writer(out1: Path, out2: Path) -> Iterator[Any]:
    """A dnaio writer of gzipped paired FASTQ whose bytes depend only on the reads: no time
    or name in the gzip header, so the same seed gives the same checksum."""
    with open(out1, "wb") as raw1, open(out2, "wb") as raw2, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw1, compresslevel=6,
                          mtime=0) as gz1, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw2, compresslevel=6,
                          mtime=0) as gz2, \
            dnaio.open(cast(BinaryIO, gz1), cast(BinaryIO, gz2), mode="w",
                       fileformat="fastq") as writer:
        yield writer


def _gc(*seqs: str) -> float:
    total = sum(len(s) for s in seqs)
    return sum(s.count("G") + s.count("C") for s in seqs) / total if total else 0.0


def gc_oversampling(knobs: QualityKnobs, source: dict[str, bytes], fragment: int,
                    seed: int, samples: int = 4000) -> float:
    """How many more pairs ART must make so that about the asked number survive gc_bias:
    1 / the mean keep probability over random fragments of `source`."""
    if not knobs.gc_bias:
        return 1.0
    rng = random.Random(seed)
    genome = _Genome(source)
    keep = [knobs.gc_keep(_gc(genome.fragment(rng, fragment))) for _ in range(samples)]
    return 1.0 / max(sum(keep) / samples, 1e-3)


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


@dataclass
class KnobCounts:
    """How many pairs and reads each knob touched: the dataset's ground truth."""

    pairs: int = 0
    contaminant_pairs: int = 0
    adapter_pairs: int = 0
    duplicate_pairs: int = 0
    optical_duplicate_pairs: int = 0
    low_complexity_pairs: int = 0
    polyg_reads: int = 0
    n_bases: int = 0
    gc_dropped_pairs: int = 0


class _Genome:
    """Random fragments of a set of sequences, chosen in proportion to their length."""

    def __init__(self, seqs: dict[str, bytes]) -> None:
        self.seqs = [s.decode() for s in seqs.values()]
        self.weights = [len(s) for s in self.seqs]

    def fragment(self, rng: random.Random, length: int) -> str:
        seq = rng.choices(self.seqs, weights=self.weights)[0]
        start = rng.randrange(0, max(1, len(seq) - length))
        frag = seq[start:start + length]
        return frag if rng.random() < 0.5 else revcomp(frag)


def apply_knobs(in1: Path, in2: Path, out1: Path, out2: Path, knobs: QualityKnobs,
                donor: dict[str, bytes], foreign: dict[str, bytes], read_length: int,
                insert_mean: int, seed: int) -> KnobCounts:
    """Stream ART's pairs from in1/in2 to gzipped out1/out2 with the knobs applied."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    own, alien = _Genome(donor), _Genome(foreign)
    counts = KnobCounts()
    # seq1 qual1 seq2 qual2 tile x y of earlier original pairs
    reservoir: list[tuple[str, str, str, str, int, int, int]] = []
    seen = 0
    k = knobs
    cut_adapter = k.contamination_fraction + k.adapter_fraction
    cut_dup = cut_adapter + k.duplicate_fraction
    with dnaio.open(in1, in2) as reader, gzipped_pair_writer(out1, out2) as writer:
        for r1, r2 in reader:
            if k.gc_bias and rng.random() >= k.gc_keep(_gc(r1.sequence, r2.sequence)):
                counts.gc_dropped_pairs += 1
                continue
            counts.pairs += 1
            u = rng.random()
            q1, q2 = r1.qualities, r2.qualities
            tile, x, y = 1101 + rng.randrange(20), rng.randrange(30000), rng.randrange(30000)
            if u >= cut_adapter and u < cut_dup and reservoir:
                # a copy of an earlier pair, exactly as it was written
                s1, q1, s2, q2, otile, ox, oy = reservoir[rng.randrange(len(reservoir))]
                if rng.random() < k.optical_duplicate_fraction:
                    tile = otile
                    x = max(0, ox + rng.randint(-OPTICAL_PIXELS, OPTICAL_PIXELS))
                    y = max(0, oy + rng.randint(-OPTICAL_PIXELS, OPTICAL_PIXELS))
                    counts.optical_duplicate_pairs += 1
                counts.duplicate_pairs += 1
            else:
                if u < k.contamination_fraction:
                    size = max(read_length, int(rng.gauss(insert_mean, 30)))
                    frag = alien.fragment(rng, size)
                    s1, s2 = frag[:read_length], revcomp(frag)[:read_length]
                    counts.contaminant_pairs += 1
                elif u < cut_adapter:
                    mean = k.short_insert_mean
                    size = max(15, min(read_length - 5, int(rng.gauss(mean, mean / 4))))
                    frag = own.fragment(rng, size)
                    s1 = (frag + ADAPTER_1).ljust(read_length, "A")[:read_length]
                    s2 = (revcomp(frag) + ADAPTER_2).ljust(read_length, "A")[:read_length]
                    counts.adapter_pairs += 1
                else:
                    s1, s2 = r1.sequence, r2.sequence
                    if k.low_complexity_fraction and rng.random() < k.low_complexity_fraction:
                        unit = "".join(rng.choices("ACGT", k=rng.randint(1, 3)))
                        s1 = (unit * read_length)[:len(s1)]
                        s2 = (revcomp(unit) * read_length)[:len(s2)]
                        counts.low_complexity_pairs += 1
                # sequencing artefacts hit every read that went through the sequencer
                s1, q1 = _decorate(s1, q1, k, rng, nrng, counts)
                s2, q2 = _decorate(s2, q2, k, rng, nrng, counts)
                if u >= cut_dup:  # only genuine molecules of the sample get copied
                    seen += 1
                    entry = (s1, q1, s2, q2, tile, x, y)
                    if len(reservoir) < RESERVOIR_PAIRS:
                        reservoir.append(entry)
                    else:  # reservoir sampling: every earlier pair equally likely
                        j = rng.randrange(seen)
                        if j < RESERVOIR_PAIRS:
                            reservoir[j] = entry
            name = f"SIM:1:FC:1:{tile}:{x}:{y}"
            writer.write(dnaio.SequenceRecord(name, s1, q1), dnaio.SequenceRecord(name, s2, q2))
    return counts


def _decorate(seq: str, qual: str | None, k: QualityKnobs, rng: random.Random,
              nrng: np.random.Generator, counts: KnobCounts) -> tuple[str, str]:
    """Poly-G tail and N calls on one read."""
    assert qual is not None
    if k.polyg_fraction and rng.random() < k.polyg_fraction:
        tail = rng.randint(max(10, len(seq) // 5), max(11, len(seq) // 2))
        seq = seq[:-tail] + "G" * tail
        counts.polyg_reads += 1
    if k.n_rate:
        n = int(nrng.binomial(len(seq), k.n_rate))
        if n:
            chars, quals = list(seq), list(qual)
            for i in rng.sample(range(len(seq)), n):
                chars[i], quals[i] = "N", "#"
            seq, qual = "".join(chars), "".join(quals)
            counts.n_bases += n
    return seq, qual
