"""How the text files users give are read, whatever wrote them: gzipped or not, with the
line ends of any system, and a table's separator told by its header."""

from __future__ import annotations

import gzip
import zlib
from io import BufferedReader
from pathlib import Path

# what a truncated or corrupt gzip stream raises while it is read
INFLATE_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def open_inflated(path: Path) -> gzip.GzipFile | BufferedReader:
    """`path` opened for reading bytes, through gzip when its first bytes say it is gzipped
    (a BGZF file such as a BAM too); reads may raise INFLATE_ERRORS."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    return gzip.GzipFile(path, "rb") if gzipped else open(path, "rb")


def unix_newlines(text: str) -> str:
    """CRLF (Windows) and lone CR (old Mac OS) line ends as LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def separator(header: str, preferred: str) -> str:
    """The field separator of a table whose first line is `header`: `preferred` when the
    header holds it, else the first of tab, comma and semicolon it holds (a spreadsheet
    saving CSV under a decimal-comma locale separates fields with `;`)."""
    if preferred in header:
        return preferred
    return next((s for s in ("\t", ",", ";") if s in header), preferred)
