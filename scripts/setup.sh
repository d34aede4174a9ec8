#!/usr/bin/env bash
# Idempotent set-up on Debian: the genomics tools GenScale runs, then .venv with the package.
# Safe to run again: it installs only what is missing and rebuilds the venv only when
# pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# executable -> Debian package providing it
declare -A PKG=(
  [bwa]=bwa [samtools]=samtools [fastqc]=fastqc [PicardCommandLine]=picard-tools
  [TrimmomaticPE]=trimmomatic [STAR]=rna-star [fastp]=fastp [bcftools]=bcftools
  [cutadapt]=cutadapt [trim_galore]=trim-galore  # reports read in tests/test_quality.py
  [art_illumina]=art-nextgen-simulation-tools [pidstat]=sysstat
  [java]=default-jre-headless [Rscript]=r-base-core [/usr/bin/time]=time
  [prometheus]=prometheus
  [chromium]=chromium  # the report's browser tests (tests/test_report.py)
)
missing=()
for exe in "${!PKG[@]}"; do
  command -v "$exe" >/dev/null 2>&1 || missing+=("${PKG[$exe]}")
done
py=${PYTHON:-python3}
if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv python3-pip); fi
# a C compiler with the C library's headers: genscale-launch, the task launcher, is compiled
# on first use (src/genscale/monitor/launch.c; without one, tasks start through /bin/sh and
# GNU time, one exec more each)
if ! printf '#include <stdio.h>\n' | cc -E - >/dev/null 2>&1; then missing+=(gcc libc6-dev); fi
# mosdepth (its summaries are read in tests/test_quality.py): Debian's 0.3.3 opens libhts.so
# when it runs, a name only libhts-dev provides, so it is checked by running it
if ! mosdepth --version >/dev/null 2>&1; then missing+=(mosdepth libhts-dev); fi
# SimGrid, the independent engine tests/simgrid_fifo.py checks `genscale sim` against
if ! /usr/bin/python3 -c 'import simgrid' >/dev/null 2>&1; then missing+=(python3-simgrid); fi

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

stamp=.venv/.genscale-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  echo "setup: creating .venv"
  [[ -x .venv/bin/python ]] || "$py" -m venv .venv
  .venv/bin/pip install -q -U pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
