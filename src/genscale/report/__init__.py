"""Plots, the one-screen summary, and the HTML report of a run directory."""
