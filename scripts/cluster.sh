#!/usr/bin/env bash
# Three detcd members on loopback, as etcd's Procfile lays them out: clients on
# 127.0.0.1:2379, :22379 and :32379, peers on :2380, :22380 and :32380, data in
# ./cluster.detcd/<name>. Ctrl-C (or SIGTERM) stops all three gracefully.
#
#   scripts/cluster.sh                 # build (release) and run
#   DETCD=path/to/detcd scripts/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DETCD:-}" ]; then
  cargo build --release --quiet
  DETCD="${CARGO_TARGET_DIR:-target}/release/detcd"
fi
data="${DATA_DIR:-cluster.detcd}"
cluster="infra1=http://127.0.0.1:2380,infra2=http://127.0.0.1:22380,infra3=http://127.0.0.1:32380"
pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait
}
trap stop INT TERM EXIT
start() {
  local name=$1 client=$2 peer=$3
  mkdir -p "$data"
  "$DETCD" serve --name "$name" --data-dir "$data/$name" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster-token detcd-cluster-1 --initial-cluster "$cluster" --initial-cluster-state new \
    2>&1 | sed -u "s/^/$name | /" &
  pids+=($!)
}
start infra1 2379 2380
start infra2 22379 22380
start infra3 32379 32380
echo "three members starting; try: etcdctl --endpoints 127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 member list"
wait
