"""Flags of the same field name in two executors' settings keep their own values: 0.10.0
gave `--slurm-poll` and `--k8s-poll` one destination, `poll_s`, so the SLURM executor
polled every 2.0 s (Kubernetes' default) and run.json recorded that, whatever was given."""

from __future__ import annotations

from genscale.cli.run import run
from genscale.cli.workload import run_ as workload_run
from genscale.engine.runner import run_settings


def parsed(command, args: list[str]):  # type: ignore[no-untyped-def]
    params = command.make_context(command.name, list(args)).params  # click consumes its list
    return run_settings({k: v for k, v in params.items()
                         if k not in {"workflow", "resume_dir", "dataset", "param", "no_plots",
                                      "spec", "policy", "model"}})


def test_slurm_and_kubernetes_flags_of_one_field_name_stay_apart() -> None:
    for command, head in ((run, ["dnaseq"]), (workload_run, ["w.yaml"])):
        defaults = parsed(command, head)
        slurm, k8s = (defaults.executor_settings[n] for n in ("slurm", "kubernetes"))
        assert slurm.poll_s == 1.0 and k8s.poll_s == 2.0
        given = parsed(command, [*head, "--slurm-poll", "0.5", "--k8s-poll", "3",
                                 "--slurm-monitor-memory", "256", "--k8s-monitor-memory", "64"])
        slurm, k8s = (given.executor_settings[n] for n in ("slurm", "kubernetes"))
        assert (slurm.poll_s, k8s.poll_s) == (0.5, 3.0)
        assert (slurm.monitor_memory_mib, k8s.monitor_memory_mib) == (256, 64)
