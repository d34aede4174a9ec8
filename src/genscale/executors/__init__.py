"""Executors: how tasks run (local processes, SLURM jobs, Kubernetes Jobs)."""
