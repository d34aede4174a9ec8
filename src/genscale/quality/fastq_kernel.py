"""The per-base work of `genscale quality fastq`: one compiled pass over a chunk of records.

numpy needs a dozen passes over a chunk (gathers, masks, shifted sums, a word search per
adapter) and the memory traffic of their temporaries; one loop compiled by numba reads each
byte once and keeps the running sums in registers. `scan` parses whole FASTQ records, checks
them, and adds each record's numbers into the accumulators it is given; everything that
needs a whole file (percentiles, the duplication sample) stays in `genscale.quality.fastq`.

The definitions are that module's (FastQC's for what FastQC reports, Trimmomatic 0.39's
SLIDINGWINDOW:4:15 for the trim); `tests/test_quality.py` checks them against a read-at-a-time
reference in plain Python.
"""

from __future__ import annotations

import numba
import numpy as np

PHRED_OFFSET = 33  # Sanger / Illumina 1.8 on; 64 for Illumina 1.3 to 1.7 (`phred_offset`)
MAX_POSITIONS = 1_000
TRIM_WINDOW = 4
TRIM_QUALITY = 15
TRIM_MIN_LENGTH = 36
POLYG_LENGTH = 10
ADAPTER_LENGTH = 12

# `scan`'s integer accumulator, by index
GC, N_BASES, POLYG, TRIM_SURVIVING, TRIM_KEPT_BASES = range(5)
COUNTS = 5
# its float accumulator, by index: per-read GC fractions summed and squared, and the expected
# errors (Phred) of the bases the trim removes, dropped reads' whole
READ_GC_SUM, READ_GC_SQ, TRIM_REMOVED_ERRORS = range(3)
SUMS = 3

# `scan`'s result codes: the number of records when >= 0, else what is wrong with record `at`
NOT_AT = -1  # its header does not start with '@'
NOT_PLUS = -2  # its third line does not start with '+'
LENGTHS_DIFFER = -3  # sequence and quality lengths differ
CUT_SHORT = -4  # the chunk ends inside it
BAD_QUALITY = -5  # a quality character outside Phred+offset (offset to offset + 93, ASCII)
PROBLEMS = {
    NOT_AT: "the header does not start with '@'",
    NOT_PLUS: "the third line does not start with '+'",
    LENGTHS_DIFFER: "sequence and quality lengths differ",
    CUT_SHORT: "a record is cut short (FASTQ records are four lines)",
    BAD_QUALITY: "quality characters outside Phred+33 (ASCII 33 to 126)",
}

# each byte's class: A C G T (either case) 0 to 3, N (either case) 4, anything else 5
BASE_CODE = np.full(256, 5, dtype=np.uint8)
for _code, _base in enumerate(b"ACGTN"):
    BASE_CODE[_base] = BASE_CODE[_base + 32] = _code


def error_table(offset: int) -> np.ndarray:
    """The probability that a base is wrong, by its quality byte under Phred+`offset` (0
    for bytes that are no score)."""
    table = np.zeros(256)
    top = min(offset + 94, 256)
    table[offset:top] = 10.0 ** (-np.arange(top - offset) / 10.0)
    return table


ERROR_BY_BYTE = error_table(PHRED_OFFSET)


@numba.njit(cache=True, nogil=True, inline="always")
def _line_end(buf: np.ndarray, p: int) -> int:
    """The index of the newline that ends the line starting at `p` (len(buf) if none)."""
    n = buf.size
    while p < n and buf[p] != 10:
        p += 1
    return p


