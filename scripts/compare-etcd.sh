#!/usr/bin/env bash
# detcd against etcd 3.4 side by side, in one run, on this machine.
#
# For each system: a fresh three-member cluster on 127.0.0.1 (same heartbeat and
# election timeout), then `detcd bench` against it, then one table with both systems and
# their ratio. Measured:
#   - start to first leader (process start -> `etcdctl endpoint status` shows a leader)
#   - put, 1 client, to the leader
#   - put, 64 clients over 8 connections, to the leader
#   - linearizable range of one key, 1 client
#   - linearizable and serializable range of one key, 64 clients over 8 connections,
#     spread over all members
#   - `etcdctl check perf --load=l` (its verdict, and its throughput line)
#   - kill -9 of the leader -> first put another member accepts
#   - largest member RSS (VmRSS) after RSS_PUTS puts of 256-byte values to distinct
#     keys, on a second fresh cluster
#
# It prints the issue's target table first (each target, both figures, the ratio and
# PASS or MISS), then every figure measured.
#
# Bounded: every bench has a --duration cap besides its --total, every wait has a
# deadline, and a watchdog ends the script after MAX_SECS. Everything started here is
# killed on exit (by PID). Sizes are environment variables:
#   PUT1_TOTAL=2000 PUT_TOTAL=50000 RANGE_TOTAL=100000 RSS_PUTS=100000 BENCH_CAP=20s
#   RSS_CAP=90s MAX_SECS=900 BASE_PORT=31000 SKIP_BUILD=0 CHECK_PERF=1
# RSS_ONLY=1 measures only the RSS part (cluster 2); the other rows show NA.
# Logs and bench outputs stay in a temporary directory, printed at the end.
#
# Run as root with etcd missing, it installs Debian's etcd-server and etcd-client.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib/stop-pids.sh"
PUT1_TOTAL=${PUT1_TOTAL:-2000}
PUT_TOTAL=${PUT_TOTAL:-50000}
RANGE_TOTAL=${RANGE_TOTAL:-100000}
RSS_PUTS=${RSS_PUTS:-100000}
BENCH_CAP=${BENCH_CAP:-20s}
RSS_CAP=${RSS_CAP:-90s}
MAX_SECS=${MAX_SECS:-900}
CHECK_PERF=${CHECK_PERF:-1}
# etcdctl check perf --load=l runs 60 s; this bounds it with its start and cleanup.
CHECK_PERF_SECS=150
BASE_PORT=${BASE_PORT:-31000}
SKIP_BUILD=${SKIP_BUILD:-0}
RSS_ONLY=${RSS_ONLY:-0}
# How long to wait for a leader, and for a put after the leader is killed.
WAIT_SECS=20

LOGDIR=$(mktemp -d /tmp/detcd-compare.XXXXXX)
PIDS=()
WATCHDOG=""

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.5
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    if [[ -n $WATCHDOG ]]; then
        kill "$WATCHDOG" 2>/dev/null || true
        wait "$WATCHDOG" 2>/dev/null || true
        WATCHDOG=""
    fi
    rm -rf "$LOGDIR/data"
}
trap 'cleanup; echo "logs: $LOGDIR" >&2' EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

