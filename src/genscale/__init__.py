"""GenScale: benchmark genomics workflows with exact per-task CPU, memory and I/O series."""

__version__ = "0.10.0"
