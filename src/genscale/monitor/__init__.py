"""Process-tree sampling with exact kernel totals; the same code runs tasks locally and
inside `genscale monitor` on a cluster node."""
