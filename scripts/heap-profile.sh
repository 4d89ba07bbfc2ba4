#!/usr/bin/env bash
# Where a member's memory goes after N puts: one detcd member under heaptrack, loaded
# with `detcd bench put` (64 clients over 8 connections, distinct 8-byte keys, 256-byte
# values), then stopped; prints the heap still allocated at the end by call site
# (heaptrack_print's "peak"/"leaked" lists) and the member's VmRSS before it stopped.
#
# A single member holds what a leader holds (the Raft log, the MVCC history, the WAL
# writer's buffers) without its followers' processes on the same cores.
# Environment: PUTS=100000 PORT=23100 DETCD=<target>/release/detcd HEAPTRACK=1
# (HEAPTRACK=0 runs the member plain, for its RSS alone). Everything started here is
# stopped by PID on exit; the heaptrack file and logs stay in the printed directory.

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PUTS=${PUTS:-100000}
PORT=${PORT:-23100}
HEAPTRACK=${HEAPTRACK:-1}
DETCD=${DETCD:-${CARGO_TARGET_DIR:-$ROOT/target}/release/detcd}
[[ -x $DETCD ]] || { echo "no detcd binary at $DETCD" >&2; exit 1; }
if [[ $HEAPTRACK == 1 ]]; then
    command -v heaptrack >/dev/null || { echo "heaptrack is needed (Debian: heaptrack)" >&2; exit 1; }
fi

DIR=$(mktemp -d /tmp/detcd-heap.XXXXXX)
MEMBER=""
cleanup() {
    if [[ -n $MEMBER ]]; then
        kill -TERM "$MEMBER" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$MEMBER" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$MEMBER" 2>/dev/null || true
        wait "$MEMBER" 2>/dev/null || true
    fi
    rm -rf "$DIR/data"
    echo "files: $DIR" >&2
}
trap cleanup EXIT

args=(serve --name m1 --data-dir "$DIR/data"
    --listen-client-urls "http://127.0.0.1:$PORT" --advertise-client-urls "http://127.0.0.1:$PORT"
    --listen-peer-urls "http://127.0.0.1:$((PORT + 1))"
    --initial-advertise-peer-urls "http://127.0.0.1:$((PORT + 1))"
    --initial-cluster "m1=http://127.0.0.1:$((PORT + 1))" --initial-cluster-state new)
if [[ $HEAPTRACK == 1 ]]; then
    heaptrack -o "$DIR/heap" "$DETCD" "${args[@]}" >"$DIR/member.log" 2>&1 &
else
    "$DETCD" "${args[@]}" >"$DIR/member.log" 2>&1 &
fi
MEMBER=$!
# heaptrack runs the member as its child: the member's PID is the one listening.
for _ in $(seq 200); do
    ss -ltnp "sport = :$PORT" 2>/dev/null | grep -q LISTEN && break
    sleep 0.1
done
PID=$(ss -ltnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[[ -n $PID ]] || { echo "member did not listen on $PORT" >&2; exit 1; }
# Puts before the member has elected itself fail; wait for one to succeed.
for _ in $(seq 100); do
    errors=$("$DETCD" bench put --endpoints "127.0.0.1:$PORT" --clients 1 --conns 1 --total 1 \
        --duration 2s --json 2>/dev/null | jq -r .errors 2>/dev/null || echo 1)
    [[ $errors == 0 ]] && break
    sleep 0.1
done

"$DETCD" bench put --endpoints "127.0.0.1:$PORT" --clients 64 --conns 8 --total "$PUTS" \
    --key-space-size "$PUTS" --sequential-keys --val-size 256 --duration 300s --json \
    >"$DIR/bench.json"
sleep 2
echo "VmRSS after $PUTS puts: $(awk '/^VmRSS:/ {print $2, $3}' "/proc/$PID/status")"
grep -E '^(VmHWM|RssAnon|RssFile)' "/proc/$PID/status"
kill -TERM "$PID"
for _ in $(seq 100); do kill -0 "$MEMBER" 2>/dev/null || break; sleep 0.1; done
wait "$MEMBER" 2>/dev/null || true
MEMBER=""
if [[ $HEAPTRACK == 1 ]]; then
    heaptrack_print -f "$DIR"/heap*.zst --print-leaks 1 --print-peaks 1 \
        --print-allocators 0 --print-temporary 0 --peak-limit 15 --sub-peak-limit 4 \
        >"$DIR/report.txt" 2>/dev/null || true
    grep -E '^(total runtime|calls to allocation|peak heap memory|peak RSS|total memory leaked)' "$DIR/report.txt" || true
    echo "report: $DIR/report.txt"
fi
