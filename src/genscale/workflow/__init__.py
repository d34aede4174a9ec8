"""Workflow specs: models, YAML loading with line-numbered errors, planning into a DAG."""
