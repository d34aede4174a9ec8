"""Quality features of raw FASTQ, in one streaming pass, before anything runs.

dnaio (C) hands over chunks of whole records; one loop compiled by numba
(`genscale.quality.fastq_kernel`) then parses each chunk and does everything per base in a
single pass. Memory is bounded by the chunk size and the fixed-size samples kept for
duplication and complexity, whatever the file size.

Where FastQC reports the same number, the definition follows FastQC's: %GC over all bases,
duplication and overrepresented sequences from the first 100,000 reads (reads longer than
75 bp truncated to 50 bp), adapter content as the share of reads containing the adapter's
first 12 bases.

The quality trim most pipelines run first (Trimmomatic's SLIDINGWINDOW:4:15 MINLEN:36, as in
its manual, the GDC-style workflows here and many others) decides how much of a file the
aligners see, and bad reads cost an aligner more per read: so the reads and bases that
would survive that trim, and the expected errors (from the Phred scores) of what survives,
are features too. They follow Trimmomatic 0.39's rule exactly (an N counts as quality 0
there): drop a read whose first 4-base window has a mean quality under 15; otherwise cut at
the end of the first later window that does, then back to the last base of quality 15 or
more; drop the read if under 36 bases are left.

Scores are Phred+33 unless the file is Phred+64 (Illumina 1.3 to 1.7), told as FastQC tells
it, by the lowest quality character (64 or more), but only where the highest also looks
like Phred+64 (`phred_offset`): a Phred+33 file of high scores alone (simulated reads of
one score, filtered or long reads) is not taken for one, as FastQC takes it. Every number
is then the same as for the file's Phred+33 copy.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import dnaio
import numpy as np
from xopen import xopen

from genscale.quality import fastq_kernel as kernel
from genscale.quality.errors import ReportError

CHUNK_BYTES = 2 * 2**20  # whole records a chunk; small enough to stay in cache (measured)
DUP_SAMPLE_READS = 100_000
COMPLEXITY_SAMPLE_READS = 20_000
MAX_POSITIONS = kernel.MAX_POSITIONS
PHRED_OFFSET = kernel.PHRED_OFFSET
PHRED64_OFFSET = 64
# a Phred+64 file's scores reach ASCII 80 (Q16) at least, and Illumina 1.3-1.7 wrote none
# over 'h' (104, Q40): past these bounds a file of only high characters is Phred+33
PHRED64_HIGHEST_RANGE = (ord("P"), ord("n"))
# FastQC's names of the encodings
ENCODINGS = {PHRED_OFFSET: "Sanger / Illumina 1.9", PHRED64_OFFSET: "Illumina 1.5"}
# FastQC 0.11.9's adapter list (the first 12 bases of each). None is periodic, so a read
# of ordinary length cannot hold two non-overlapping copies short of a concatemer, and
# counting occurrences counts reads. (Poly-G tails are a feature of their own below.)
ADAPTERS = {
    "Illumina Universal Adapter": "AGATCGGAAGAG",
    "Illumina Small RNA 3' Adapter": "TGGAATTCTCGG",
    "Illumina Small RNA 5' Adapter": "GATCGTCGGACT",
    "Nextera Transposase Sequence": "CTGTCTCTTATA",
    "SOLID Small RNA Adapter": "CGCCTTGGCCGT",
}
_ADAPTER_BYTES = np.array([list(a.encode()) for a in ADAPTERS.values()], dtype=np.uint8)
_ERRORS = {offset: kernel.error_table(offset) for offset in ENCODINGS}


@dataclass
class _Totals:
    """What `scan_chunk` adds up over a file's chunks, its scores being Phred+`offset`."""

    offset: int = PHRED_OFFSET
    reads: int = 0
    bases: int = 0
    min_len: int = 1 << 30
    max_len: int = 0
    length_counts: Counter[int] = field(default_factory=Counter)
    # the kernel's accumulators (see `fastq_kernel.scan`)
    quality_hist: np.ndarray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))
    pos_quality: np.ndarray = field(
        default_factory=lambda: np.zeros(MAX_POSITIONS, dtype=np.int64))
    pos_n: np.ndarray = field(default_factory=lambda: np.zeros(MAX_POSITIONS, dtype=np.int64))
    adapter_hits: np.ndarray = field(
        default_factory=lambda: np.zeros(len(ADAPTERS), dtype=np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(kernel.COUNTS, dtype=np.int64))
    sums: np.ndarray = field(default_factory=lambda: np.zeros(kernel.SUMS))
    dup_sample: Counter[str] = field(default_factory=Counter)
    dup_sampled: int = 0
    trimer_distinct: list[np.ndarray] = field(default_factory=list)
    kmer_counts: np.ndarray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))
    # room for each record's length and sequence offset, reused from chunk to chunk
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    seq_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def scan_chunk(t: _Totals, buf: np.ndarray, first_line: int) -> int:
    """Add the whole FASTQ records in `buf` (uint8, ending with a newline) to `t`; return
    how many there were. ValueError naming the line of a malformed record."""
    capacity = buf.size // 6 + 1  # the shortest record, "@\n\n+\n\n", is 6 bytes
    if t.lengths.size < capacity:
        t.lengths = np.zeros(capacity, dtype=np.int64)
        t.seq_starts = np.zeros(capacity, dtype=np.int64)
    n_reads, at = kernel.scan(buf, _ADAPTER_BYTES, t.offset, _ERRORS[t.offset], t.quality_hist,
                              t.pos_quality, t.pos_n, t.adapter_hits, t.counts, t.sums,
                              t.lengths, t.seq_starts)
    if n_reads < 0:
        raise ValueError(f"line {first_line + 4 * at}: {kernel.PROBLEMS[n_reads]}")
    lengths = t.lengths[:n_reads]
    starts = t.seq_starts[:n_reads]
    if not n_reads:
        return 0
    t.reads += n_reads
    t.bases += int(lengths.sum())
    low, high = int(lengths.min()), int(lengths.max())
    t.min_len = min(t.min_len, low)
    t.max_len = max(t.max_len, high)
    if low == high:
        t.length_counts[low] += n_reads  # the usual case: one length
    else:
        t.length_counts.update(lengths.tolist())
    room = DUP_SAMPLE_READS - t.dup_sampled
    if room > 0:
        text = buf.tobytes()
        sample = [text[s:s + n].decode("ascii", "replace")
                  for s, n in zip(starts[:room].tolist(), lengths[:room].tolist(), strict=True)]
        t.dup_sample.update(s[:50] if len(s) > 75 else s for s in sample)
        t.dup_sampled += len(sample)
    sampled = sum(a.size for a in t.trimer_distinct)
    if sampled < COMPLEXITY_SAMPLE_READS:
        k = min(COMPLEXITY_SAMPLE_READS - sampled, n_reads)
        offsets = np.zeros(k, dtype=np.int64)
        np.cumsum(lengths[:k - 1], out=offsets[1:])
        index = np.arange(int(lengths[:k].sum())) + np.repeat(starts[:k] - offsets, lengths[:k])
        _complexity(t, kernel.BASE_CODE[buf[index]], lengths[:k], offsets, k)
    return n_reads


