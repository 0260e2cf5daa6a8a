#!/usr/bin/env bash
# CI step: a one-node Slurm cluster on 127.0.0.1 (munged, slurmctld and slurmd, every file in
# a temporary folder), then the test that submits a smoke Table 1 to it as a job array and
# compares the collected results with a local `ediy reproduce`. The daemons are stopped on
# exit. Needs root (apt-get, and the daemons run as root) and a built CLI (`npm run build`).
# Budget: under 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
  echo "== apt-get install slurm-wlm munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge > /dev/null
fi
dir=$(mktemp -d /tmp/ediy-slurm.XXXXXX)
chmod 755 "$dir"
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  done
  rm -rf "$dir"
}
trap stop EXIT

echo "== munged"
mkdir -p "$dir/munge" && chmod 700 "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
munged --force --foreground --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
  --seed-file="$dir/munge/munged.seed" > "$dir/munge/munged.out" 2>&1 &
pids+=($!)

echo "== slurmctld, slurmd"
mkdir -p "$dir/state" "$dir/spool"
cat > "$dir/slurm.conf" << CONF
ClusterName=ediy-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=ediy-node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=ediy-node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
for _ in $(seq 50); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
slurmctld -D -i > "$dir/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N ediy-node > "$dir/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
  state=$(sinfo -h -N -o '%t' 2> /dev/null || true)
  [ "$state" = idle ] && break
  sleep 1
done
sinfo -N
if [ "$(sinfo -h -N -o '%t' 2> /dev/null || true)" != idle ]; then
  echo "the Slurm node did not come up; logs:"
  tail -n 30 "$dir"/*.log "$dir"/*.out "$dir"/munge/*.log "$dir"/munge/*.out || true
  exit 1
fi

echo "== slurm test"
(cd packages/cli && EDIY_SLURM_TEST=1 npx vitest run test/slurm.test.ts)
echo "== slurm test done in $(($(date +%s) - start))s"
