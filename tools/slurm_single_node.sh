#!/usr/bin/env bash
# A real single-node Slurm on this machine, for tests/test_launchers.py (and by hand):
#   bash tools/slurm_single_node.sh start [STATE_DIR]   # installs slurm-wlm + munge if missing
#   bash tools/slurm_single_node.sh stop  [STATE_DIR]
# Needs root. One node (this machine's CPUs and memory), one partition "debug"; munged,
# slurmctld -D and slurmd -D run in the background, their logs in STATE_DIR/log. `start` returns
# once `sinfo` shows the node idle and `srun hostname` runs; it exits non-zero, saying why, if not.
set -euo pipefail
action=${1:-start}
state=${2:-/tmp/jaxgan-slurm}
pids="$state/pids"

stop() {
  if [ -f "$pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$pids"
    rm -f "$pids"
  fi
}

if [ "$action" = stop ]; then stop; exit 0; fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
stop
mkdir -p "$state"/{spool,state,log} /etc/slurm /run/munge /var/log/munge /var/lib/munge /etc/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
chmod 0700 /etc/munge /var/log/munge /var/lib/munge
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
pgrep -x munged >/dev/null || su -s /bin/sh munge -c "munged --force"

host=$(hostname -s)
cpus=$(nproc)
memory=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=jaxgan
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -D -i > "$state/log/slurmctld.out" 2>&1 &
echo $! > "$pids"
slurmd -D > "$state/log/slurmd.out" 2>&1 &
echo $! >> "$pids"

for _ in $(seq 60); do
  if sinfo -h -o %T 2>/dev/null | grep -q idle; then
    timeout 60 srun -N1 hostname >/dev/null && exit 0
  fi
  sleep 1
done
echo "slurm did not come up: sinfo says '$(sinfo -h -o %T 2>&1 | head -1)'; see $state/log" >&2
tail -5 "$state"/log/*.log >&2 || true
stop
exit 1
