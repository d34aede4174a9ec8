"""Datasets: synthetic references, reads and annotations, and their manifests."""
