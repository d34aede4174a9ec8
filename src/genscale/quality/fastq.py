"""Quality features of raw FASTQ, in one streaming pass, before anything runs.

Reads are parsed by dnaio (C) and handed over in chunks; everything per base is then done
by numpy on the chunk's concatenated bytes (per-position sums with bincount, per-read sums
with reduceat), and adapters are counted by a fast literal search of the joined sequences. Memory
is bounded by the chunk size and the fixed-size sample kept for duplication, whatever the
file size.

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

from genscale.quality.errors import ReportError

CHUNK_BYTES = 2 * 2**20  # whole records a chunk; small enough to stay in cache (measured)
DUP_SAMPLE_READS = 100_000
COMPLEXITY_SAMPLE_READS = 20_000
MAX_POSITIONS = 1_000
PHRED_OFFSET = 33
TRIM_WINDOW = 4
TRIM_QUALITY = 15
TRIM_MIN_LENGTH = 36
# the probability that a base is wrong, by its Phred score, and by its quality byte
_ERROR = 10.0 ** (-np.arange(128) / 10.0)
_ERROR_BY_BYTE = np.concatenate([np.zeros(PHRED_OFFSET), _ERROR,
                                 np.zeros(256 - PHRED_OFFSET - 128)]).astype(np.float32)
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
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i


@dataclass
class _Totals:
    reads: int = 0
    bases: int = 0
    gc: int = 0
    acgt: int = 0
    n: int = 0
    min_len: int = 1 << 30
    max_len: int = 0
    length_counts: Counter[int] = field(default_factory=Counter)
    qual_hist: np.ndarray = field(default_factory=lambda: np.zeros(128, dtype=np.int64))
    pos_qual: np.ndarray = field(default_factory=lambda: np.zeros(MAX_POSITIONS))
    pos_count: np.ndarray = field(default_factory=lambda: np.zeros(MAX_POSITIONS))
    pos_n: np.ndarray = field(default_factory=lambda: np.zeros(MAX_POSITIONS))
    read_gc_sum: float = 0.0
    read_gc_sq: float = 0.0
    adapters: Counter[str] = field(default_factory=Counter)
    polyg: int = 0
    dup_sample: Counter[str] = field(default_factory=Counter)
    dup_sampled: int = 0
    trimer_distinct: list[np.ndarray] = field(default_factory=list)
    kmer_counts: np.ndarray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))
    trim_surviving: int = 0
    trim_kept_bases: int = 0
    trim_kept_errors: float = 0.0


def _parse(buf: np.ndarray, first_line: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     np.ndarray, bytes]:
    """Whole FASTQ records in `buf` -> (sequence bytes, quality bytes, read lengths, read
    starts, the sequences joined by newlines), all without a Python loop over reads."""
    newlines = np.flatnonzero(buf == 10)
    if newlines.size % 4:
        raise ValueError(f"line {first_line + newlines.size}: a record is cut short "
                         "(FASTQ records are four lines)")
    starts = np.empty_like(newlines)
    starts[0] = 0
    starts[1:] = newlines[:-1] + 1
    ends = newlines - (buf[np.maximum(newlines - 1, 0)] == 13)  # tolerate CRLF
    header, s_start, s_end = starts[0::4], starts[1::4], ends[1::4]
    plus, q_start, q_end = starts[2::4], starts[3::4], ends[3::4]
    lengths = s_end - s_start
    bad = np.flatnonzero((buf[header] != 64) | (buf[plus] != 43) |
                         (lengths != q_end - q_start))
    if bad.size:
        i = int(bad[0])
        what = ("the header does not start with '@'" if buf[header[i]] != 64 else
                "the third line does not start with '+'" if buf[plus[i]] != 43 else
                "sequence and quality lengths differ")
        raise ValueError(f"line {first_line + 4 * i}: {what}")

    def gather(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        mark = np.zeros(buf.size + 1, dtype=np.int8)
        mark[lo] = 1
        mark[hi] -= 1
        return buf[np.cumsum(mark[:-1], dtype=np.int8).astype(bool)]

    width = int(lengths[0]) if lengths.size else 0
    if lengths.size and bool((lengths == width).all()):
        # the usual case, one read length: gather with a 2-D index, no masks
        # 32-bit indices (a chunk is far under 2 GiB): half the index bytes to build and read
        cols = np.arange(width + 1, dtype=np.int32)
        seq_nl = buf[s_start.astype(np.int32)[:, None] + cols]  # each sequence, its newline
        seq = seq_nl[:, :width].ravel()
        qual = buf[q_start.astype(np.int32)[:, None] + cols[:width]].ravel()
        joined = seq_nl.tobytes()
    else:
        seq = gather(s_start, s_end)
        qual = gather(q_start, q_end)
        joined = gather(s_start, s_end + 1).tobytes()  # each sequence with its newline
    read_starts = np.zeros(lengths.size, dtype=np.int64)
    np.cumsum(lengths[:-1], out=read_starts[1:])
    return seq, qual, lengths, read_starts, joined


def _chunk(t: _Totals, seq: np.ndarray, raw: np.ndarray, lengths: np.ndarray,
           starts: np.ndarray, joined: bytes) -> None:
    byte_counts = _byte_histogram(raw)
    if byte_counts[:PHRED_OFFSET].any() or byte_counts[PHRED_OFFSET + 94:].any():
        raise ValueError("quality characters outside Phred+33")
    n_reads = lengths.size
    t.reads += int(n_reads)
    t.bases += int(seq.size)
    if n_reads and bool((lengths == lengths[0]).all()):
        t.length_counts[int(lengths[0])] += int(n_reads)  # the usual case: one length
    else:
        t.length_counts.update(lengths.tolist())
    if n_reads:
        t.min_len = min(t.min_len, int(lengths.min()))
        t.max_len = max(t.max_len, int(lengths.max()))
    # byte comparisons and count_nonzero: faster than a lookup table and boolean sums
    is_gc = (seq == 67) | (seq == 71) | (seq == 99) | (seq == 103)  # C G c g
    is_n = (seq == 78) | (seq == 110)  # N n
    chunk_n = int(np.count_nonzero(is_n))
    t.gc += int(np.count_nonzero(is_gc))
    t.n += chunk_n
    t.acgt += int(seq.size) - chunk_n
    t.qual_hist += byte_counts[PHRED_OFFSET:PHRED_OFFSET + 128]
    width = int(lengths[0]) if n_reads else 0
    if n_reads and width <= MAX_POSITIONS and bool((lengths == width).all()):
        # the usual case, every read the same length: plain 2-D sums
        t.pos_qual[:width] += (raw.reshape(n_reads, width).sum(axis=0, dtype=np.int64)
                               - PHRED_OFFSET * n_reads)
        t.pos_count[:width] += n_reads
        if chunk_n:
            t.pos_n[:width] += np.count_nonzero(is_n.reshape(n_reads, width), axis=0)
        if width:
            gc_reads = np.count_nonzero(is_gc.reshape(n_reads, width), axis=1) / width
            t.read_gc_sum += float(gc_reads.sum())
            t.read_gc_sq += float((gc_reads ** 2).sum())
    else:
        position = np.arange(seq.size, dtype=np.int64) - np.repeat(starts, lengths)
        keep = position < MAX_POSITIONS
        pos = position[keep]
        qual = raw.astype(np.int64) - PHRED_OFFSET
        t.pos_qual += np.bincount(pos, weights=qual[keep].astype(np.float64),
                                  minlength=MAX_POSITIONS)[:MAX_POSITIONS]
        t.pos_count += np.bincount(pos, minlength=MAX_POSITIONS)[:MAX_POSITIONS]
        t.pos_n += np.bincount(pos, weights=is_n[keep], minlength=MAX_POSITIONS)[:MAX_POSITIONS]
        nonempty = lengths > 0
        if nonempty.any():
            gc_reads = np.add.reduceat(is_gc, starts[nonempty]) / lengths[nonempty]
            t.read_gc_sum += float(gc_reads.sum())
            t.read_gc_sq += float((gc_reads ** 2).sum())
    _trim(t, raw, lengths, starts, is_n if chunk_n else None, byte_counts)
    for name, hits in zip(ADAPTERS, _adapter_counts(joined), strict=True):
        t.adapters[name] += int(hits)
    # a line ending in ten or more G holds exactly one "GGGGGGGGGG\n"
    t.polyg += joined.count(b"G" * 10 + b"\n")
    room = DUP_SAMPLE_READS - t.dup_sampled
    if room > 0:
        # joined ends with a newline: drop it, so every element is a read
        sample = joined[:-1].decode("ascii").split("\n", room)[:room]
        t.dup_sample.update(s[:50] if len(s) > 75 else s for s in sample)
        t.dup_sampled += len(sample)
    sampled = sum(a.size for a in t.trimer_distinct)
    if sampled < COMPLEXITY_SAMPLE_READS:
        _complexity(t, _CODE[seq], lengths, starts, COMPLEXITY_SAMPLE_READS - sampled)


def _trim(t: _Totals, raw: np.ndarray, lengths: np.ndarray, starts: np.ndarray,
          is_n: np.ndarray | None, byte_counts: np.ndarray) -> None:
    """Add the chunk's reads and bases surviving the quality trim, and the expected errors
    of the bases kept, to `t`. `byte_counts`: the chunk's quality bytes counted by value."""
    kept = window_trim(raw, lengths, starts, is_n)
    n_reads = lengths.size
    width = int(lengths[0]) if n_reads else 0
    if n_reads and bool((lengths == width).all()):
        # the usual case, one read length: the errors of all bases come from the byte
        # counts, and only the reads the trim shortened need theirs one by one
        quality = raw.reshape(n_reads, width)
        kept_errors = float((byte_counts[:256] * _ERROR_BY_BYTE).sum())
        short = np.flatnonzero(kept < width)
        if short.size:
            running = np.cumsum(_ERROR_BY_BYTE[quality[short]], axis=1, dtype=np.float64)
            keep = kept[short] >= TRIM_MIN_LENGTH
            kept_part = np.where(keep, running[np.arange(short.size),
                                               np.maximum(kept[short], 1) - 1], 0.0)
            kept_errors -= float((running[:, -1] - kept_part).sum())
    else:
        total = np.concatenate([[0.0], np.cumsum(_ERROR_BY_BYTE[raw], dtype=np.float64)])
        kept_errors = float((total[starts + kept] - total[starts])[
            kept >= TRIM_MIN_LENGTH].sum())
    surviving = kept >= TRIM_MIN_LENGTH
    t.trim_surviving += int(np.count_nonzero(surviving))
    t.trim_kept_bases += int(kept[surviving].sum())
    t.trim_kept_errors += kept_errors