def _complexity(t: _Totals, code: np.ndarray, lengths: np.ndarray, starts: np.ndarray,
                room: int) -> None:
    """Distinct trinucleotides per read, and the 4-mer spectrum, on a sample of reads."""
    n_reads = min(room, lengths.size)
    end = int(starts[n_reads - 1] + lengths[n_reads - 1]) if n_reads else 0
    c = code[:end].astype(np.int64)
    read_of = np.repeat(np.arange(n_reads), lengths[:n_reads])
    if c.size < 4:
        return
    valid3 = (c[:-2] < 4) & (c[1:-1] < 4) & (c[2:] < 4) & (read_of[:-2] == read_of[2:])
    tri = c[:-2] * 16 + c[1:-1] * 4 + c[2:]
    seen = np.bincount(read_of[:-2][valid3] * 64 + tri[valid3], minlength=n_reads * 64)
    t.trimer_distinct.append((seen.reshape(n_reads, 64) > 0).sum(axis=1))
    valid4 = valid3[:-1] & (c[3:] < 4) & (read_of[:-3] == read_of[3:])
    four = tri[:-1] * 4 + c[3:]
    t.kmer_counts += np.bincount(four[valid4], minlength=256)


def _percentile(hist: np.ndarray, q: float) -> int:
    cumulative = np.cumsum(hist)
    return int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))


