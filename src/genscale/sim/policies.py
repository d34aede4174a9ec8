"""The simulator's policy names (light to import: the CLI's choices; `sim.core` has what
each does)."""

POLICIES = ("fifo", "shortest-predicted-first", "easy", "memory-aware", "tail-aware")