def _window_trim_fixed(raw: np.ndarray, is_n: np.ndarray | None) -> np.ndarray:
    """`window_trim` for reads of one length: `raw` is reads x positions. Works on the
    quality bytes themselves (a window fails when its 4 bytes sum under 4 x (15 + 33)), in
    16-bit sums of shifted views: no cumulative sum, no copy but where there are Ns."""
    n_reads, width = raw.shape
    if width < TRIM_WINDOW:
        return np.zeros(n_reads, dtype=np.int64)
    if is_n is not None:
        raw = np.where(is_n, np.uint8(PHRED_OFFSET), raw)  # an N is quality 0
    good_byte = TRIM_QUALITY + PHRED_OFFSET
    window = raw[:, : width - TRIM_WINDOW + 1].astype(np.uint16)
    for k in range(1, TRIM_WINDOW):
        window += raw[:, k: width - TRIM_WINDOW + 1 + k]
    failing = window < TRIM_WINDOW * good_byte
    first = failing.argmax(axis=1)
    rows = np.arange(n_reads)
    cut = np.where(failing[rows, first], first + TRIM_WINDOW - 1, width)
    kept = cut.astype(np.int64)
    # back to the last good base before the cut, for the reads whose base before the cut
    # is bad (few: usually none of a clean read's)
    back = np.flatnonzero(raw[rows, cut - 1] < good_byte)
    if back.size:
        good = (raw[back] >= good_byte) & (np.arange(width) < cut[back, None])
        last = width - good[:, ::-1].argmax(axis=1)  # one past the last good base
        kept[back] = np.where(good.any(axis=1), last, 1)
    kept[failing[:, 0]] = 0
    return kept


