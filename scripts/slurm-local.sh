#!/usr/bin/env bash
# A two-node SLURM "cluster" on this machine (Debian 12, root, no systemd), for sslctl's
# SLURM launcher tests (tests/launch) and `make slurm-up` / `make slurm-down`.
# Usage: slurm-local.sh start|stop|status
#   start installs the Debian packages when missing (apt), writes /etc/slurm/slurm.conf
#   (nodes n1 and n2, both this host with all its CPUs and memory, each its own slurmd on
#   its own port; names added to /etc/hosts; partition "debug") and starts munge,
#   MariaDB, slurmdbd, slurmctld and the two slurmd; stop shuts them all down.
#   Two nodes make multi-node jobs real: `srun -N2` starts a task under each slurmd with
#   SLURM_NODEID 0 and 1, and submitit's master address is the first node's name.
#   SLURM_ACCOUNTING=1 (default): also slurmdbd + MariaDB, so `sacct` works and
#                                  submitit's job.state / job.done() are accurate.
#   SLURM_ACCOUNTING=0          : 8 packages only; sacct fails, submitit warns and
#                                  job.state stays UNKNOWN (results still come back).
set -euo pipefail
ACCT="${SLURM_ACCOUNTING:-1}"
CONF=/etc/slurm/slurm.conf
wait_for() { # wait_for SECONDS CMD...
  local t=$1; shift
  for _ in $(seq 1 $((t * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "timeout waiting for: $*" >&2; return 1
}
stop_pidfile() { # stop_pidfile FILE
  [ -s "$1" ] || return 0
  local p; p=$(cat "$1")
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p"
    for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" || true
  fi
  rm -f "$1"
}

start() {
  local pkgs="slurmctld slurmd slurm-client munge"
  [ "$ACCT" = 1 ] && pkgs="$pkgs slurmdbd mariadb-server"
  local missing=0
  for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing=1; done
  if [ "$missing" = 1 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  fi
  mkdir -p /run/munge /run/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  chown munge:munge /run/munge
  [ -s /etc/munge/munge.key ] || { mungekey --create --force; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  [ -S /run/munge/munge.socket.2 ] && munge -n >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged --force
  wait_for 10 sh -c 'munge -n | unmunge'

  # this host's CPUs, sockets, cores and memory, as slurmd -C reports them, for each node
  local resources; resources=$(slurmd -C | head -n1 | cut -d' ' -f2-)
  grep -qE '^127\.0\.0\.1[[:space:]]+n1 n2$' /etc/hosts || echo "127.0.0.1 n1 n2" >> /etc/hosts
  mkdir -p /var/spool/slurmd/n1 /var/spool/slurmd/n2
  local acct_lines="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  if [ "$ACCT" = 1 ]; then
    acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    if ! mysqladmin ping >/dev/null 2>&1; then
      setsid /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
        --socket=/run/mysqld/mysqld.sock >/var/log/slurm/mariadb.log 2>&1 < /dev/null &
      wait_for 60 mysqladmin ping
    fi
    cat > /etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
EOF
    chmod 600 /etc/slurm/slurmdbd.conf
  fi
  cat > "$CONF" <<EOF
ClusterName=local
SlurmctldHost=localhost
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd/%n
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd-%n.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
$acct_lines
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=n1 NodeHostname=n1 NodeAddr=127.0.0.1 Port=17001 $resources State=UNKNOWN
NodeName=n2 NodeHostname=n2 NodeAddr=127.0.0.1 Port=17002 $resources State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  if [ "$ACCT" = 1 ]; then
    [ -s /run/slurm/slurmdbd.pid ] && kill -0 "$(cat /run/slurm/slurmdbd.pid)" 2>/dev/null || slurmdbd
    wait_for 60 sacctmgr -n list cluster
  fi
  slurmctld
  slurmd -N n1
  slurmd -N n2
  wait_for 60 sh -c '[ "$(sinfo -h -N -o %T | grep -cx idle)" = 2 ]'
  sinfo
}

stop() {
  scontrol shutdown >/dev/null 2>&1 || true     # stops slurmctld and slurmd
  stop_pidfile /run/slurm/slurmd-n1.pid
  stop_pidfile /run/slurm/slurmd-n2.pid
  stop_pidfile /run/slurm/slurmd.pid                # a single-node cluster of an older script
  stop_pidfile /run/slurm/slurmctld.pid
  stop_pidfile /run/slurm/slurmdbd.pid
  if mysqladmin ping >/dev/null 2>&1; then mysqladmin shutdown || true; fi
  stop_pidfile /run/mysqld/mysqld.pid
  stop_pidfile /run/munge/munged.pid
}

if [ "$(id -u)" != 0 ] && [ "${1:-start}" != status ]; then
  echo "slurm-local.sh: must run as root (it installs packages and starts system daemons)" >&2
  exit 3
fi

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) sinfo; squeue ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