say() { echo "== $*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- tools ---------------------------------------------------------------------------
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
    if [[ $(id -u) == 0 ]]; then
        say "installing etcd-server and etcd-client"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client
    else
        echo "etcd and etcdctl are needed (Debian: etcd-server, etcd-client)" >&2
        exit 1
    fi
fi
if ! command -v jq >/dev/null && [[ $(id -u) == 0 ]]; then
    say "installing jq"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq
fi
for tool in jq awk ss; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
ETCD_VERSION=$(etcd --version | awk '/etcd Version/ {print $3}')

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if [[ $SKIP_BUILD != 1 ]]; then
    say "building detcd (release)"
    (cd "$ROOT" && cargo build --release -j 2 --bin detcd --quiet)
fi
DETCD=$TARGET/release/detcd
[[ -x $DETCD ]] || { echo "no detcd binary at $DETCD" >&2; exit 1; }

# The watchdog bounds everything after the build.
# Its sleep is ended with it, so nothing outlives the script.
(
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$MAX_SECS" &
    sleeper=$!
    wait "$sleeper"
    echo "compare-etcd: over ${MAX_SECS}s, stopping" >&2
    kill -TERM $$
) &
WATCHDOG=$!

# --- clusters ------------------------------------------------------------------------
# Ports: system index s (0 detcd, 1 etcd), member i: client BASE+20s+i, peer BASE+20s+10+i.
client_port() { echo $((BASE_PORT + 20 * $1 + $2)); }
peer_port() { echo $((BASE_PORT + 20 * $1 + 10 + $2)); }

check_ports_free() {
    local s=$1 i
    for i in 1 2 3; do
        for p in "$(client_port "$s" "$i")" "$(peer_port "$s" "$i")"; do
            if ss -ltn "sport = :$p" 2>/dev/null | grep -q LISTEN; then
                echo "port $p is taken; set BASE_PORT" >&2
                exit 1
            fi
        done
    done
}

endpoints() {
    local s=$1
    echo "127.0.0.1:$(client_port "$s" 1),127.0.0.1:$(client_port "$s" 2),127.0.0.1:$(client_port "$s" 3)"
}

# start_cluster SYSTEM TAG: starts three members; sets MEMBER_PIDS and START_MS.
MEMBER_PIDS=()
START_MS=0
start_cluster() {
    local s=$1 tag=$2 i cluster="" name
    check_ports_free "$s"
    for i in 1 2 3; do
        cluster+="${cluster:+,}m$i=http://127.0.0.1:$(peer_port "$s" "$i")"
    done
    MEMBER_PIDS=()
    START_MS=$(now_ms)
    for i in 1 2 3; do
        name=m$i
        local dir=$LOGDIR/data/$tag/$name
        mkdir -p "$dir"
        local args=(
            --name "$name" --data-dir "$dir"
            --listen-client-urls "http://127.0.0.1:$(client_port "$s" "$i")"
            --advertise-client-urls "http://127.0.0.1:$(client_port "$s" "$i")"
            --listen-peer-urls "http://127.0.0.1:$(peer_port "$s" "$i")"
            --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$s" "$i")"
            --initial-cluster "$cluster" --initial-cluster-state new
            --initial-cluster-token "compare-$tag"
            --heartbeat-interval 100 --election-timeout 1000
            --logger=zap --log-outputs=stderr --log-level=error
        )
        if [[ $s == 0 ]]; then
            "$DETCD" serve "${args[@]}" >"$LOGDIR/$tag-$name.log" 2>&1 &
        else
            etcd "${args[@]}" >"$LOGDIR/$tag-$name.log" 2>&1 &
        fi
        PIDS+=($!)
        MEMBER_PIDS+=($!)
    done
}

stop_cluster() {
    stop_pids "${MEMBER_PIDS[@]}"
    MEMBER_PIDS=()
}

# `etcdctl endpoint status` lines: "ep, id, version, db size, is leader, is learner, ...".
status_lines() {
    etcdctl --endpoints="$1" --dial-timeout=300ms --command-timeout=300ms \
        endpoint status -w simple 2>/dev/null || true
}

# wait_leader ENDPOINTS: milliseconds until some member reports itself leader (from
# START_MS), or fails.
wait_leader() {
    local eps=$1 deadline=$(($(now_ms) + WAIT_SECS * 1000))
    while (($(now_ms) < deadline)); do
        if status_lines "$eps" | awk -F', ' '$5 == "true" {found=1} END {exit !found}'; then
            echo $(($(now_ms) - START_MS))
            return 0
        fi
        sleep 0.02
    done
    echo "no leader within ${WAIT_SECS}s on $eps" >&2
    return 1
}

leader_index() {
    local eps=$1 ep i
    ep=$(status_lines "$eps" | awk -F', ' '$5 == "true" {print $1; exit}')
    for i in 1 2 3; do
        [[ $ep == *":$(client_port "$S" "$i")" ]] && { echo "$i"; return 0; }
    done
    return 1
}

# bench NAME ARGS...: runs `detcd bench ... --json` into $LOGDIR/TAG-NAME.json.
bench() {
    local name=$1
    shift
    local out=$LOGDIR/$TAG-$name.json
    say "$TAG: bench $name"
    if ! "$DETCD" bench "$@" --json >"$out" 2>"$LOGDIR/$TAG-$name.err"; then
        echo "bench $name failed: $(cat "$LOGDIR/$TAG-$name.err")" >&2
        echo '{}' >"$out"
    fi
}

# failover ENDPOINTS: kill -9 the leader; sets FAILOVER_MS to the milliseconds until
# another member accepts a put (NA if none within WAIT_SECS). Not run in a subshell, so
# the killed member is reaped here, quietly.
FAILOVER_MS=NA
failover() {
    local eps=$1 li t0 deadline i
    FAILOVER_MS=NA
    # A member may still be busy after the previous load (check perf deletes its keys
    # and compacts at its end): ask again until WAIT_SECS.
    deadline=$(($(now_ms) + WAIT_SECS * 1000))
    until li=$(leader_index "$eps"); do
        if (($(now_ms) >= deadline)); then
            echo "failover: no leader found within ${WAIT_SECS}s" >&2
            return
        fi
        sleep 0.2
    done
    local lpid=${MEMBER_PIDS[$((li - 1))]}
    t0=$(now_ms)
    kill -KILL "$lpid"
    wait "$lpid" 2>/dev/null || true
    deadline=$((t0 + WAIT_SECS * 1000))
    while (($(now_ms) < deadline)); do
        for i in 1 2 3; do
            ((i == li)) && continue
            if etcdctl --endpoints="127.0.0.1:$(client_port "$S" "$i")" --dial-timeout=200ms \
                --command-timeout=300ms put compare-failover x >/dev/null 2>&1; then
                FAILOVER_MS=$(($(now_ms) - t0))
                return
            fi
        done
    done
}

# check_perf ENDPOINTS: `etcdctl check perf --load=l`; sets PERF_VERDICT (PASS, FAIL or
# NA) and keeps its output in $LOGDIR/TAG-check-perf.txt.
PERF_VERDICT=NA
check_perf() {
    local eps=$1 out=$LOGDIR/$TAG-check-perf.txt
    PERF_VERDICT=NA
    [[ $CHECK_PERF == 1 ]] || return 0
    say "$TAG: etcdctl check perf --load=l"
    timeout -k 5 "$CHECK_PERF_SECS" etcdctl --endpoints="$eps" check perf --load=l >"$out" 2>&1 || true
    # Its progress bar has no newline before the verdicts; the last word is the verdict.
    PERF_VERDICT=$(tr '\r' '\n' <"$out" | awk 'NF {last=$NF} END {print last}')
    [[ $PERF_VERDICT == PASS || $PERF_VERDICT == FAIL ]] || PERF_VERDICT=NA
}

max_rss_kb() {
    local pid kb max=0
    for pid in "${MEMBER_PIDS[@]}"; do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        ((kb > max)) && max=$kb
    done
    echo "$max"
}

declare -A R
for S in 0 1; do
    if [[ $S == 0 ]]; then TAG=detcd; else TAG=etcd; fi
    EPS=$(endpoints "$S")
    LEADER_ARGS=(--endpoints "$EPS" --target-leader)
    ALL_ARGS=(--endpoints "$EPS")

    if [[ $RSS_ONLY != 1 ]]; then
        say "$TAG: cluster 1 on $EPS"
        start_cluster "$S" "$TAG-1"
        R[$TAG.start]=$(wait_leader "$EPS" || echo NA)
        bench put1 put "${LEADER_ARGS[@]}" --clients 1 --conns 1 \
            --total "$PUT1_TOTAL" --duration "$BENCH_CAP"
        bench put64 put "${LEADER_ARGS[@]}" --clients 64 --conns 8 \
            --total "$PUT_TOTAL" --duration "$BENCH_CAP"
        bench range1 range "${ALL_ARGS[@]}" --clients 1 --conns 1 --consistency l \
            --total "$PUT1_TOTAL" --duration "$BENCH_CAP"
        bench range_l range "${ALL_ARGS[@]}" --clients 64 --conns 8 --consistency l \
            --total "$RANGE_TOTAL" --duration "$BENCH_CAP"
        bench range_s range "${ALL_ARGS[@]}" --clients 64 --conns 8 --consistency s \
            --total "$RANGE_TOTAL" --duration "$BENCH_CAP"
        check_perf "$EPS"
        R[$TAG.perf]=$PERF_VERDICT
        say "$TAG: kill -9 the leader"
        failover "$EPS"
        R[$TAG.failover]=$FAILOVER_MS
        stop_cluster
    fi

    say "$TAG: cluster 2, $RSS_PUTS puts"
    start_cluster "$S" "$TAG-2"
    R[$TAG.start2]=$(wait_leader "$EPS" || echo NA)
    bench rss_puts put "${LEADER_ARGS[@]}" --clients 64 --conns 8 --total "$RSS_PUTS" \
        --duration "$RSS_CAP" --key-space-size "$RSS_PUTS" --sequential-keys --val-size 256
    R[$TAG.rss]=$(max_rss_kb)
    stop_cluster
done

# --- table ---------------------------------------------------------------------------
# j TAG NAME JQ-PATH: a number from a bench's JSON, or NA.
j() { jq -r "($3) // \"NA\" | if type == \"number\" then (. * 100 | round / 100) else . end" "$LOGDIR/$1-$2.json" 2>/dev/null || echo NA; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "NA" }'; }
row() {
    local label=$1 d=$2 e=$3
    printf '%-44s %12s %12s %10s\n' "$label" "$d" "$e" "$(ratio "$d" "$e")"
}
bench_rows() {
    local name=$1 label=$2
    row "$label req/s" "$(j detcd "$name" .requests_per_sec)" "$(j etcd "$name" .requests_per_sec)"
    row "$label p50 ms" "$(j detcd "$name" '.latency_ms.p50')" "$(j etcd "$name" '.latency_ms.p50')"
    row "$label p99 ms" "$(j detcd "$name" '.latency_ms.p99')" "$(j etcd "$name" '.latency_ms.p99')"
    local de ee
    de=$(j detcd "$name" .errors)
    ee=$(j etcd "$name" .errors)
    if [[ $de != 0 || $ee != 0 ]]; then row "$label errors" "$de" "$ee"; fi
}
# verdict RATIO OP LIMIT: PASS when RATIO OP LIMIT holds (OP is >= or <=), MISS when
# not, NA without a ratio.
verdict() {
    awk -v r="$1" -v op="$2" -v lim="$3" 'BEGIN {
        if (r == "NA" || r == "") { print "NA"; exit }
        ok = (op == ">=") ? (r + 0 >= lim + 0) : (r + 0 <= lim + 0)
        print ok ? "PASS" : "MISS"
    }'
}
target_row() {
    local label=$1 d=$2 e=$3 op=$4 lim=$5 r
    r=$(ratio "$d" "$e")
    printf '%-52s %10s %10s %7s %9s  %s\n' "$label" "$d" "$e" "$r" "$op $lim" "$(verdict "$r" "$op" "$lim")"
}
mib() { awk -v k="${1:-0}" 'BEGIN { if (k > 0) printf "%.1f", k / 1024; else print "NA" }'; }
{
    echo
    echo "Targets (detcd/etcd ratio against the goal):"
    printf '%-52s %10s %10s %7s %9s  %s\n' "" "detcd" "etcd" "ratio" "goal" "verdict"
    target_row "put 64 clients/8 conns, leader: req/s" \
        "$(j detcd put64 .requests_per_sec)" "$(j etcd put64 .requests_per_sec)" ">=" 1.5
    target_row "put 64 clients/8 conns, leader: p99 ms" \
        "$(j detcd put64 '.latency_ms.p99')" "$(j etcd put64 '.latency_ms.p99')" "<=" 1
    target_row "put 1 client, leader: p50 ms" \
        "$(j detcd put1 '.latency_ms.p50')" "$(j etcd put1 '.latency_ms.p50')" "<=" 1
    target_row "range l one key, 64 clients/8 conns, all: req/s" \
        "$(j detcd range_l .requests_per_sec)" "$(j etcd range_l .requests_per_sec)" ">=" 2
    target_row "range s one key, 64 clients/8 conns, all: req/s" \
        "$(j detcd range_s .requests_per_sec)" "$(j etcd range_s .requests_per_sec)" ">=" 1.5
    target_row "max member RSS after $RSS_PUTS puts, MiB" \
        "$(mib "${R[detcd.rss]:-0}")" "$(mib "${R[etcd.rss]:-0}")" "<=" 0.5
    target_row "kill -9 leader -> first accepted put, ms" \
        "${R[detcd.failover]:-NA}" "${R[etcd.failover]:-NA}" "<=" 1
    perf_goal=NA
    [[ ${R[detcd.perf]:-NA} == PASS ]] && perf_goal=PASS
    [[ ${R[detcd.perf]:-NA} == FAIL ]] && perf_goal=MISS
    printf '%-52s %10s %10s %7s %9s  %s\n' "etcdctl check perf --load=l" \
        "${R[detcd.perf]:-NA}" "${R[etcd.perf]:-NA}" "" "PASS" "$perf_goal"
    echo
    echo "detcd $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') vs etcd $ETCD_VERSION, 3 members each on 127.0.0.1, $(nproc) cores, load avg $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-44s %12s %12s %10s\n' "" "detcd" "etcd" "detcd/etcd"
    row "start to first leader ms (cluster 1)" "${R[detcd.start]:-NA}" "${R[etcd.start]:-NA}"
    row "start to first leader ms (cluster 2)" "${R[detcd.start2]:-NA}" "${R[etcd.start2]:-NA}"
    bench_rows put1 "put 1 client, leader:"
    bench_rows put64 "put 64 clients/8 conns, leader:"
    bench_rows range1 "range l 1 client:"
    bench_rows range_l "range l 64 clients/8 conns, all:"
    bench_rows range_s "range s 64 clients/8 conns, all:"
    row "kill -9 leader to first put ms" "${R[detcd.failover]:-NA}" "${R[etcd.failover]:-NA}"
    row "max member RSS MiB after $RSS_PUTS puts" "$(mib "${R[detcd.rss]:-0}")" "$(mib "${R[etcd.rss]:-0}")"
    row "  (those puts: req/s)" "$(j detcd rss_puts .requests_per_sec)" "$(j etcd rss_puts .requests_per_sec)"
    echo "Ratios are detcd over etcd: above 1 is more req/s, or more ms/MiB."
    for S in detcd etcd; do
        [[ -f $LOGDIR/$S-check-perf.txt ]] || continue
        echo "$S etcdctl check perf --load=l:"
        # Its verdict lines (the first shares a line with the progress bar) and errors.
        tr '\r' '\n' <"$LOGDIR/$S-check-perf.txt" |
            grep -o -E '(PASS|FAIL|Throughput|Slowest|Stddev|Error).*$' | sed 's/^/  /' || true
    done
    echo "Requests answered per bench (one stopped by its --duration cap, $BENCH_CAP or $RSS_CAP, sent fewer than its --total):"
    for S in detcd etcd; do
        for n in put1 put64 range1 range_l range_s rss_puts; do
            printf '  %s %s: %s ok, %s errors\n' "$S" "$n" "$(j "$S" "$n" .ok)" "$(j "$S" "$n" .errors)"
        done
    done
} | tee "$LOGDIR/table.txt"
