"""References that behave like a human one, at any length.

bwa's work per read depends on how much of the genome is repeated and how: short
interspersed families (Alu-like) of a few hundred bases, long ones (L1-like) of a kb or
more, other retroelements and DNA transposons, satellite arrays and microsatellites, and
recent segmental duplications, whose near-identical copies leave reads without a unique
place (MAPQ 0). `RepeatModel` holds those properties as knobs; its defaults are the human
genome's published composition (docs/datasets.md cites them):

- interspersed repeats (IHGSC 2001, Nature 409:860, Table 11): SINEs 13.1% of the genome
  (Alu about 300 bp), LINEs 20.4% (L1 up to 6 kb, most copies 5'-truncated to under 1 kb),
  LTR retroelements 8.3% and DNA transposons 2.8%; copies 5-30% diverged from their
  family's consensus, the older families more;
- satellites about 3% (alpha satellite: 171 bp monomers in arrays of many kb, copies of a
  higher-order repeat 1-3% apart) and microsatellites about 3% (1-6 bp motifs);
- segmental duplications 5.3% of the genome (Bailey et al. 2002, Science 297:1003):
  copies of 1 kb and more at 90% identity or more, many recent (over 99%).

`build` writes the repeats over a GC-varying random background, the segmental duplications
last (they copy whatever the region holds, repeats included), and returns the layout: how
much of each class it placed, so a dataset's manifest says what its reference is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from genscale.errors import UserError

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


@dataclass(frozen=True)
class RepeatModel:
    """What a synthetic reference is made of besides unique sequence; fractions are shares
    of the reference's length, divergences the mean share of a copy's bases that differ
    from its family's consensus (or, for a segmental duplication, from its source)."""

    sine_fraction: float = 0.131
    sine_divergence: float = 0.12
    line_fraction: float = 0.204
    line_divergence: float = 0.18
    ltr_dna_fraction: float = 0.111  # LTR retroelements and DNA transposons
    ltr_dna_divergence: float = 0.22
    satellite_fraction: float = 0.03
    microsatellite_fraction: float = 0.03
    segdup_fraction: float = 0.053  # both copies of each pair, as Bailey et al. count it
    segdup_divergence: float = 0.02  # mean; each pair's is drawn from 0.1% to 2x this

    def check(self) -> None:
        fractions = {k: v for k, v in asdict(self).items() if k.endswith("_fraction")}
        for name, value in asdict(self).items():
            limit = 0.5 if name.endswith("_divergence") else 1.0
            if not 0 <= value <= limit:
                raise UserError(f"--{name.replace('_', '-')}: expected 0 to {limit}, "
                                f"got {value}")
        if sum(fractions.values()) > 0.9:
            raise UserError("the repeat fractions add up to more than 0.9 of the reference "
                            f"({sum(fractions.values()):.3f})")


@dataclass
class _Family:
    consensus: np.ndarray
    divergence: float


@dataclass
class Layout:
    """What `build` placed: bases of each class (a later copy may cover an earlier one),
    and the recent segmental duplications as (contig, source start, copy start, length,
    divergence)."""

    placed_bases: dict[str, int] = field(default_factory=dict)
    segdups: list[tuple[str, int, int, int, float]] = field(default_factory=list)

    def summary(self, genome_bases: int) -> dict[str, Any]:
        return {"fractions": {k: round(v / genome_bases, 5)
                              for k, v in self.placed_bases.items()},
                "segdups": len(self.segdups),
                "segdup_bases": 2 * sum(s[3] for s in self.segdups)}


def random_seq(n: int, gc: float, rng: np.random.Generator) -> np.ndarray:
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return BASES[rng.choice(4, size=n, p=p)]


def isochores(n: int, gc: float, rng: np.random.Generator) -> np.ndarray:
    """Blocks of 5-30 kb whose GC varies around `gc` (s.d. 0.06), as real genomes' does."""
    blocks = []
    made = 0
    while made < n:
        size = min(n - made, int(rng.integers(5_000, 30_000)))
        blocks.append(random_seq(size, float(np.clip(rng.normal(gc, 0.06), 0.2, 0.8)), rng))
        made += size
    return np.concatenate(blocks)


MUTATE_CHUNK = 1 << 24  # bases drawn for at once: 128 MiB of uniforms, whatever the genome


