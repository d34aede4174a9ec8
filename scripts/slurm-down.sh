#!/usr/bin/env bash
# Stop what slurm-up.sh started: slurmd, slurmctld, slurmdbd, MariaDB, munge.
set -uo pipefail
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
command -v scancel >/dev/null && $SUDO scancel --quiet --user "$(id -un)" 2>/dev/null
for daemon in slurmd slurmctld slurmdbd; do
  $SUDO pkill -x "$daemon" 2>/dev/null
done
if [[ -S /run/mysqld/mysqld.sock ]]; then
  $SUDO mariadb-admin --socket=/run/mysqld/mysqld.sock shutdown 2>/dev/null
fi
$SUDO pkill -x munged 2>/dev/null
left() {  # daemons still running (pgrep matches one name of at most 15 characters)
  for name in slurmd slurmctld slurmdbd mariadbd munged; do
    ps -C "$name" -o stat= 2>/dev/null | grep -qv '^Z' && echo "$name"  # zombies are gone
  done
}
for _ in $(seq 20); do
  [[ -z $(left) ]] && break
  sleep 0.5
done
if [[ -n $(left) ]]; then
  echo "slurm-down: still running: $(left | tr '\n' ' ')" >&2
  exit 1
fi
echo "slurm-down: stopped"
