#!/usr/bin/env bash
# One large DeleteRange against a fresh three-member detcd cluster on 127.0.0.1 (the
# flags scripts/compare-etcd.sh uses: heartbeat 100 ms, election timeout 1000 ms, info
# logs): put KEYS sequential keys with `detcd bench`, then time
# `etcdctl del "" --from-key` and report whether any member saw a leader change.
# This is what `etcdctl check perf` does when it cleans up.
#
#   KEYS=150000 BASE_PORT=21000 scripts/big-delete.sh
#   PERF=1 ...        also record the leader's CPU during the delete (perf.data in the logs)
#   CHECK_PERF=1 ...  afterwards run `etcdctl check perf --load=l` against the cluster
# The detcd binary is $CARGO_TARGET_DIR/release/detcd (build it first). Everything
# started here is stopped by PID on exit; logs stay in the printed directory.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib/stop-pids.sh"
KEYS=${KEYS:-150000}
BASE_PORT=${BASE_PORT:-21000}
PERF=${PERF:-0}
CHECK_PERF=${CHECK_PERF:-0}
DETCD=${CARGO_TARGET_DIR:-$ROOT/target}/release/detcd
LOGDIR=$(mktemp -d /tmp/big-delete.XXXXXX)
PIDS=()

cleanup() {
    stop_pids "${PIDS[@]}"
    rm -rf "$LOGDIR/data"
    echo "logs: $LOGDIR" >&2
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
client_port() { echo $((BASE_PORT + $1)); }
peer_port() { echo $((BASE_PORT + 10 + $1)); }

cluster=""
for i in 1 2 3; do cluster+="${cluster:+,}m$i=http://127.0.0.1:$(peer_port "$i")"; done
EPS="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"
declare -A PID_OF
for i in 1 2 3; do
    mkdir -p "$LOGDIR/data/m$i"
    "$DETCD" serve --name "m$i" --data-dir "$LOGDIR/data/m$i" \
        --listen-client-urls "http://127.0.0.1:$(client_port "$i")" \
        --advertise-client-urls "http://127.0.0.1:$(client_port "$i")" \
        --listen-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
        --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
        --initial-cluster "$cluster" --initial-cluster-state new \
        --initial-cluster-token big-delete \
        --heartbeat-interval 100 --election-timeout 1000 >"$LOGDIR/m$i.log" 2>&1 &
    PIDS+=($!)
    PID_OF[m$i]=$!
done

status() {
    etcdctl --endpoints="$EPS" --dial-timeout=500ms --command-timeout=1s \
        endpoint status -w simple 2>/dev/null || true
}
leader_ep=""
for _ in $(seq 200); do
    leader_ep=$(status | awk -F', ' '$5 == "true" {print $1}')
    [[ -n $leader_ep ]] && break
    sleep 0.1
done
[[ -n $leader_ep ]] || { echo "no leader" >&2; exit 1; }
term_before=$(status | awk -F', ' '$5 == "true" {print $7}')
echo "leader $leader_ep, term $term_before"

"$DETCD" bench put --endpoints "$EPS" --target-leader --clients 64 --conns 8 \
    --total "$KEYS" --key-space-size "$KEYS" --sequential-keys >"$LOGDIR/bench.txt" 2>&1
grep -iE "throughput|requests/s|total" "$LOGDIR/bench.txt" | head -3 || true


if [[ $PERF == 1 ]]; then
    port=${leader_ep##*:}
    for i in 1 2 3; do [[ $(client_port "$i") == "$port" ]] && leader_pid=${PID_OF[m$i]}; done
    perf record -e cpu-clock -F 999 --call-graph dwarf,16384 -p "$leader_pid" \
        -o "$LOGDIR/perf.data" -- sleep 6 >/dev/null 2>&1 &
    perf_pid=$!
    sleep 1
fi
start=$(now_ms)
etcdctl --endpoints="$leader_ep" --command-timeout=30s del "" --from-key
took=$(($(now_ms) - start))
echo "delete of every key: ${took} ms"
if [[ $PERF == 1 ]]; then wait "$perf_pid" || true; fi
sleep 2
status
term_after=$(status | awk -F', ' '$5 == "true" {print $7}')
echo "term before ${term_before}, after ${term_after}"
for i in 1 2 3; do
    changes=$(grep -cE "leader elected|lost the leader" "$LOGDIR/m$i.log" || true)
    echo "m$i: ${changes} leadership lines in its log"
done
if [[ $CHECK_PERF == 1 ]]; then
    etcdctl --endpoints="$EPS" check perf --load=l 2>&1 | tr '\r' '\n' | grep -v '^\s*$' |
        grep -vE '[0-9]+ / [0-9]+' || true
    status
fi