def window_trim(raw: np.ndarray, lengths: np.ndarray, starts: np.ndarray,
                is_n: np.ndarray | None = None) -> np.ndarray:
    """The length each read keeps under Trimmomatic's SLIDINGWINDOW:4:15 (see the module's
    docstring), given the chunk's quality bytes, read lengths and read starts, and which
    bases are N (Trimmomatic counts an N as quality 0, whatever its score)."""
    if lengths.size and bool((lengths == lengths[0]).all()):
        return _window_trim_fixed(raw.reshape(lengths.size, int(lengths[0])),
                                  None if is_n is None
                                  else is_n.reshape(lengths.size, int(lengths[0])))
    quality = raw.astype(np.int32) - PHRED_OFFSET
    if is_n is not None:
        quality[is_n] = 0
    total = np.concatenate([[0], np.cumsum(quality)])
    index = np.arange(raw.size, dtype=np.int64)
    position = index - np.repeat(starts, lengths)
    read_end = np.repeat(starts + lengths, lengths)
    whole = index + TRIM_WINDOW <= read_end  # a window starting here lies inside its read
    window_sum = np.zeros(raw.size, dtype=np.int64)
    window_sum[whole] = total[index[whole] + TRIM_WINDOW] - total[index[whole]]
    failing = whole & (window_sum < TRIM_QUALITY * TRIM_WINDOW)
    # the cut: the end of the first failing window (the read's end where none fails)
    cut_at = np.repeat(lengths, lengths).astype(np.int64)
    cut_at[failing] = position[failing] + TRIM_WINDOW - 1
    nonempty = lengths > 0
    cut = np.zeros(lengths.size, dtype=np.int64)
    if nonempty.any():
        cut[nonempty] = np.minimum.reduceat(cut_at, starts[nonempty])
    # then back to the last base before the cut that is good on its own (the first base
    # is kept in any case)
    before_cut = position < np.repeat(cut, lengths)
    last_good = np.where(before_cut & (quality >= TRIM_QUALITY), position + 1, 1)
    kept = np.zeros(lengths.size, dtype=np.int64)
    if nonempty.any():
        kept[nonempty] = np.maximum.reduceat(last_good, starts[nonempty])
    # a read shorter than the window, or whose first window fails, is dropped
    first_fails = np.zeros(lengths.size, dtype=bool)
    first_fails[nonempty] = failing[starts[nonempty]]
    kept[(lengths < TRIM_WINDOW) | first_fails] = 0
    return kept