def mutate(seq: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of `seq` with a `rate` share of its bases substituted. A sequence longer than
    MUTATE_CHUNK is done a chunk at a time (a GRCh38-sized donor would otherwise draw 25 GB
    of uniforms); a shorter one draws exactly as before, so its datasets stay the same."""
    seq = seq.copy()
    for start in range(0, seq.size, MUTATE_CHUNK):
        part = seq[start:start + MUTATE_CHUNK]  # a view: changed in place
        where = np.flatnonzero(rng.random(part.size) < rate)
        part[where] = BASES[(np.searchsorted(BASES, part[where])
                             + rng.integers(1, 4, where.size)) % 4]
    return seq


def _families(count: int, low: int, high: int, divergence: float, gc: float,
              rng: np.random.Generator) -> list[_Family]:
    """`count` families of consensus lengths in [low, high); their copies' divergence
    varies by family (young and old ones) around `divergence`."""
    spread = rng.uniform(0.5, 1.5, count)
    return [_Family(random_seq(int(rng.integers(low, high)), gc, rng),
                    float(min(0.5, divergence * s))) for s in spread]


def _scatter(seq: np.ndarray, target: int, families: list[_Family], truncate: bool,
             rng: np.random.Generator) -> int:
    """Copies of `families` written over `seq` at random places until `target` bases are
    placed (5'-truncated copies where `truncate`, as most L1 copies are); bases placed."""
    placed = 0
    while placed < target:
        family = families[int(rng.integers(len(families)))]
        unit = family.consensus
        if truncate:  # most copies keep only their 3' end: a few hundred bases
            keep = int(min(unit.size, max(200, rng.exponential(900))))
            unit = unit[unit.size - keep:]
        copy = mutate(unit, family.divergence, rng)
        if rng.random() < 0.5:  # either strand
            copy = _revcomp(copy)
        if not _place(seq, copy, rng):
            break
        placed += copy.size
    return placed


def _place(seq: np.ndarray, piece: np.ndarray, rng: np.random.Generator) -> bool:
    """Write `piece` over `seq` at a random place; False where it does not fit."""
    if piece.size >= seq.size:
        return False
    at = int(rng.integers(0, seq.size - piece.size))
    seq[at:at + piece.size] = piece
    return True


def _revcomp(seq: np.ndarray) -> np.ndarray:
    table = np.zeros(256, dtype=np.uint8)
    table[BASES] = BASES[::-1]
    return table[seq[::-1]]


def _arrays(seq: np.ndarray, target: int, unit_low: int, unit_high: int,
            array_low: int, array_high: int, divergence: float, gc: float,
            rng: np.random.Generator) -> int:
    """Tandem arrays: a unit of [unit_low, unit_high) bases repeated head to tail into
    arrays of [array_low, array_high) bases, each copy `divergence` from the unit."""
    placed = 0
    while placed < target:
        unit = random_seq(int(rng.integers(unit_low, unit_high)), gc, rng)
        length = min(seq.size // 4, int(rng.integers(array_low, array_high)))
        copies = max(2, length // unit.size)
        array = mutate(np.tile(unit, copies), divergence, rng)
        if not _place(seq, array, rng):
            break
        placed += array.size
    return placed


def _segdups(seq: np.ndarray, name: str, target: int, divergence: float,
             rng: np.random.Generator, layout: Layout) -> int:
    """Pairs of near-identical regions: a region of 1-100 kb (log-uniform; at most a 20th
    of the contig) copied elsewhere on the contig with its own divergence, drawn from 0.1%
    to twice `divergence`. `target` counts both copies of each pair."""
    placed = 0
    high = max(1_001, min(100_000, seq.size // 20))
    while placed < target:
        length = int(np.exp(rng.uniform(np.log(1_000), np.log(high))))
        length = max(1_000, min(length, (target - placed) // 2))  # no pair overshoots much
        source = int(rng.integers(0, seq.size - length))
        at = int(rng.integers(0, seq.size - length))
        if abs(at - source) < length:  # a copy overlapping its source is no duplicate
            continue
        rate = float(rng.uniform(0.001, max(0.0011, 2 * divergence)))
        copy = mutate(seq[source:source + length], rate, rng)
        seq[at:at + length] = copy
        layout.segdups.append((name, source, at, length, rate))
        placed += 2 * length
    return placed


# GRCh38's chr1, its longest contig. Tools hold a whole contig in memory (Picard's
# CreateSequenceDictionary with the catalog's 1 GiB heap fails on a 500 Mb contig and not on
# a 250 Mb one, measured), so a human-like reference is never made of longer ones.
LONGEST_HUMAN_CONTIG = 248_956_422


def contig_count(genome_bases: int, chromosomes: int) -> int:
    """The contigs a human-like reference of `genome_bases` has: `chromosomes`, or more
    where that many would be longer than GRCh38's longest."""
    return max(chromosomes, -(-genome_bases // LONGEST_HUMAN_CONTIG))


def build(genome_bases: int, chromosomes: int, gc: float, model: RepeatModel,
          rng: np.random.Generator) -> tuple[dict[str, bytes], Layout]:
    """A reference of `genome_bases` in `contig_count(genome_bases, chromosomes)` contigs,
    made as `model` says; and what was placed."""
    model.check()
    chromosomes = contig_count(genome_bases, chromosomes)
    per_contig = genome_bases // chromosomes
    layout = Layout(placed_bases=dict.fromkeys(
        ("sine", "line", "ltr_dna", "satellite", "microsatellite", "segdup"), 0))
    # a few hundred families at human scale would do no better here: what matters to an
    # aligner is copies per family and their divergence, which these set
    sines = _families(12, 250, 320, model.sine_divergence, gc, rng)
    lines = _families(6, 5_000, 6_500, model.line_divergence, gc, rng)
    others = _families(20, 300, 3_000, model.ltr_dna_divergence, gc, rng)
    contigs = {}
    for c in range(chromosomes):
        name = f"chr{c + 1}"
        seq = isochores(per_contig, gc, rng)
        placed = layout.placed_bases
        placed["ltr_dna"] += _scatter(seq, int(per_contig * model.ltr_dna_fraction), others,
                                      False, rng)
        placed["line"] += _scatter(seq, int(per_contig * model.line_fraction), lines, True,
                                   rng)
        placed["sine"] += _scatter(seq, int(per_contig * model.sine_fraction), sines, False,
                                   rng)
        placed["satellite"] += _arrays(seq, int(per_contig * model.satellite_fraction),
                                       171, 172, 10_000, 60_000, 0.02, 0.38, rng)
        placed["microsatellite"] += _arrays(
            seq, int(per_contig * model.microsatellite_fraction), 1, 7, 20, 300, 0.02, gc,
            rng)
        placed["segdup"] += _segdups(seq, name, int(per_contig * model.segdup_fraction),
                                     model.segdup_divergence, rng, layout)
        contigs[name] = seq.tobytes()
    return contigs, layout
