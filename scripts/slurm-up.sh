#!/usr/bin/env bash
# A real single-node SLURM on this machine, with accounting (so sacct works): munge,
# MariaDB, slurmdbd, slurmctld and slurmd, started directly (no systemd). Idempotent:
# installs only what is missing, starts only what is not running. Undo with slurm-down.sh.
set -euo pipefail
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
need=()
for exe in slurmctld slurmd slurmdbd munged mariadbd; do
  command -v "$exe" >/dev/null 2>&1 || need+=("$exe")
done
if ((${#need[@]})); then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    slurm-wlm slurmdbd munge mariadb-server
fi
# a daemon that was killed stays a zombie until it is reaped: that one is not running
running() { ps -C "$1" -o stat= 2>/dev/null | grep -qv '^Z'; }
# wait_for SECONDS WHAT CMD...: poll CMD every 0.5 s until it succeeds; fail loudly otherwise.
# A daemon's socket or pid file can outlive the daemon (a killed session leaves them in
# /run), so readiness is always an answer from the daemon itself, never a file existing.
wait_for() {
  local seconds=$1 what=$2; shift 2
  for _ in $(seq $((seconds * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "slurm-up: $what did not answer within ${seconds} s" >&2
  for log in /tmp/genscale-mariadb.log /var/log/slurm/slurmdbd.log \
             /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log /var/log/munge/munged.log; do
    [[ -s $log ]] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
  done
  return 1
}
host=$(hostname)
mem_mb=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 1024 ))
cores=$(nproc)

# munge: a key, then the daemon
if [[ ! -s /etc/munge/munge.key ]]; then
  $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
$SUDO chown munge:munge /etc/munge/munge.key && $SUDO chmod 400 /etc/munge/munge.key
$SUDO mkdir -p /run/munge && $SUDO chown munge:munge /run/munge
# --force: start even if a killed munged left its socket behind
running munged || $SUDO su -s /bin/sh munge -c "/usr/sbin/munged --force"
wait_for 30 munged bash -c 'munge -n | unmunge'

# MariaDB on a socket only (no network), a database and a user for slurmdbd
$SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld
if ! running mariadbd; then
  $SUDO rm -f /run/mysqld/mysqld.sock /run/mysqld/mysqld.pid  # left by a killed server
  [[ -d /var/lib/mysql/mysql ]] || $SUDO mariadb-install-db --user=mysql \
    --datadir=/var/lib/mysql >/tmp/genscale-mariadb-install.log 2>&1
  $SUDO su -s /bin/sh mysql -c "/usr/sbin/mariadbd --skip-networking \
    --socket=/run/mysqld/mysqld.sock >/tmp/genscale-mariadb.log 2>&1 &"
fi
wait_for 60 MariaDB $SUDO mariadb-admin --socket=/run/mysqld/mysqld.sock ping
$SUDO mariadb --socket=/run/mysqld/mysqld.sock -e "
  CREATE DATABASE IF NOT EXISTS slurm_acct_db;
  CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED VIA unix_socket;
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"

$SUDO mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
$SUDO tee /etc/slurm/slurmdbd.conf >/dev/null <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=root
CONF
$SUDO chmod 600 /etc/slurm/slurmdbd.conf
$SUDO tee /etc/slurm/slurm.conf >/dev/null <<CONF
ClusterName=genscale
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
NodeName=$host CPUs=$cores RealMemory=$mem_mb State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
running slurmdbd || $SUDO slurmdbd
wait_for 60 slurmdbd $SUDO sacctmgr -n list cluster
$SUDO sacctmgr -i add cluster genscale >/dev/null 2>&1 || true
running slurmctld || $SUDO slurmctld
running slurmd || $SUDO slurmd
wait_for 60 "an idle SLURM node" bash -c 'sinfo -h -o %T | grep -qx idle'
sinfo
