"""GenScale: benchmark genomics workflows with exact per-task CPU, memory and I/O series,
and predict their execution time from their inputs.

The Python API in a minute:

    import genscale

    result = genscale.run_workflow("dnaseq", "datasets/small")   # as `genscale run`
    run = genscale.RunDirectory(result.run_dir)
    run.tasks(), run.samples()            # typed tables (columns: genscale.store.schema)

    code, totals = genscale.monitor_command(["sleep", "1"], Path("m"))  # any command
    genscale.parse_report(Path("sample_fastqc.zip"))   # FastQC, Picard, GATK, samtools ...

    bundle = genscale.Bundle.load("models/corpus-v1-wall_s")
    bundle.predict(rows)                  # + predicted_wall_s, its quantiles, the tail
    genscale.project_workflow("dnaseq", pairs=24e6, read_length=100,
                              reference_bases=3.1e9, threads=8, cores=96)  # production

Each name is imported when first used, so `import genscale` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.10.0"

# name -> the module that defines it
_EXPORTS = {
    # run workflows and workloads
    "run_workflow": "genscale.api",
    "resume_workflow": "genscale.api",
    "run_workload": "genscale.engine.runner",
    "RunSettings": "genscale.engine.runner",
    "RunResult": "genscale.engine.runner",
    # monitor any command
    "monitor_command": "genscale.monitor.wrapper",
    # read what a run wrote
    "RunDirectory": "genscale.store.rundir",
    # datasets
    "Dataset": "genscale.data.manifest",
    "SynthOptions": "genscale.data.synth",
    "synthesize": "genscale.data.synth",
    # quality reports and FASTQ features
    "parse_report": "genscale.quality.detect",
    "find_reports": "genscale.quality.detect",
    "fastq_features": "genscale.quality.fastq",
    # models
    "Bundle": "genscale.model.bundle",
    "FitOptions": "genscale.model.options",
    "project_workflow": "genscale.model.projection",
    # executors
    "register_executor": "genscale.executors.registry",
    # errors
    "UserError": "genscale.errors",
}
_RENAMED = {"register_executor": "register"}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genscale' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
