#!/usr/bin/env bash
# A private, real Slurm on this host for development and tests (docs/slurm.md): munged,
# slurmctld and NODES x `slurmd -N node-I` (each its own Port), every node with GPUS GPUs
# declared as GRES over plain files (AutoDetect=off; no device or driver needed).
#   scripts/slurm-up.sh start DATA_DIR [CTLD_PORT] [SLURMD_BASE_PORT] [NODES] [GPUS]
#       -> prints `export SLURM_CONF=...` once every node is idle
#   scripts/slurm-up.sh stop  DATA_DIR
# Runs as root (slurmd launches jobs as their users; munged and slurmctld run as root here,
# SlurmUser=root). Debian 12: slurmctld slurmd munge slurm-client (scripts/install-deps.sh).
# No cgroups (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none), no accounting daemon:
# sacct has nothing to read, hai falls back to squeue/scontrol and its own exit files.
set -euo pipefail

cmd=${1:?usage: slurm-up.sh start|stop DATA_DIR [CTLD_PORT] [SLURMD_BASE_PORT] [NODES] [GPUS]}
data=${2:?data dir required}
ctld_port=${3:-6817}
slurmd_base=${4:-6818}
nodes=${5:-2}
gpus=${6:-2}
mkdir -p "$data"
data=$(cd "$data" && pwd)
conf="$data/slurm.conf"

