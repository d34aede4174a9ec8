"""Execution-time models: the model dataset, the estimator, evaluation, bundles."""
