"""The dispatch loop that runs a plan through an executor."""