def _summary(path: Path, t: _Totals) -> dict[str, Any]:
    if t.reads == 0:
        raise ReportError(path, "no reads")
    positions = int(min(t.max_len, MAX_POSITIONS))
    # reads reaching each position: those longer than it
    by_length = np.zeros(positions + 1, dtype=np.int64)
    for length, count in t.length_counts.items():
        by_length[min(length, positions)] += count
    pos_count = np.maximum(t.reads - np.cumsum(by_length)[:positions], 1)
    per_pos = (t.pos_quality[:positions] / pos_count).round(3)
    score_hist = t.quality_hist[t.offset:t.offset + 128]
    mean_q = float((np.arange(score_hist.size) * score_hist).sum() / score_hist.sum())
    head, tail = per_pos[: min(10, positions)], per_pos[max(0, positions - 10):]
    read_gc_sum, read_gc_sq, trim_removed_errors = (
        float(t.sums[i]) for i in (kernel.READ_GC_SUM, kernel.READ_GC_SQ,
                                   kernel.TRIM_REMOVED_ERRORS))
    gc, n_bases, polyg, trim_surviving, trim_kept_bases = (
        int(t.counts[i]) for i in (kernel.GC, kernel.N_BASES, kernel.POLYG,
                                   kernel.TRIM_SURVIVING, kernel.TRIM_KEPT_BASES))
    errors = float((_ERRORS[t.offset] * t.quality_hist).sum())
    mean_gc = read_gc_sum / t.reads
    distinct = len(t.dup_sample)
    sampled = t.dup_sampled
    overrep = [(s, c) for s, c in t.dup_sample.most_common(20) if c / sampled > 0.001]
    trimers = np.concatenate(t.trimer_distinct) if t.trimer_distinct else np.zeros(0)
    kmer_p = t.kmer_counts / max(int(t.kmer_counts.sum()), 1)
    entropy = float(-(kmer_p[kmer_p > 0] * np.log2(kmer_p[kmer_p > 0])).sum())
    metrics: dict[str, Any] = {
        "reads": t.reads,
        "bases": t.bases,
        "length_min": t.min_len,
        "length_max": t.max_len,
        "length_mean": round(t.bases / t.reads, 3),
        "quality_mean": round(mean_q, 3),
        **{f"quality_p{int(q * 100)}": _percentile(score_hist, q)
           for q in (0.1, 0.25, 0.5, 0.75, 0.9)},
        "quality_decline": round(float(head.mean() - tail.mean()), 3),
        "gc_percent": round(100 * gc / max(t.bases - n_bases, 1), 3),
        "gc_read_sd_percent": round(100 * max(read_gc_sq / t.reads - mean_gc ** 2, 0) ** 0.5,
                                    3),
        "n_percent": round(100 * n_bases / t.bases, 4),
        "n_position_max_percent": round(
            float((100 * t.pos_n[:positions] / pos_count).max()),
            4),
        "dedup_percent": round(100 * distinct / sampled, 3),
        "overrepresented_sequences": len(overrep),
        "overrepresented_top_percent": round(100 * overrep[0][1] / sampled, 4) if overrep
        else 0.0,
        "polyg_tail_percent": round(100 * polyg / t.reads, 4),
        "low_complexity_percent": round(100 * float((trimers <= 10).mean()), 4)
        if trimers.size else 0.0,
        "kmer4_entropy_bits": round(entropy, 4),
        "expected_error_percent": round(
            100 * errors / max(t.bases, 1), 4),
        "q15_trim_surviving_percent": round(100 * trim_surviving / t.reads, 4),
        "q15_trim_kept_bases_percent": round(100 * trim_kept_bases / max(t.bases, 1), 4),
        "q15_trim_kept_error_percent": round(
            100 * (errors - trim_removed_errors) / max(trim_kept_bases, 1), 4),
        **{f"adapter_percent.{name}": round(100 * int(hits) / t.reads, 4)
           for name, hits in zip(ADAPTERS, t.adapter_hits, strict=True)},
    }
    return {"format": "fastq", "file": str(path), "phred_offset": t.offset,
            "encoding": _encoding_name(t), "metrics": metrics,
            "per_position_quality": per_pos.tolist(),
            "length_distribution": dict(sorted(t.length_counts.items()))}