_ADAPTER_BYTES = np.array([list(a.encode()) for a in ADAPTERS.values()], dtype=np.uint8)
_ADAPTER_HEADS = _ADAPTER_BYTES[:, :4].copy().view("<u4").ravel()


def _adapter_counts(joined: bytes) -> np.ndarray:
    """Occurrences of each adapter in `joined`, for all adapters in a few numpy passes: the
    text read as 4-byte words at each of the four offsets finds where an adapter's first 4
    bytes stand, and only those few places are compared in full."""
    text = np.frombuffer(joined, dtype=np.uint8)
    width = _ADAPTER_BYTES.shape[1]
    counts = np.zeros(len(ADAPTERS), dtype=np.int64)
    if text.size < width:
        return counts
    for offset in range(4):
        words = np.frombuffer(joined, dtype="<u4", offset=offset,
                              count=(len(joined) - offset) // 4)
        for i, head in enumerate(_ADAPTER_HEADS):
            starts = np.flatnonzero(words == head) * 4 + offset
            starts = starts[starts <= text.size - width]
            if starts.size:
                window = text[starts[:, None] + np.arange(width)]
                counts[i] += int(np.count_nonzero((window == _ADAPTER_BYTES[i]).all(axis=1)))
    return counts


def _byte_histogram(values: np.ndarray) -> np.ndarray:
    """Counts of each byte value, 0-255. bincount widens every element to 8 bytes; counting
    pairs of bytes as uint16 widens half as many, and folding the 256x256 table back is
    cheap."""
    even = values[: values.size - values.size % 2]
    pairs = np.bincount(even.view(np.uint16), minlength=65536).reshape(256, 256)
    counts = pairs.sum(axis=0) + pairs.sum(axis=1)
    if values.size % 2:
        counts[values[-1]] += 1
    return counts


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
    per_pos = (t.pos_qual[:positions] / np.maximum(t.pos_count[:positions], 1)).round(3)
    mean_q = float((np.arange(128) * t.qual_hist).sum() / t.qual_hist.sum())
    head, tail = per_pos[: min(10, positions)], per_pos[max(0, positions - 10):]
    mean_gc = t.read_gc_sum / t.reads
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
        **{f"quality_p{int(q * 100)}": _percentile(t.qual_hist, q)
           for q in (0.1, 0.25, 0.5, 0.75, 0.9)},
        "quality_decline": round(float(head.mean() - tail.mean()), 3),
        "gc_percent": round(100 * t.gc / max(t.acgt, 1), 3),
        "gc_read_sd_percent": round(100 * max(t.read_gc_sq / t.reads - mean_gc ** 2, 0) ** 0.5,
                                    3),
        "n_percent": round(100 * t.n / t.bases, 4),
        "n_position_max_percent": round(
            float((100 * t.pos_n[:positions] / np.maximum(t.pos_count[:positions], 1)).max()),
            4),
        "dedup_percent": round(100 * distinct / sampled, 3),
        "overrepresented_sequences": len(overrep),
        "overrepresented_top_percent": round(100 * overrep[0][1] / sampled, 4) if overrep
        else 0.0,
        "polyg_tail_percent": round(100 * t.polyg / t.reads, 4),
        "low_complexity_percent": round(100 * float((trimers <= 10).mean()), 4)
        if trimers.size else 0.0,
        "kmer4_entropy_bits": round(entropy, 4),
        "expected_error_percent": round(
            100 * float((_ERROR * t.qual_hist).sum()) / max(t.bases, 1), 4),
        "q15_trim_surviving_percent": round(100 * t.trim_surviving / t.reads, 4),
        "q15_trim_kept_bases_percent": round(100 * t.trim_kept_bases / max(t.bases, 1), 4),
        "q15_trim_kept_error_percent": round(
            100 * t.trim_kept_errors / max(t.trim_kept_bases, 1), 4),
        **{f"adapter_percent.{name}": round(100 * t.adapters[name] / t.reads, 4)
           for name in ADAPTERS},
    }
    return {"format": "fastq", "file": str(path), "metrics": metrics,
            "per_position_quality": per_pos.tolist(),
            "length_distribution": dict(sorted(t.length_counts.items()))}


def fastq_features(path: Path) -> dict[str, Any]:
    """Features of one FASTQ file (gzipped or not): reads, bases, quality percentiles,
    adapters, duplication, what a Q15 trim keeps and more; ReportError on a bad file.

        features = genscale.fastq_features(Path("reads_1.fq.gz"))
        features["reads"], features["quality_mean"], features["dedup_percent"]
    """
    if not path.is_file():
        raise ReportError(path, "no such file")
    t = _Totals()
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
                parsed = _parse(buf, line)
                line += 4 * int(parsed[2].size)
                _chunk(t, *parsed)
    except EOFError:
        raise ReportError(path, "truncated gzip") from None
    except (dnaio.exceptions.FileFormatError, dnaio.exceptions.UnknownFileFormat) as exc:
        raise ReportError(path, f"not valid FASTQ: {exc}") from None
    except (OSError, ValueError) as exc:
        raise ReportError(path, f"cannot be read as FASTQ: {exc}") from None
    return _summary(path, t)
