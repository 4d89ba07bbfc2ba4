#!/usr/bin/env bash
# Where the time goes between kill -9 of a leader and the first put another member
# accepts, for detcd or etcd 3.4 (SYSTEM=detcd|etcd), on a fresh three-member cluster on
# 127.0.0.1 with the flags scripts/compare-etcd.sh uses (heartbeat 100 ms, election
# timeout 1000 ms) but info logs.
#
# Per round: wait for a leader, kill -9 it, then put through `etcdctl` to the other
# members in turn exactly as compare-etcd.sh measures it. Printed, in milliseconds
# since the kill: every put attempt (member, start, end, outcome), then the survivors'
# log lines about the election (lost leader, pre-vote, vote, elected). Ends with the
# kill -> first accepted put figure of each round.
#
#   SYSTEM=detcd ROUNDS=3 BASE_PORT=27100 scripts/failover-times.sh
# The detcd binary is $CARGO_TARGET_DIR/release/detcd (build it first). Everything
# started here is stopped by PID on exit; logs stay in the printed directory.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SYSTEM=${SYSTEM:-detcd}
ROUNDS=${ROUNDS:-3}
BASE_PORT=${BASE_PORT:-27100}
WAIT_SECS=20
DETCD=${CARGO_TARGET_DIR:-$ROOT/target}/release/detcd
LOGDIR=$(mktemp -d /tmp/failover-times.XXXXXX)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$LOGDIR/data"
    echo "logs: $LOGDIR" >&2
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
client_port() { echo $((BASE_PORT + $1)); }
peer_port() { echo $((BASE_PORT + 10 + $1)); }
if [[ $SYSTEM == detcd ]]; then
    [[ -x $DETCD ]] || { echo "no detcd binary at $DETCD" >&2; exit 1; }
fi

start() {
    local round=$1 i cluster=""
    for i in 1 2 3; do cluster+="${cluster:+,}m$i=http://127.0.0.1:$(peer_port "$i")"; done
    MEMBERS=()
    for i in 1 2 3; do
        local dir=$LOGDIR/data/r$round/m$i
        mkdir -p "$dir"
        local args=(
            --name "m$i" --data-dir "$dir"
            --listen-client-urls "http://127.0.0.1:$(client_port "$i")"
            --advertise-client-urls "http://127.0.0.1:$(client_port "$i")"
            --listen-peer-urls "http://127.0.0.1:$(peer_port "$i")"
            --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$i")"
            --initial-cluster "$cluster" --initial-cluster-state new
            --initial-cluster-token "failover-$round"
            --heartbeat-interval 100 --election-timeout 1000
            --logger=zap --log-outputs=stderr --log-level=info
        )
        if [[ $SYSTEM == detcd ]]; then
            "$DETCD" serve "${args[@]}" >"$LOGDIR/r$round-m$i.log" 2>&1 &
        else
            etcd "${args[@]}" >"$LOGDIR/r$round-m$i.log" 2>&1 &
        fi
        PIDS+=($!)
        MEMBERS+=($!)
    done
}

leader_index() {
    local eps="" i ep
    for i in 1 2 3; do eps+="${eps:+,}127.0.0.1:$(client_port "$i")"; done
    ep=$(etcdctl --endpoints="$eps" --dial-timeout=300ms --command-timeout=300ms \
        endpoint status -w simple 2>/dev/null | awk -F', ' '$5 == "true" {print $1; exit}') || true
    for i in 1 2 3; do
        [[ $ep == *":$(client_port "$i")" ]] && { echo "$i"; return 0; }
    done
    return 1
}

# Log lines about the election, with their time in ms since the kill. detcd logs
# RFC 3339 times first on the line; etcd's zap logs carry "ts".
election_lines() {
    local t0=$1 f=$2 name=$3
    grep -E 'leader|vote|PreCandidate|Candidate|campaign|elected|term' "$f" 2>/dev/null |
        while IFS= read -r line; do
            local ts
            ts=$(grep -oE '20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)?' <<<"$line" | head -1) || true
            [[ -n $ts ]] || continue
            local ms=$(($(date -d "$ts" +%s%N) / 1000000 - t0))
            ((ms >= -200)) || continue
            printf '  %6d ms  %s  %s\n' "$ms" "$name" "$(cut -c1-160 <<<"$line")"
        done
}

RESULTS=()
for round in $(seq "$ROUNDS"); do
    start "$round"
    deadline=$(($(now_ms) + WAIT_SECS * 1000))
    until li=$(leader_index); do
        (($(now_ms) < deadline)) || { echo "no leader" >&2; exit 1; }
        sleep 0.05
    done
    # A little load first, so the leader's heartbeats and appends are in steady state.
    for _ in 1 2 3; do
        etcdctl --endpoints="127.0.0.1:$(client_port "$li")" put warm x >/dev/null
    done
    sleep 1
    echo "round $round: $SYSTEM leader m$li (pid ${MEMBERS[$((li - 1))]})"
    t0=$(now_ms)
    kill -KILL "${MEMBERS[$((li - 1))]}"
    wait "${MEMBERS[$((li - 1))]}" 2>/dev/null || true
    took=NA
    deadline=$((t0 + WAIT_SECS * 1000))
    while [[ $took == NA ]] && (($(now_ms) < deadline)); do
        for i in 1 2 3; do
            ((i == li)) && continue
            a=$(now_ms)
            if out=$(etcdctl --endpoints="127.0.0.1:$(client_port "$i")" --dial-timeout=200ms \
                --command-timeout=300ms put compare-failover x 2>&1); then
                b=$(now_ms)
                printf '  put m%d %6d..%6d ms  OK\n' "$i" $((a - t0)) $((b - t0))
                took=$((b - t0))
                break
            fi
            b=$(now_ms)
            printf '  put m%d %6d..%6d ms  %s\n' "$i" $((a - t0)) $((b - t0)) \
                "$(tr '\n' ' ' <<<"$out" | grep -oE '(Error|error).*' | cut -c1-80)"
        done
    done
    for i in 1 2 3; do
        ((i == li)) && continue
        election_lines "$t0" "$LOGDIR/r$round-m$i.log" "m$i"
    done
    echo "round $round: kill -9 -> first accepted put: $took ms"
    RESULTS+=("$took")
    for pid in "${MEMBERS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
done
echo "$SYSTEM kill -9 -> first accepted put, ms: ${RESULTS[*]}"
