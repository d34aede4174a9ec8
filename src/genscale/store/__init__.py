"""Schema of the run directory, and reading and writing it."""
