#!/usr/bin/env bash
# CPU time per write of a three-member detcd cluster under `etcdctl check perf
# --load=l` (500 clients, each dialling every member), for A/B comparisons of builds on
# a machine that other work shares: CPU per write moves far less with the machine's
# load than writes per second do.
#
#   scripts/cpu-check-perf.sh VARIANT...
#
# A VARIANT is a detcd binary, optionally followed by comma-separated VAR=VALUE
# settings for the members' environment (as in scripts/cpu-per-request.sh). For each
# round, each variant in turn (interleaved): a fresh cluster on 127.0.0.1, one
# `etcdctl check perf --load=l` against all three members, then the cluster is stopped.
# Over a window in the middle of the run (WINDOW seconds, starting SKIP seconds after
# check perf starts) it counts the writes the leader committed
# (etcd_server_proposals_committed_total) and the utime + stime of each member and of
# etcdctl from /proc/PID/stat, and prints writes/s, the microseconds of CPU per write
# of the leader, each follower, the three together and etcdctl, the load average, and
# check perf's verdict.
#
# Environment: ROUNDS=2 SKIP=10 WINDOW=40 BASE_PORT=24000 (client ports BASE+1..3, peer
# ports BASE+11..13). Bounded: check perf is given 150 s, every wait a deadline; every
# process started here is stopped on exit, by PID.
set -euo pipefail

ROUNDS=${ROUNDS:-2}
SKIP=${SKIP:-10}
WINDOW=${WINDOW:-40}
BASE_PORT=${BASE_PORT:-24000}
WAIT_SECS=20
CHECK_SECS=150

[[ $# -ge 1 ]] || { sed -n '2,22p' "$0"; exit 2; }
for tool in etcdctl curl; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
HZ=$(getconf CLK_TCK)
LOGDIR=$(mktemp -d /tmp/detcd-cpu-perf.XXXXXX)
source "$(dirname "$0")/lib/stop-pids.sh"
source "$(dirname "$0")/lib/members.sh"
PIDS=()
CHECK_PID=

stop_all() {
    [[ -n $CHECK_PID ]] && stop_pids "$CHECK_PID"
    CHECK_PID=
    stop_pids "${PIDS[@]}"
    PIDS=()
}
trap 'stop_all; rm -rf "$LOGDIR/data"; echo "logs: $LOGDIR" >&2' EXIT
trap 'exit 130' INT TERM

# start VARIANT TAG: three fresh members of VARIANT's binary with its settings.
start() {
    start_members_and_wait "$1" "$2" leader_index
}

# leader_index: prints the index (1..3) of the member that says it leads, or fails.
leader_index() {
    local i
    for i in 1 2 3; do
        if curl -s --max-time 1 "http://127.0.0.1:$(client_port "$i")/metrics" |
            grep -q '^etcd_server_is_leader 1'; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

committed() {
    curl -s --max-time 2 "http://127.0.0.1:$(client_port "$1")/metrics" |
        awk '$1 == "etcd_server_proposals_committed_total" {print $2}'
}

# Fields after the parenthesised command name: utime and stime are 12 and 13.
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# measure LABEL TAG: one check perf run; prints its line.
measure() {
    local label=$1 tag=$2 lead i w0 w1 verdict
    local -a m0 m1
    lead=$(leader_index)
    timeout -k 5 "$CHECK_SECS" etcdctl --endpoints="$EPS" check perf --load=l \
        >"$LOGDIR/$tag-check.out" 2>&1 &
    CHECK_PID=$!
    sleep "$SKIP"
    # etcdctl is the child of timeout.
    local ctl
    ctl=$(pgrep -P "$CHECK_PID" | head -1)
    w0=$(committed "$lead")
    for i in 1 2 3; do m0[i]=$(ticks "${PIDS[i - 1]}"); done
    local c0
    c0=$(ticks "$ctl")
    sleep "$WINDOW"
    w1=$(committed "$lead")
    for i in 1 2 3; do m1[i]=$(ticks "${PIDS[i - 1]}"); done
    local c1
    c1=$(ticks "$ctl")
    wait "$CHECK_PID" || true
    CHECK_PID=
    verdict=$(grep -E '^(PASS|FAIL)' "$LOGDIR/$tag-check.out" | grep -i throughput | head -1 || true)
    local per=() f="" total=0 d
    for i in 1 2 3; do
        d=$((m1[i] - m0[i]))
        total=$((total + d))
        if [[ $i == "$lead" ]]; then per[0]=$d; else f+="${f:+ }$d"; fi
    done
    awk -v l="$label" -v w=$((${w1%.*} - ${w0%.*})) -v win="$WINDOW" -v hz="$HZ" \
        -v lead="${per[0]}" -v f="$f" -v t="$total" -v c=$((c1 - c0)) \
        -v load="$(cut -d' ' -f1 /proc/loadavg)" -v v="$verdict" 'BEGIN {
        split(f, fs, " "); us = 1e6 / hz / w
        printf "%-40s %6.0f w/s  members %5.1f us/w (leader %5.1f, followers %5.1f %5.1f)  etcdctl %5.1f  load %s  %s\n",
            l, w / win, t * us, lead * us, fs[1] * us, fs[2] * us, c * us, load, v }'
}

for round in $(seq "$ROUNDS"); do
    n=0
    for variant in "$@"; do
        n=$((n + 1))
        start "$variant" "r$round-v$n"
        measure "$variant" "r$round-v$n"
        stop_all
    done
done