def phred_offset(quality_hist: np.ndarray) -> int:
    """64 where the quality bytes counted (`quality_hist`, by byte) are Phred+64's: the
    lowest 64 ('@') or more, as FastQC decides, and the highest within PHRED64_HIGHEST_RANGE;
    else 33."""
    seen = np.flatnonzero(quality_hist)
    if not seen.size:
        return PHRED_OFFSET
    lowest, highest = int(seen[0]), int(seen[-1])
    low, high = PHRED64_HIGHEST_RANGE
    return PHRED64_OFFSET if lowest >= PHRED64_OFFSET and low <= highest <= high \
        else PHRED_OFFSET


def _encoding_name(t: _Totals) -> str:
    seen = np.flatnonzero(t.quality_hist)
    if t.offset == PHRED64_OFFSET and seen.size and seen[0] == ord("A"):
        return "Illumina 1.3"  # FastQC's name where the lowest is 'A'
    return ENCODINGS[t.offset]


def fastq_features(path: Path) -> dict[str, Any]:
    """Features of one FASTQ file (gzipped or not): reads, bases, quality percentiles,
    adapters, duplication, what a Q15 trim keeps and more; ReportError on a bad file.
    Phred+64 files are read as such (`phred_offset`; a second pass over the file).

        features = genscale.fastq_features(Path("reads_1.fq.gz"))
        features["reads"], features["quality_mean"], features["dedup_percent"]
    """
    if not path.is_file():
        raise ReportError(path, "no such file")
    t = _read(path, PHRED_OFFSET)
    offset = phred_offset(t.quality_hist)
    if offset != t.offset:  # the trim and the scores by position need the offset as they go
        t = _read(path, offset)
    return _summary(path, t)


def _read(path: Path, offset: int) -> _Totals:
    t = _Totals(offset=offset)
    line = 1
    try:
        with xopen(path, "rb", threads=0) as f:
            first = f.peek(1)[:1] if hasattr(f, "peek") else b""
            if first and first != b"@":
                raise ValueError("FASTA, not FASTQ (no qualities)" if first == b">" else
                                 f"expected '@' to start the first record, found {first!r}")
            for view in dnaio.read_chunks(cast(io.BufferedIOBase, f), CHUNK_BYTES):
                buf = np.frombuffer(view, dtype=np.uint8)
                if buf.size and buf[0] == ord(">"):
                    raise ValueError("FASTA, not FASTQ (no qualities)")
                if buf.size and buf[-1] != 10:  # the file's last line may lack its newline
                    buf = np.append(buf, np.uint8(10))
                line += 4 * scan_chunk(t, buf, line)
    except EOFError:
        raise ReportError(path, "truncated gzip") from None
    except (dnaio.exceptions.FileFormatError, dnaio.exceptions.UnknownFileFormat) as exc:
        raise ReportError(path, f"not valid FASTQ: {exc}") from None
    except (OSError, ValueError) as exc:
        raise ReportError(path, f"cannot be read as FASTQ: {exc}") from None
    return t