@numba.njit(cache=True, nogil=True)
def scan(buf: np.ndarray, adapters: np.ndarray, offset: int, error_by_byte: np.ndarray,
         quality_hist: np.ndarray, pos_quality: np.ndarray, pos_n: np.ndarray,
         adapter_hits: np.ndarray, counts: np.ndarray, sums: np.ndarray,
         lengths: np.ndarray, seq_starts: np.ndarray) -> tuple[int, int]:
    """Parse the whole FASTQ records in `buf` (uint8; its last line ends with a newline) and
    add them to the accumulators: quality bytes by value (`quality_hist`, 256), quality
    scores and Ns by position (first MAX_POSITIONS), reads holding each adapter (`adapters`:
    one row of ADAPTER_LENGTH bytes each), `counts` and `sums` (indexed by the constants
    above). Scores are Phred+`offset` (33 or 64), `error_by_byte` its `error_table`; the
    quality bytes are counted as they are, whatever the offset. Each record's length and
    sequence offset go to `lengths` and `seq_starts`
    (room for len(buf) // 6 + 1 records). Returns (records, 0), or (code < 0, the index of
    the record at fault): then the accumulators hold the records before it only partly."""
    n = buf.size
    n_adapters = adapters.shape[0]
    # which adapter starts with each 4-mer of A C G T (2 bits a base), plus one; 0 for none
    head_of = np.zeros(256, dtype=np.int64)
    for a in range(n_adapters):
        head = 0
        for k in range(4):
            head = (head << 2) | BASE_CODE[adapters[a, k]]
        head_of[head] = a + 1
    # quality bytes counted in four tables by position, joined at the end: a run of one
    # score would otherwise wait on its own count's store at every base
    hist = np.zeros((4, 256), dtype=np.int64)
    threshold = TRIM_WINDOW * TRIM_QUALITY
    p = 0
    record = 0
    while p < n:
        if buf[p] != 64:
            return NOT_AT, record
        header_end = _line_end(buf, p)
        seq = header_end + 1
        seq_end = _line_end(buf, seq)
        if seq_end >= n:
            return CUT_SHORT, record
        plus = seq_end + 1
        if plus >= n:
            return CUT_SHORT, record
        if buf[plus] != 43:
            return NOT_PLUS, record
        qual = _line_end(buf, plus) + 1
        if qual >= n:
            return CUT_SHORT, record
        qual_end = _line_end(buf, qual)
        if qual_end >= n:
            return CUT_SHORT, record
        p = qual_end + 1
        length = seq_end - seq
        if length and buf[seq_end - 1] == 13:  # CRLF line ends
            length -= 1
        qual_length = qual_end - qual
        if qual_length and buf[qual_end - 1] == 13:
            qual_length -= 1
        if qual_length != length:
            return LENGTHS_DIFFER, record

        # short loops over views of the read, each simple enough for the compiler to
        # vectorise where it can (indexing `buf` at an offset keeps it from doing so)
        bases = buf[seq:seq + length]
        scores = buf[qual:qual + length]
        low = 255
        high = 0
        for j in range(length):
            low = min(low, scores[j])
            high = max(high, scores[j])
        if length and (low < PHRED_OFFSET or high > PHRED_OFFSET + 93 or low < offset):
            return BAD_QUALITY, record
        for j in range(length):  # four tables: a run of one score would wait on its store
            hist[j & 3, scores[j]] += 1
        positions = min(length, MAX_POSITIONS)
        for j in range(positions):
            pos_quality[j] += scores[j] - offset
        gc = 0
        n_count = 0
        for j in range(length):
            folded = bases[j] | 32  # lower case
            gc += (folded == 99) | (folded == 103)  # c g
            n_count += folded == 110  # n
        if n_count:
            for j in range(positions):
                pos_n[j] += (bases[j] | 32) == 110
        # adapters: where the last 4 bases (2 bits each) are an adapter's first 4
        kmer = 0
        acgt_run = 0  # how many of the last bases were A, C, G or T
        for j in range(length):
            code = BASE_CODE[bases[j]]
            kmer = ((kmer << 2) | (code & 3)) & 255
            acgt_run = acgt_run + 1 if code < 4 else 0
            if acgt_run >= 4:
                a = head_of[kmer] - 1
                start = j - 3
                if a >= 0 and start + ADAPTER_LENGTH <= length:
                    k = 0
                    while k < ADAPTER_LENGTH and bases[start + k] == adapters[a, k]:
                        k += 1
                    if k == ADAPTER_LENGTH:
                        adapter_hits[a] += 1
        # the trim's first 4-base window under its threshold (an N scores 0)
        first_failing = -1
        trim1 = trim2 = trim3 = 0  # the previous three bases' scores to Trimmomatic
        for j in range(length):
            trim0 = 0 if (bases[j] | 32) == 110 else int(scores[j]) - offset
            if j >= TRIM_WINDOW - 1 and trim0 + trim1 + trim2 + trim3 < threshold:
                first_failing = j - TRIM_WINDOW + 1
                break
            trim3, trim2, trim1 = trim2, trim1, trim0
        counts[GC] += gc
        counts[N_BASES] += n_count
        if length:
            fraction = gc / length
            sums[READ_GC_SUM] += fraction
            sums[READ_GC_SQ] += fraction * fraction
        if length >= POLYG_LENGTH:
            k = 1
            while k <= POLYG_LENGTH and bases[length - k] == 71:
                k += 1
            if k > POLYG_LENGTH:
                counts[POLYG] += 1
        # Trimmomatic's SLIDINGWINDOW:4:15: a read whose first window fails is dropped;
        # else cut at the end of the first failing window, then back to the last base
        # scoring 15 or more (the first base is kept in any case)
        if length < TRIM_WINDOW or first_failing == 0:
            kept = 0
        else:
            kept = length if first_failing < 0 else first_failing + TRIM_WINDOW - 1
            while kept > 1 and ((bases[kept - 1] | 32) == 110 or
                                scores[kept - 1] < offset + TRIM_QUALITY):
                kept -= 1
        if kept >= TRIM_MIN_LENGTH:
            counts[TRIM_SURVIVING] += 1
            counts[TRIM_KEPT_BASES] += kept
        else:
            kept = 0
        for j in range(kept, length):
            sums[TRIM_REMOVED_ERRORS] += error_by_byte[scores[j]]
        lengths[record] = length
        seq_starts[record] = seq
        record += 1
    for k in range(4):
        quality_hist += hist[k]
    return record, 0
