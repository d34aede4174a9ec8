"""A cluster simulator for workflow traces: `genscale sim` (`sim.core` runs the events,
`sim.trace` reads a trace or a run directory, `sim.summary` writes what came of it)."""