stop_pidfile() {
  local f=$1
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Slurm binds its ports without SO_REUSEADDR: a socket left in TIME_WAIT on the port (a
# previous run's, or any connection that got it as an ephemeral port) makes the bind fail for
# up to a minute. Wait for the port to be clear instead of failing.
wait_port_free() {
  local port=$1
  for _ in $(seq 130); do
    [ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  echo "slurm-up.sh: port $port still in use after 65 s:" >&2
  ss -tanp "( sport = :$port )" >&2 || true
  return 1
}

case "$cmd" in
  start)
    [ "$(id -u)" = 0 ] || { echo "slurm-up.sh: must run as root (slurmd starts jobs as their users)" >&2; exit 1; }
    for b in munged slurmctld slurmd sbatch; do
      command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] \
        || { echo "slurm-up.sh: $b not found (scripts/install-deps.sh installs slurmctld slurmd munge slurm-client)" >&2; exit 1; }
    done
    mkdir -p "$data/munge" "$data/state" "$data/dev" "$data/log"
    chmod 755 "$data"
    # munged: a key and socket of our own, so a system munged (if any) is left alone.
    if [ ! -f "$data/munge/munge.key" ]; then
      dd if=/dev/urandom of="$data/munge/munge.key" bs=1024 count=1 status=none
      chmod 400 "$data/munge/munge.key"
    fi
    chmod 700 "$data/munge"
    if ! { [ -f "$data/munge/munged.pid" ] && kill -0 "$(cat "$data/munge/munged.pid")" 2>/dev/null; }; then
      /usr/sbin/munged --force --socket="$data/munge/munge.sock" --key-file="$data/munge/munge.key" \
        --pid-file="$data/munge/munged.pid" --log-file="$data/log/munged.log" \
        --seed-file="$data/munge/munged.seed" \
        || { echo "slurm-up.sh: munged failed:" >&2; tail -n 5 "$data/log/munged.log" >&2; exit 1; }
    fi
    chmod 755 "$data/munge"  # jobs' users reach the socket (the key stays 0400)
    gpu_files=""
    for i in $(seq 0 $((gpus - 1))); do : >"$data/dev/nvidia$i"; done
    [ "$gpus" -gt 0 ] && gpu_files="$data/dev/nvidia[0-$((gpus - 1))]"
    {
      echo "ClusterName=hai-test"
      echo "SlurmctldHost=localhost(127.0.0.1)"
      echo "SlurmctldPort=$ctld_port"
      echo "SlurmUser=root"
      echo "SlurmdUser=root"
      echo "AuthType=auth/munge"
      echo "CredType=cred/munge"
      echo "AuthInfo=socket=$data/munge/munge.sock"
      echo "StateSaveLocation=$data/state"
      echo "SlurmdSpoolDir=$data/spool-%n"
      echo "SlurmctldPidFile=$data/slurmctld.pid"
      echo "SlurmdPidFile=$data/slurmd-%n.pid"
      echo "SlurmctldLogFile=$data/log/slurmctld.log"
      echo "SlurmdLogFile=$data/log/slurmd-%n.log"
      echo "ProctrackType=proctrack/linuxproc"
      echo "TaskPlugin=task/none"
      echo "JobAcctGatherType=jobacct_gather/none"
      echo "AccountingStorageType=accounting_storage/none"
      echo "MpiDefault=none"
      echo "SchedulerType=sched/builtin"
      echo "SelectType=select/cons_tres"
      echo "SelectTypeParameters=CR_Core"
      echo "GresTypes=gpu"
      echo "ReturnToService=2"
      echo "SlurmdParameters=config_overrides"
      echo "KillWait=5"
      echo "MinJobAge=600"
      # Job ids far from small pids: a test helper that mistook one for a process group id
      # must not signal init or a session leader.
      echo "FirstJobId=100000"
      echo "SlurmctldTimeout=30"
      echo "SlurmdTimeout=30"
      echo "InactiveLimit=0"
      for i in $(seq 0 $((nodes - 1))); do
        echo "NodeName=node-$i NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((slurmd_base + i)) CPUs=8 RealMemory=4000 Gres=gpu:$gpus State=UNKNOWN"
      done
      echo "PartitionName=hai Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO"
    } >"$conf"
    {
      echo "AutoDetect=off"
      [ "$gpus" -gt 0 ] && echo "NodeName=node-[0-$((nodes - 1))] Name=gpu File=$gpu_files"
    } >"$data/gres.conf"
    : >"$data/cgroup.conf"
    export SLURM_CONF="$conf"
    if ! { [ -f "$data/slurmctld.pid" ] && kill -0 "$(cat "$data/slurmctld.pid")" 2>/dev/null; }; then
      wait_port_free "$ctld_port"
      /usr/sbin/slurmctld -i -f "$conf" \
        || { echo "slurm-up.sh: slurmctld failed:" >&2; tail -n 20 "$data/log/slurmctld.log" >&2; exit 1; }
    fi
    for i in $(seq 0 $((nodes - 1))); do
      pidf="$data/slurmd-node-$i.pid"
      if ! { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }; then
        mkdir -p "$data/spool-node-$i"
        wait_port_free $((slurmd_base + i))
        /usr/sbin/slurmd -f "$conf" -N "node-$i" \
          || { echo "slurm-up.sh: slurmd node-$i failed:" >&2; tail -n 20 "$data/log/slurmd-node-$i.log" >&2; exit 1; }
      fi
    done
    # Ready when every node is idle (registered, GRES accepted).
    for _ in $(seq 300); do
      idle=$(sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l || true)
      [ "$idle" -ge "$nodes" ] && break
      sleep 0.1
    done
    if [ "$idle" -lt "$nodes" ]; then
      echo "slurm-up.sh: only $idle of $nodes nodes idle after 30 s:" >&2
      sinfo -N -o '%N %T %E' >&2 || true
      tail -n 20 "$data/log/slurmctld.log" >&2 || true
      exit 1
    fi
    echo "export SLURM_CONF=$conf"
    ;;
  stop)
    export SLURM_CONF="$conf"
    for f in "$data"/slurmd-*.pid; do stop_pidfile "$f"; done
    stop_pidfile "$data/slurmctld.pid"
    stop_pidfile "$data/munge/munged.pid"
    ;;
  *)
    echo "usage: slurm-up.sh start|stop DATA_DIR [CTLD_PORT] [SLURMD_BASE_PORT] [NODES] [GPUS]" >&2
    exit 2
    ;;
esac
