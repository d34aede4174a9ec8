# GenScale: every target sets itself up first (Debian tools and .venv), idempotently.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR := demo

.PHONY: setup demo test test-fast docs lint clean slurm-up slurm-down bench bench-cpu bench-synth bench-monitor bench-quality bench-engine bench-predict \
	bench-workload bench-train bench-production bench-sim bench-trace corpus models production-corpus production-model

setup:
	@bash scripts/setup.sh

# A small synthetic DNA-Seq dataset, the dnaseq workflow under the monitor, plots, summary.
demo: setup
	@if [[ ! -f $(DEMO_DIR)/data/manifest.json ]]; then \
	  rm -rf $(DEMO_DIR)/data; \
	  $(BIN)/genscale data synth --kind dna --genome-bases 2000000 --pairs 200000 \
	    --seed 7 --out $(DEMO_DIR)/data >/dev/null; fi
	@run=$$($(BIN)/genscale run dnaseq --dataset $(DEMO_DIR)/data --runs-dir $(DEMO_DIR)/runs \
	    --interval 0.5) && \
	  echo && echo "Results: $$run" && \
	  echo "  tasks.csv, samples.csv (and .parquet), run.json, logs/, plots/*.png" && \
	  echo "  report: $$run/report.html"

test: setup slurm-up docs
	$(BIN)/ruff check src tests benchmarks scripts/docs_gen.py scripts/bench_page.py
	$(BIN)/mypy
	$(BIN)/pytest -q --durations=10

# The fast tier: everything but the slow, SLURM and Kubernetes tests (docs/tests.md).
test-fast: setup
	$(BIN)/ruff check src tests benchmarks scripts/docs_gen.py scripts/bench_page.py
	$(BIN)/pytest -q -m "not slow and not slurm and not kubernetes" --durations=5

# The documentation site, from docs/ and the pages generated from the code, built strictly
# (a broken link or a missing page fails) into site/.
docs: setup
	@$(BIN)/python scripts/docs_gen.py
	@$(BIN)/mkdocs build --strict --quiet
	@echo "docs: site/index.html"

# Every benchmark in one sitting, each one's output into docs/benchmarks.md with the machine,
# the commit and the date (BENCH="bench-quality bench-engine" for only those).
bench: setup
	@$(BIN)/python scripts/bench_page.py $(BENCH)

# Whole-run CPU totals against the kernel's accounting, on the demo dataset and an RNA one.
bench-cpu: setup
	@[[ -f $(DEMO_DIR)/data/manifest.json ]] || $(BIN)/genscale data synth --kind dna \
	    --genome-bases 2000000 --pairs 200000 --seed 7 --out $(DEMO_DIR)/data >/dev/null
	@[[ -f $(DEMO_DIR)/rna/manifest.json ]] || $(BIN)/genscale data synth --kind rna \
	    --seed 7 --out $(DEMO_DIR)/rna >/dev/null
	@$(BIN)/python benchmarks/cpu_accounting.py dnaseq=$(DEMO_DIR)/data rnaseq=$(DEMO_DIR)/rna

# Read-pair generation throughput and peak memory, up to 10 million pairs.
bench-synth: setup
	@$(BIN)/python benchmarks/synth_throughput.py 100000 1000000 10000000

# Monitor accuracy against pidstat and a psutil poller, and the monitor's own overhead.
bench-monitor: setup
	@$(BIN)/python benchmarks/monitor_accuracy.py

# FASTQ feature throughput against FastQC and fastp on ~2 GB of paired FASTQ, one core each.
QBENCH := $(DEMO_DIR)/qbench
bench-quality: setup
	@[[ -f $(QBENCH)/reads_2.fq ]] || { rm -rf $(QBENCH) && $(BIN)/genscale data synth \
	    --preset typical --pairs 4000000 --genome-bases 2000000 --seed 11 \
	    --out $(QBENCH)/data >/dev/null && for m in 1 2; do \
	    zcat $(QBENCH)/data/reads_$$m.fq.gz > $(QBENCH)/reads_$$m.fq; done; }
	@$(BIN)/python benchmarks/quality_throughput.py $(QBENCH)/reads_1.fq $(QBENCH)/reads_2.fq

