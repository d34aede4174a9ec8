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
running() { pgrep -x "$1" >/dev/null 2>&1; }
host=$(hostname)
mem_mb=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 1024 ))
cores=$(nproc)

# munge: a key, then the daemon
if [[ ! -s /etc/munge/munge.key ]]; then
  $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
$SUDO chown munge:munge /etc/munge/munge.key && $SUDO chmod 400 /etc/munge/munge.key
$SUDO mkdir -p /run/munge && $SUDO chown munge:munge /run/munge
running munged || $SUDO su -s /bin/sh munge -c /usr/sbin/munged

# MariaDB on a socket only (no network), a database and a user for slurmdbd
$SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld
if ! running mariadbd; then
  $SUDO su -s /bin/sh mysql -c "/usr/sbin/mariadbd --skip-networking \
    --socket=/run/mysqld/mysqld.sock >/tmp/genscale-mariadb.log 2>&1 &"
  for _ in $(seq 60); do [[ -S /run/mysqld/mysqld.sock ]] && break; sleep 0.5; done
fi
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
running slurmdbd || { $SUDO slurmdbd; sleep 2; }
$SUDO sacctmgr -i add cluster genscale >/dev/null 2>&1 || true
running slurmctld || $SUDO slurmctld
running slurmd || $SUDO slurmd
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo
