#!/usr/bin/env bash
# CPU time per request of a three-member detcd cluster, for A/B comparisons of builds
# or settings on a machine that other work shares (CPU seconds per request move far
# less with the machine's load than requests per second do).
#
#   scripts/cpu-per-request.sh VARIANT...
#
# A VARIANT is a detcd binary, optionally followed by comma-separated VAR=VALUE
# settings for the members' environment:
#
#   scripts/cpu-per-request.sh target/release/detcd /tmp/detcd-b \
#       target/release/detcd,TOKIO_WORKER_THREADS=1
#
# For each round, each variant in turn (A, B, A, B: interleaved, so a change in the
# machine's load falls on both): a fresh cluster on 127.0.0.1, then each load of LOADS
# against it with one and the same load generator (BENCH, default the first variant's
# binary), then the cluster is stopped. Loads:
#   put    `detcd bench put`, 64 clients over 8 connections, to the leader
#   range  `detcd bench range --consistency l`, 64 clients over 8 connections, to all
# Per load it prints the requests answered, requests/s, and the CPU time (utime + stime
# from /proc/PID/stat, before and after) of the three members together and of the
# bench, each in microseconds per answered request.
#
# Environment: ROUNDS=2 LOADS="put range" PUT_TOTAL=30000 RANGE_TOTAL=60000
# BENCH_CAP=30s BASE_PORT=24000 (client ports BASE+1..3, peer ports BASE+11..13).
# Bounded: every bench has a --duration cap, every wait a deadline; every process
# started here is stopped on exit, by PID.
set -euo pipefail

ROUNDS=${ROUNDS:-2}
LOADS=${LOADS:-put range}
PUT_TOTAL=${PUT_TOTAL:-30000}
RANGE_TOTAL=${RANGE_TOTAL:-60000}
BENCH_CAP=${BENCH_CAP:-30s}
BASE_PORT=${BASE_PORT:-24000}
WAIT_SECS=20

[[ $# -ge 1 ]] || { sed -n '2,25p' "$0"; exit 2; }
for tool in jq etcdctl; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
BENCH=${BENCH:-${1%%,*}}
HZ=$(getconf CLK_TCK)
LOGDIR=$(mktemp -d /tmp/detcd-cpu.XXXXXX)
source "$(dirname "$0")/lib/stop-pids.sh"
source "$(dirname "$0")/lib/members.sh"
PIDS=()

stop_members() {
    stop_pids "${PIDS[@]}"
    PIDS=()
}
trap 'stop_members; rm -rf "$LOGDIR/data"; echo "logs: $LOGDIR" >&2' EXIT
trap 'exit 130' INT TERM

# start VARIANT TAG: three fresh members of VARIANT's binary with its settings.
start() {
    start_members_and_wait "$1" "$2" has_leader
}

# Succeeds when some member says it leads.
has_leader() {
    etcdctl --endpoints="$EPS" --dial-timeout=300ms --command-timeout=300ms \
        endpoint status -w simple 2>/dev/null | awk -F', ' '$5 == "true" {f=1} END {exit !f}'
}

# The members' utime + stime together, in clock ticks.
members_ticks() {
    local pid sum=0 t
    for pid in "${PIDS[@]}"; do
        # Fields after the parenthesised command name: utime and stime are 12 and 13.
        t=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
        sum=$((sum + t))
    done
    echo "$sum"
}

# measure LABEL LOAD: one bench run; prints its line.
measure() {
    local label=$1 load=$2 args out before after bench_secs ok rps
    case $load in
        put) args=(put --endpoints "$EPS" --target-leader --total "$PUT_TOTAL") ;;
        range) args=(range --endpoints "$EPS" --consistency l --total "$RANGE_TOTAL") ;;
        *) echo "unknown load $load" >&2; exit 2 ;;
    esac
    out=$LOGDIR/bench.json
    before=$(members_ticks)
    # bash's `time` gives the bench's own user + system seconds.
    bench_secs=$( { TIMEFORMAT='%U %S'; time "$BENCH" bench "${args[@]}" --clients 64 --conns 8 \
        --duration "$BENCH_CAP" --json >"$out" 2>"$LOGDIR/bench.err"; } 2>&1 | awk '{print $1 + $2}')
    after=$(members_ticks)
    ok=$(jq -r '.ok' "$out")
    rps=$(jq -r '.requests_per_sec | round' "$out")
    awk -v l="$label" -v load="$load" -v ok="$ok" -v rps="$rps" -v m=$((after - before)) \
        -v hz="$HZ" -v b="$bench_secs" 'BEGIN {
        printf "%-48s %-5s %7d ok %7d req/s  members %6.1f us/req  bench %5.1f us/req\n",
            l, load, ok, rps, m / hz * 1e6 / ok, b * 1e6 / ok }'
}

for round in $(seq "$ROUNDS"); do
    n=0
    for variant in "$@"; do
        n=$((n + 1))
        start "$variant" "r$round-v$n"
        for load in $LOADS; do measure "$variant" "$load"; done
        stop_members
    done
done