# Dispatch overhead: 1,000 no-op tasks through GenScale against the same DAG in Snakemake
# (from PyPI, in a venv of its own so that it shares nothing with ours).
SMK_VENV := benchmarks/.venv-snakemake
bench-engine: setup
	@[[ -x $(SMK_VENV)/bin/snakemake ]] || { python3 -m venv $(SMK_VENV) && \
	    $(SMK_VENV)/bin/pip install -q "snakemake>=9,<10"; }
	@$(BIN)/python benchmarks/engine_overhead.py --snakemake $(SMK_VENV)/bin/snakemake

# 20 dnaseq workflows with Poisson arrivals under every scheduling policy, compared.
bench-workload: setup
	@$(BIN)/python benchmarks/workload_policies.py workloads/dnaseq-poisson.yaml \
	    --runs-dir $(DEMO_DIR)/workload-runs

# How model training grows with rows and groups: 10,000 to 1,000,000 rows, 10 and 50 groups
# (a size that takes over 30 min is reported so and the larger ones skipped).
bench-train: setup
	@$(BIN)/python benchmarks/train_scaling.py

# model predict on one dataset: this version's bundle against 0.10.0's model.skops layout
bench-predict: setup
	@$(BIN)/python benchmarks/predict_time.py

# Issue 19's targets: genscale project against the prototype's GRCh38 run, held-out R² and
# extrapolation across reference lengths, and how long project takes
bench-production: setup
	@$(BIN)/python benchmarks/production.py

# genscale sim against SimPy's FCFS and against a real workload run it replays, and synth
# trace against WfCommons' WfGen (each peer
# from PyPI into benchmarks/.venv-peers on first use)
bench-sim: setup
	@$(BIN)/python benchmarks/sim_throughput.py --large-workflows 800000
	@$(BIN)/python benchmarks/sim_fidelity.py

bench-trace: setup
	@$(BIN)/python benchmarks/trace_generation.py --million
	@$(BIN)/python benchmarks/trace_fidelity.py
	@$(BIN)/python benchmarks/trace_fidelity.py --corpus datasets/production-v1

# The corpus across production's dimensions (campaigns/production-v1.yaml: references of 1 Mb
# to 1 Gb, reads of 75-150 bp, 1 and 2 threads); resumable. Then the work laws that
# genscale project reads (packaged with it): each workflow's from production-v1 where it
# ran there, else from corpus-v1 (1 Mb references only).
PRODUCTION := runs/campaign-production-v1
production-corpus: setup
	@$(BIN)/genscale campaign campaigns/production-v1.yaml --out $(PRODUCTION)
	@$(BIN)/genscale campaign campaigns/production-v1.yaml --out $(PRODUCTION) \
	    --export datasets/production-v1

production-model: setup
	@$(BIN)/genscale model scaling datasets/production-v1 datasets/corpus-v1 \
	    --out src/genscale/model/production-v1.scaling.json \
	    --quality-model models/corpus-v1-wall_s --quality-corpus datasets/corpus-v1

# The corpus of datasets/corpus-v1: 419 monitored workflow runs (its passes here took about
# 8 hours on 2 cores, pilots included: the times they printed, see the README).
# Resumable: stop it any time and run it again. Then the tables and the models from them.
CAMPAIGN := runs/campaign-corpus-v1
# groups `make models` fits at once (the bundles come out the same for any number)
JOBS ?= $(shell nproc)
corpus: setup
	@$(BIN)/genscale campaign campaigns/corpus-v1.yaml --out $(CAMPAIGN)
	@$(BIN)/genscale campaign campaigns/corpus-v1.yaml --out $(CAMPAIGN) --export datasets/corpus-v1

# the corpus's steps run for seconds on a 1 Mb reference, their cost per read still falling
# past the sizes trained on: their laws carry the growth (docs/extrapolation.md)
TRAIN_CORPUS = $(BIN)/genscale model train --table runs/corpus-v1-table.parquet \
	--where 'background_cores < 0.1' --extrapolation law --jobs $(JOBS)
models: setup
	@$(BIN)/genscale model dataset datasets/corpus-v1 --out runs/corpus-v1-table.parquet
	@for target in wall_s peak_rss_bytes; do \
	  $(TRAIN_CORPUS) --target $$target --out models/corpus-v1-$$target || exit 1; done
	@$(TRAIN_CORPUS) --target wall_s --pilot --out models/corpus-v1-wall_s-pilot

# A real single-node SLURM on this machine, with accounting (sacct): idempotent.
slurm-up:
	@bash scripts/slurm-up.sh

slurm-down:
	@bash scripts/slurm-down.sh

lint: setup
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(DEMO_DIR) runs build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
